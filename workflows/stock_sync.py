"""Pull the WMS's stock levels once; started by the ``wms-stock-sync`` Schedule.

One activity: a run that fails is simply followed by the next one the Schedule starts, so
the retries are few and short, and levels read long ago are never applied late.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from oms.contract import STOCK_SYNC_WORKFLOW, StockSyncSteps
    from oms.domain.stock_level import StockPull, StockPullResult

PULL: workflow.ActivityConfig = {
    "start_to_close_timeout": timedelta(minutes=2),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=10),
        maximum_attempts=3,
    ),
}


@workflow.defn(name=STOCK_SYNC_WORKFLOW)
class WmsStockSyncWorkflow:
    @workflow.run
    async def run(self, req: StockPull) -> StockPullResult:
        return await workflow.execute_activity_method(StockSyncSteps.pull_wms_stock, req, **PULL)
