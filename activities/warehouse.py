"""Dispatch a shipment to its warehouse's WMS. Idempotent by shipment id on both sides."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import DISPATCH_REJECTED, business_error
from oms.adapters.wms import WarehouseSystem, WmsRejected, WmsUnavailable
from oms.contract import WarehouseSteps
from oms.domain.messages import DispatchRequest, DispatchResult
from oms.logging import get_logger

log = get_logger(__name__)

_UPSERT_SHIPMENT = text(
    """
    INSERT INTO shipments (id, order_id, warehouse_id, status, created_at, updated_at)
    VALUES (:id, :order_id, :w, 'pending', now(), now())
    ON CONFLICT (id) DO NOTHING
    """
)


class WarehouseActivities(WarehouseSteps):
    def __init__(self, engine: AsyncEngine, wms: WarehouseSystem) -> None:
        self._engine = engine
        self._wms = wms

    @activity.defn
    async def dispatch_shipment(self, req: DispatchRequest) -> DispatchResult:
        # The shipment row exists before the WMS hears of it, so its webhook always finds it.
        async with self._engine.begin() as conn:
            await conn.execute(
                _UPSERT_SHIPMENT,
                {"id": req.shipment_id, "order_id": req.order_id, "w": req.warehouse_id},
            )
        payload = {
            "shipment_id": req.shipment_id,
            "order_id": req.order_id,
            "warehouse_id": req.warehouse_id,
            "lines": [asdict(line) for line in req.lines],
            "address": asdict(req.address),
        }
        try:
            reference = await self._wms.dispatch(payload)
        except WmsUnavailable as exc:
            raise ApplicationError(str(exc), type="WmsUnavailable") from exc
        except WmsRejected as exc:
            raise business_error(DISPATCH_REJECTED, str(exc)) from exc
        log.info("shipment_dispatched", order_id=req.order_id, shipment_id=req.shipment_id)
        return DispatchResult(reference)
