"""The sandbox setting: the tests' workers run workflow code in the Temporal sandbox, which
refuses what a deterministic workflow must not do; the default worker runs without it (a
third of its CPU), so the tests are where such code is caught."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import RestrictedWorkflowAccessError

from oms.settings import Settings
from tests.integration.sandbox_probe import ClockReadingWorkflow
from worker.tuning import worker_options


async def _run_probe(env: WorkflowEnvironment, settings: Settings) -> str:
    queue = f"sandbox-{uuid.uuid4().hex[:8]}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[ClockReadingWorkflow],
        workflow_failure_exception_types=[RestrictedWorkflowAccessError],
        **worker_options(settings),
    ):
        return await env.client.execute_workflow(
            ClockReadingWorkflow.run, id=f"probe-{queue}", task_queue=queue
        )


def test_the_default_worker_runs_without_the_sandbox_and_the_tests_in_it(settings: Settings):
    assert isinstance(worker_options(Settings())["workflow_runner"], UnsandboxedWorkflowRunner)
    assert settings.workflow_sandbox
    assert "workflow_runner" not in worker_options(settings)  # the SDK's sandbox


async def test_the_tests_sandbox_refuses_a_workflow_that_reads_the_clock(
    temporal_env: WorkflowEnvironment, settings: Settings
):
    with pytest.raises(WorkflowFailureError) as caught:
        await _run_probe(temporal_env, settings)
    assert "datetime.datetime.now" in str(caught.value.cause)


async def test_without_the_sandbox_the_same_workflow_runs(temporal_env: WorkflowEnvironment):
    # What the sandbox is there for: unsandboxed, the clock is read and nothing objects.
    assert await _run_probe(temporal_env, Settings(workflow_sandbox=False))
