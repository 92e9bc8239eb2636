"""The nightly demand forecast; started by the ``insights-forecast`` Schedule (a trigger
of the Schedule in the Web UI runs it at once; ``oms insights forecast`` does the same run
without Temporal).

One activity, for the run day: the Schedule's input leaves the day empty and the
workflow takes its own start day (UTC), which a replay reads back the same. The activity
replaces the day's forecasts and raises each stock-out alert once, so a retry is safe.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from oms.contract import FORECAST_WORKFLOW, ForecastSteps
    from oms.insights.messages import ForecastRun, ForecastRunResult

FORECAST: workflow.ActivityConfig = {
    "start_to_close_timeout": timedelta(minutes=30),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=10),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=5),
        maximum_attempts=5,
    ),
}


@workflow.defn(name=FORECAST_WORKFLOW)
class ForecastWorkflow:
    @workflow.run
    async def run(self, req: ForecastRun) -> ForecastRunResult:
        day = req.run_date or workflow.now().date().isoformat()
        return await workflow.execute_activity_method(
            ForecastSteps.forecast_demand, ForecastRun(run_date=day), **FORECAST
        )
