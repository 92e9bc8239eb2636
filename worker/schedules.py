"""The worker's Temporal Schedules, made to match the settings at every start.

``insights-forecast`` starts the ``insights.forecast`` workflow every night at
``OMS_FORECAST_HOUR_UTC`` (docs/intelligence-forecast.md); -1 deletes it.

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
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from oms.domain.stock_level import StockPull
from oms.insights.messages import ForecastRun
from oms.logging import get_logger
from oms.settings import Settings
from workflows.forecast import ForecastWorkflow
from workflows.stock_sync import WmsStockSyncWorkflow

log = get_logger(__name__)

WMS_STOCK_SYNC = "wms-stock-sync"
FORECAST_SCHEDULE = "insights-forecast"


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


def forecast_schedule(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ForecastWorkflow.run,
            ForecastRun(),  # the run day: the workflow's own start day
            id=FORECAST_SCHEDULE,
            task_queue=settings.task_queue,
            execution_timeout=timedelta(hours=2),
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    hour=[ScheduleRange(settings.forecast_hour_utc)],
                    minute=[ScheduleRange(0)],
                    second=[ScheduleRange(0)],
                    comment="every night",
                )
            ],
            time_zone_name="UTC",
        ),
        # A night missed (Temporal or the worker down) is made up within the day; two runs
        # never overlap.
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(hours=12)
        ),
        state=ScheduleState(note="demand forecasts and stock-out alerts (OMS_FORECAST_HOUR_UTC)"),
    )


async def ensure_forecast_schedule(client: Client, settings: Settings) -> None:
    """Create or update the nightly schedule to the settings' hour, or delete it at -1."""
    handle = client.get_schedule_handle(FORECAST_SCHEDULE)
    if settings.forecast_hour_utc < 0:
        try:
            await handle.delete()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            return
        log.info("schedule_deleted", schedule=FORECAST_SCHEDULE)
        return
    schedule = forecast_schedule(settings)
    try:
        await client.create_schedule(FORECAST_SCHEDULE, schedule)
    except ScheduleAlreadyRunningError:

        def replace(current: ScheduleUpdateInput) -> ScheduleUpdate:
            schedule.state = current.description.schedule.state  # a pause stays
            return ScheduleUpdate(schedule=schedule)

        await handle.update(replace)
    log.info("schedule_ready", schedule=FORECAST_SCHEDULE, hour_utc=settings.forecast_hour_utc)
