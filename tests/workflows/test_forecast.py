"""The ``insights.forecast`` workflow: one ``forecast_demand`` for the run day, the day
taken from the workflow's own clock when the Schedule leaves it empty; on the
time-skipping server in the sandbox with a fake activity (the run itself is tested on the
real stack in tests/integration/test_insights.py)."""

from __future__ import annotations

import uuid

from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from oms.codec import data_converter
from oms.contract import ForecastSteps
from oms.insights.messages import ForecastRun, ForecastRunResult
from oms.settings import Settings
from tests.conftest import TEST_PAYLOAD_KEYS
from worker.tuning import worker_options
from workflows.forecast import ForecastWorkflow


class FakeForecast(ForecastSteps):
    """Answers with the day asked."""

    def __init__(self) -> None:
        self.days: list[str] = []

    @activity.defn
    async def forecast_demand(self, req: ForecastRun) -> ForecastRunResult:
        self.days.append(req.run_date)
        return ForecastRunResult(run_date=req.run_date, series=3, skus=1, pairs=2)


async def _run(env: WorkflowEnvironment, req: ForecastRun) -> tuple[ForecastRunResult, list[str]]:
    fake = FakeForecast()
    queue = f"fc-{uuid.uuid4().hex[:8]}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[ForecastWorkflow],
        activities=[fake.forecast_demand],
        **worker_options(Settings(workflow_sandbox=True)),
    ):
        handle = await env.client.start_workflow(
            ForecastWorkflow.run,
            req,
            id=f"insights-forecast-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )
        result = await handle.result()
        history = await handle.fetch_history()
    replayer = Replayer(
        workflows=[ForecastWorkflow], data_converter=data_converter(TEST_PAYLOAD_KEYS)
    )
    replayed = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None, replayed.replay_failure
    return result, fake.days


async def test_the_schedules_run_takes_its_start_day(time_skipping):
    started = (await time_skipping.get_current_time()).date().isoformat()
    result, days = await _run(time_skipping, ForecastRun())
    assert days == [started]
    assert (result.run_date, result.series) == (started, 3)


async def test_a_day_given_is_the_run_day(time_skipping):
    result, days = await _run(time_skipping, ForecastRun(run_date="2026-11-30"))
    assert days == ["2026-11-30"] and result.run_date == "2026-11-30"
