"""Pull sync: read the WMS's stock levels and apply them like ``POST /v1/stock/sync``.

Run by the ``wms_stock_sync`` workflow that the ``wms-stock-sync`` Schedule starts. A retry
reads the levels again and applies them again: what was applied already is stale by then,
and a shortfall alert already open is not raised twice.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from oms.adapters.wms import WarehouseSystem, WmsUnavailable
from oms.contract import StockSyncSteps
from oms.domain.stock_level import StockPull, StockPullResult
from oms.logging import get_logger
from oms.stock_sync import (
    AlertSink,
    InvalidLevel,
    Level,
    apply_levels,
    level_from,
    raise_shortfall_alerts,
)

log = get_logger(__name__)


class StockSyncActivities(StockSyncSteps):
    def __init__(self, engine: AsyncEngine, wms: WarehouseSystem, alerts: AlertSink) -> None:
        self._engine = engine
        self._wms = wms
        self._alerts = alerts

    @activity.defn
    async def pull_wms_stock(self, req: StockPull) -> StockPullResult:
        try:
            items = await self._wms.stock_levels()
        except WmsUnavailable as exc:
            raise ApplicationError(str(exc), type="WmsUnavailable") from exc
        levels: list[Level] = []
        malformed = 0
        for n, item in enumerate(items):
            try:
                levels.append(level_from(item))
            except InvalidLevel as exc:
                malformed += 1
                if malformed <= 10:  # enough to see what is wrong, not one line per item
                    log.warning("wms_level_refused", item=n, reason=str(exc)[:300])
        async with self._engine.begin() as conn:
            report = await apply_levels(conn, levels, req.source)
        shortfalls = await raise_shortfall_alerts(self._alerts, report, req.source)
        superseded = sum(1 for i in report.ignored if i["reason"].startswith("superseded"))
        result = StockPullResult(
            levels=len(items),
            applied=len(report.applied),
            stale=len(report.ignored) - superseded,
            superseded=superseded,
            rejected=len(report.rejected) + malformed,
            shortfalls=shortfalls,
        )
        log.info("wms_stock_pulled", **vars(result))
        return result
