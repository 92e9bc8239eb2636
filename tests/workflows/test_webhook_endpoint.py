"""The ``webhook.endpoint`` workflow: a thin loop around ``deliver_due``, on the
time-skipping server in the sandbox with a fake activity (the delivery itself is tested on
the real stack in tests/integration/test_events_out.py)."""

from __future__ import annotations

import uuid

from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from oms.codec import data_converter
from oms.contract import WebhookSteps
from oms.events_out.messages import DeliverDue, DeliverDueResult, EndpointRun
from oms.events_out.starter import endpoint_workflow_id
from oms.settings import Settings
from tests.conftest import TEST_PAYLOAD_KEYS
from worker.tuning import worker_options
from workflows.webhook_delivery import LOOPS_PER_RUN, WebhookEndpointWorkflow


class FakeDeliveries(WebhookSteps):
    """Delivers ``stop_after`` times (the third call fails once: a database blip), then
    finds the endpoint disabled."""

    def __init__(self, stop_after: int) -> None:
        self.calls = 0
        self.runs = 0
        self.stop_after = stop_after

    @activity.defn
    async def deliver_due(self, req: DeliverDue) -> DeliverDueResult:
        self.calls += 1
        if self.calls == 3:
            raise RuntimeError("database restarting")
        self.runs += 1
        return DeliverDueResult(attempted=1, delivered=1, stop=self.runs >= self.stop_after)


async def _run(env: WorkflowEnvironment, fake: FakeDeliveries) -> WorkflowHistory:
    """Run the workflow to its end; the history of its first run."""
    queue = f"wh-{uuid.uuid4().hex[:8]}"
    endpoint_id = "ep_" + uuid.uuid4().hex[:24]
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[WebhookEndpointWorkflow],
        activities=[fake.deliver_due],
        **worker_options(Settings(workflow_sandbox=True)),
    ):
        handle = await env.client.start_workflow(
            WebhookEndpointWorkflow.run,
            EndpointRun(endpoint_id),
            id=endpoint_workflow_id(endpoint_id),
            task_queue=queue,
        )
        await handle.result()
        description = await handle.describe()
        assert description.status == WorkflowExecutionStatus.COMPLETED
        history = await handle.fetch_history()
        first = env.client.get_workflow_handle(handle.id, run_id=handle.result_run_id)
        first_history = await first.fetch_history()
    replayer = Replayer(
        workflows=[WebhookEndpointWorkflow], data_converter=data_converter(TEST_PAYLOAD_KEYS)
    )
    replayed = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None, replayed.replay_failure
    return first_history


async def test_the_loop_retries_a_failed_run_and_ends_when_the_endpoint_is_disabled(
    time_skipping,
):
    fake = FakeDeliveries(stop_after=5)
    await _run(time_skipping, fake)
    assert (fake.runs, fake.calls) == (5, 6)  # the third call failed and was retried


async def test_a_long_lived_endpoint_continues_as_new(time_skipping):
    fake = FakeDeliveries(stop_after=LOOPS_PER_RUN + 3)
    first = await _run(time_skipping, fake)
    last = first.events[-1]
    assert last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    continued = last.workflow_execution_continued_as_new_event_attributes
    assert fake.runs == LOOPS_PER_RUN + 3 and continued.new_execution_run_id
