"""Follow a parcel the OMS did not hand over itself (an imported order's shipment, already
on its way): its shipment row, then the carrier asked for its events. Idempotent: the row
by shipment id, the carrier's registration by tracking number."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import business_error
from oms.adapters.carrier import Carrier, CarrierRejected, CarrierUnavailable
from oms.contract import CarrierSteps, ErrorType
from oms.domain.messages import FollowRequest
from oms.logging import get_logger
from oms.store import shipments

log = get_logger(__name__)


class CarrierActivities(CarrierSteps):
    def __init__(self, engine: AsyncEngine, carrier: Carrier) -> None:
        self._engine = engine
        self._carrier = carrier

    @activity.defn
    async def follow_shipment(self, req: FollowRequest) -> None:
        # The row, with its tracking number, before the carrier hears of it: its first
        # event always finds the shipment.
        await shipments.create_shipped(
            self._engine,
            req.shipment_id,
            req.order_id,
            req.warehouse_id,
            req.tracking_number,
            req.carrier or None,
        )
        try:
            await self._carrier.follow(req.tracking_number, req.carrier)
        except CarrierUnavailable as exc:
            raise ApplicationError(str(exc), type="CarrierUnavailable") from exc
        except CarrierRejected as exc:
            # Not the order's end: the parcel is on its way whatever the carrier's API says
            # (the order raises an alert and waits for events posted by hand).
            raise business_error(ErrorType.CARRIER_REFUSED, str(exc)) from exc
        log.info("shipment_followed", order_id=req.order_id, shipment_id=req.shipment_id)
