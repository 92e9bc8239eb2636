"""Dispatch a shipment to its warehouse's WMS. Idempotent by shipment id on both sides."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import DISPATCH_REJECTED, business_error
from oms.adapters.wms import WarehouseSystem, WmsRejected, WmsUnavailable
from oms.contract import WarehouseSteps
from oms.domain.messages import DispatchRequest, DispatchResult
from oms.logging import get_logger
from oms.store import shipments

log = get_logger(__name__)


class WarehouseActivities(WarehouseSteps):
    def __init__(self, engine: AsyncEngine, wms: WarehouseSystem) -> None:
        self._engine = engine
        self._wms = wms

    @activity.defn
    async def dispatch_shipment(self, req: DispatchRequest) -> DispatchResult:
        # The shipment row exists before the WMS hears of it, so its webhook always finds it.
        await shipments.create(self._engine, req.shipment_id, req.order_id, req.warehouse_id)
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
