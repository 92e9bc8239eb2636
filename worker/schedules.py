"""The worker's Temporal Schedules, made to match the settings at every start.

``wms-stock-sync`` starts the ``wms_stock_sync`` workflow every ``OMS_WMS_SYNC_INTERVAL_S``
seconds; a run still going when the next is due makes that one skip. With the interval at
0 the schedule is deleted (runs already started finish): the settings say whether the WMS
is pulled, and a paused schedule left behind would say otherwise.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from oms.domain.stock_level import StockPull
from oms.logging import get_logger
from oms.settings import Settings
from workflows.stock_sync import WmsStockSyncWorkflow

log = get_logger(__name__)

WMS_STOCK_SYNC = "wms-stock-sync"


def wms_stock_sync_schedule(settings: Settings) -> Schedule:
    every = timedelta(seconds=settings.wms_sync_interval_s)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            WmsStockSyncWorkflow.run,
            StockPull(source="wms"),
            id=WMS_STOCK_SYNC,
            task_queue=settings.task_queue,
            # A pull that cannot finish gives way to the next one.
            execution_timeout=max(every, timedelta(minutes=10)),
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        # Missed runs (Temporal or the worker down) are not made up: one pull is as good.
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.SKIP, catchup_window=max(every, timedelta(seconds=10))
        ),
        state=ScheduleState(note="stock levels from the WMS (OMS_WMS_SYNC_INTERVAL_S)"),
    )


async def ensure_wms_stock_sync(client: Client, settings: Settings) -> None:
    """Create or update the schedule to the settings' interval, or delete it at 0."""
    handle = client.get_schedule_handle(WMS_STOCK_SYNC)
    if settings.wms_sync_interval_s <= 0:
        try:
            await handle.delete()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            return
        log.info("schedule_deleted", schedule=WMS_STOCK_SYNC)
        return
    schedule = wms_stock_sync_schedule(settings)
    try:
        await client.create_schedule(WMS_STOCK_SYNC, schedule)
    except ScheduleAlreadyRunningError:

        def replace(current: ScheduleUpdateInput) -> ScheduleUpdate:
            # An operator's pause (in the Web UI or the CLI) stays.
            schedule.state = current.description.schedule.state
            return ScheduleUpdate(schedule=schedule)

        await handle.update(replace)
    log.info("schedule_ready", schedule=WMS_STOCK_SYNC, every_s=settings.wms_sync_interval_s)
