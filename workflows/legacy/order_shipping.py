"""FROZEN, part of the legacy ``order`` type (``legacy/order.py``): shipments followed in
``shipment`` children, and the capture, moved here verbatim."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ChildWorkflowError
from temporalio.workflow import ChildWorkflowHandle

with workflow.unsafe.imports_passed_through():
    from oms.domain.messages import (
        PaymentCommand,
        PaymentOutcome,
        ReleaseRequest,
        ShipmentEvent,
        ShipmentView,
        StockChangeResult,
    )
    from oms.domain.money import format_amount, units_value
    from oms.domain.status import (
        PARTNER_SHIPMENT_EVENTS,
        SHIPMENT_DONE,
        ShipmentStatus,
        shipment_advances,
    )
    from workflows.options import MUST_COMPLETE

from workflows.legacy.order_common import (
    OrderStopped,
    S,
)


class _Shipping:
    async def _ship(self) -> None:
        view = self.view
        watchers = []
        for shipment in view.shipments:
            child = await self._start_child(shipment)
            watchers.append(asyncio.create_task(self._watch(shipment.id, child)))
        while any(
            s.status not in SHIPMENT_DONE and s.id not in self._untracked for s in view.shipments
        ):
            await workflow.wait_condition(lambda: bool(self._progress or self._failed_shipments))
            while self._failed_shipments:
                await self._shipment_failed(*self._failed_shipments.pop(0))
            while self._progress:
                await self._apply_progress(self._progress.pop(0))
        await asyncio.gather(*watchers)
        if all(s.status == ShipmentStatus.FAILED for s in view.shipments):
            raise OrderStopped(S.FAILED, "dispatch_failed")

    async def _watch(self, shipment_id: str, child: ChildWorkflowHandle[Any, Any]) -> None:
        """Turn a shipment workflow that fails (e.g. the WMS refused it) into an event."""
        try:
            await child
        except ChildWorkflowError as err:
            self._failed_shipments.append((shipment_id, str(err.cause or err)))

    async def _shipment_failed(self, shipment_id: str, error: str) -> None:
        shipment = next(s for s in self.view.shipments if s.id == shipment_id)
        if shipment.status in SHIPMENT_DONE:
            return
        if not shipment_advances(shipment.status, ShipmentStatus.SHIPPED):
            # The goods had left (say an operator terminated the tracking): the shipment
            # keeps its last known status and counts as shipped; only the tracking is lost.
            self._untracked.add(shipment.id)
            data = {"shipment_id": shipment.id, "error": error[:500]}
            await self._record("shipment_tracking_lost", None, data)
            return
        shipment.status = ShipmentStatus.FAILED
        if self._v_capture:
            self._settle_payment_status()
        only = shipment.id if self._v_rounds else None
        await self._stock(
            "release_stock",
            ReleaseRequest(self.view.id, "dispatch_failed", shipment.warehouse_id, only),
            StockChangeResult,
        )
        data = {"shipment_id": shipment.id, "error": error[:500]}
        if self._v_rounds:
            data["warehouse_id"] = shipment.warehouse_id
        await self._record("shipment_failed", self._implied_status(), data)
        if self._v_holds:
            await self._alert("shipment_refused", data, shipment_id=shipment.id)
        if self._v_rounds:
            await self._reroute(shipment)

    async def _apply_progress(self, event: ShipmentEvent) -> None:
        shipment = next((s for s in self.view.shipments if s.id == event.shipment_id), None)
        if shipment is None or event.status not in PARTNER_SHIPMENT_EVENTS | {"dispatched"}:
            return
        if not shipment_advances(shipment.status, event.status):
            return
        shipment.status = event.status
        shipment.tracking_number = event.tracking_number or shipment.tracking_number
        shipment.carrier = event.carrier or shipment.carrier
        data = {"shipment_id": shipment.id, "tracking_number": shipment.tracking_number}
        await self._record(f"shipment_{event.status}", self._implied_status(), data)
        left = not shipment_advances(shipment.status, ShipmentStatus.SHIPPED)
        if self._v_capture and left and shipment.id not in self._captured:
            await self._capture_shipment(shipment)

    def _settle_payment_status(self) -> None:
        """``captured`` once every shipment that was not refused is paid for."""
        payment = self.view.payment
        if payment.status == "capture_failed" or not self._captured:
            return
        live = [s for s in self.view.shipments if s.status != ShipmentStatus.FAILED]
        every = all(s.id in self._captured for s in live)
        payment.status = "captured" if every else "partially_captured"

    async def _capture_shipment(self, shipment: ShipmentView) -> None:
        """Charge what this shipment carries, once it has left (key ``<id>-capture-<n>``)."""
        view = self.view
        self._captured.add(shipment.id)
        prices = [(line.sku, Decimal(line.unit_price)) for line in view.lines]
        units = [(line.sku, line.quantity) for line in shipment.lines]
        amount = format_amount(units_value(prices, units), view.currency)
        part = shipment.id.rsplit("-", 1)[1]
        cmd = PaymentCommand(view.id, "capture", amount, view.currency, part=part)
        try:
            await workflow.execute_activity(
                "capture_payment", cmd, result_type=PaymentOutcome, **MUST_COMPLETE
            )
        except ActivityError as err:
            view.payment.status = "capture_failed"
            data = {"shipment_id": shipment.id, "error": str(err.cause)}
            await self._record("payment_capture_failed", None, data)
            await self._alert("capture_failed", data, shipment_id=shipment.id)
            return
        total = Decimal(view.payment.captured) + Decimal(amount)
        view.payment.captured = format_amount(total, view.currency)
        self._settle_payment_status()
        await self._record("payment_captured", None, {"amount": amount, "shipment_id": shipment.id})

    async def _capture(self) -> None:
        view = self.view
        amount = self._shipped_value()
        cmd = PaymentCommand(view.id, "capture", amount, view.currency)
        try:
            await workflow.execute_activity(
                "capture_payment", cmd, result_type=PaymentOutcome, **MUST_COMPLETE
            )
        except ActivityError as err:
            # The goods are with the customer: the order still completes, and the failed
            # capture is on the timeline and the ledger for finance to chase.
            view.payment.status = "capture_failed"
            await self._record("payment_capture_failed", None, {"error": str(err.cause)})
            if self._v_holds:
                await self._alert("capture_failed", {"error": str(err.cause)[:300]})
            return
        view.payment.status = "captured"
        view.payment.captured = amount
        await self._record("payment_captured", None, {"amount": amount})

    def _shipped_value(self) -> str:
        """The total less what failed shipments would have carried."""
        view = self.view
        unshipped = [
            (line.sku, line.quantity)
            for s in view.shipments
            if s.status == ShipmentStatus.FAILED
            for line in s.lines
        ]
        prices = [(line.sku, Decimal(line.unit_price)) for line in view.lines]
        amount = Decimal(view.totals.total) - units_value(prices, unshipped)
        return format_amount(amount, view.currency)
