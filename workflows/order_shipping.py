"""The order's shipments, followed inside the order: dispatch, partner events, the stock
commit when the goods leave, the capture of what each shipment carries, silence alerts.

Each shipment is handed to its warehouse by the ``dispatch_shipment`` activity; warehouse
and carrier events reach the order as its ``shipment_event`` signal and go to the
shipment's inbox; an event counts only if it moves the parcel forward, so a duplicate or a
late one changes nothing. A refused dispatch is re-routed (``order_stock.Stock.reroute``).

Part of :class:`workflows.order.OrderWorkflow` (``wf``).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from oms.contract import PaymentSteps, WarehouseSteps
    from oms.domain.messages import (
        CommitRequest,
        DispatchRequest,
        PaymentCommand,
        ReleaseRequest,
        ShipmentEvent,
        ShipmentView,
    )
    from oms.domain.money import format_amount
    from oms.domain.order_rules import (
        OrderStopped,
        live,
        settled_payment_status,
        shipment_amount,
        until,
    )
    from oms.domain.status import (
        PARTNER_SHIPMENT_EVENTS,
        SHIPMENT_DONE,
        OrderStatus,
        ShipmentStatus,
        shipment_advances,
    )
    from workflows.options import DISPATCH, MUST_COMPLETE

if TYPE_CHECKING:
    from workflows.order import OrderWorkflow

S = ShipmentStatus


class Shipping:
    def __init__(self, wf: OrderWorkflow) -> None:
        self.wf = wf
        self._inbox: dict[str, list[ShipmentEvent]] = {}
        self._progress: list[ShipmentEvent] = []  # steps of shipments, for the order to apply
        self._failed: list[tuple[str, str]] = []  # refused dispatches: (shipment, error)
        self._trackers: list[asyncio.Task[None]] = []
        # Each followed shipment's last status and when it was reached.
        self._last_event: dict[str, tuple[str, datetime]] = {}
        self.captured: set[str] = set()  # shipments whose capture has been asked for

    async def ship_all(self) -> None:
        """Follow every shipment to its end; a refused one is re-routed, and a backorder
        is filled in new shipments as stock arrives."""
        wf, stock, view = self.wf, self.wf.stock, self.wf.view
        for shipment in list(view.shipments):
            self.start(shipment)
        while stock.missing or any(s.status not in SHIPMENT_DONE for s in view.shipments):
            if stock.missing and stock.expired():
                await stock.expire_backorder()
                continue
            try:
                await workflow.wait_condition(
                    lambda: (
                        bool(self._progress or self._failed)
                        or (bool(stock.missing) and (stock.wake or wf.cancel_request is not None))
                    ),
                    timeout=stock.next_wait() if stock.missing else None,
                )
            except TimeoutError:
                stock.wake = True  # the recheck: look for stock again
            while self._failed:
                await self._shipment_failed(*self._failed.pop(0))
            while self._progress:
                await self._apply(self._progress.pop(0))
            if stock.missing and not live(view.shipments):
                wf.stop_if_cancelled()  # backordered, nothing on its way: cancellable
            if stock.missing and stock.wake:
                stock.wake = False
                for shipment in await stock.refill():
                    self.start(shipment)
        await asyncio.gather(*self._trackers)
        if all(s.status == ShipmentStatus.FAILED for s in view.shipments):
            raise OrderStopped(OrderStatus.FAILED, "dispatch_failed")

    def start(self, shipment: ShipmentView) -> None:
        self._inbox.setdefault(shipment.id, [])
        self._trackers.append(asyncio.create_task(self._track(shipment.id)))

    def deliver(self, event: ShipmentEvent) -> None:
        """A partner's event for one of the order's shipments, into its inbox."""
        inbox = self._inbox.get(event.shipment_id)
        if inbox is None or event.status not in PARTNER_SHIPMENT_EVENTS:
            workflow.logger.warning(
                "shipment event for %s (%s) ignored", event.shipment_id, event.status
            )
            return
        inbox.append(event)

    async def _track(self, shipment_id: str) -> None:
        """Hand the shipment to its warehouse, then follow it to delivery: each partner
        event that moves it forward is applied by the shipping loop; the stock is
        committed once, when the goods have left."""
        wf = self.wf
        shipment = next(s for s in wf.view.shipments if s.id == shipment_id)
        lines, warehouse = shipment.lines, shipment.warehouse_id
        address = wf.view.shipping_address
        status: str = S.DISPATCHED
        if wf.inp.imported is not None and wf.imported.dispatched:
            # On its way before the import: followed, never dispatched nor committed.
            await wf.imported.follow(shipment)
            status = S.SHIPPED
            tracking, carrier = shipment.tracking_number, shipment.carrier
            first = ShipmentEvent(shipment_id, status, tracking_number=tracking, carrier=carrier)
        else:
            try:
                await workflow.execute_activity_method(
                    WarehouseSteps.dispatch_shipment,
                    DispatchRequest(wf.view.id, shipment_id, warehouse, lines, address),
                    **DISPATCH,
                )
            except ActivityError as err:
                self._failed.append((shipment_id, str(err.cause or err)))
                return
            first = ShipmentEvent(shipment_id, S.DISPATCHED)
        self._last_event[shipment_id] = (status, workflow.now())
        self._progress.append(first)
        wf.timers.append(asyncio.create_task(self._watch_silence(shipment_id)))
        inbox = self._inbox[shipment_id]
        while status != S.DELIVERED:
            await workflow.wait_condition(lambda: bool(inbox))
            event = inbox.pop(0)
            if not shipment_advances(status, event.status):
                continue
            if shipment_advances(status, S.SHIPPED) and not shipment_advances(
                event.status, S.SHIPPED
            ):
                commit = CommitRequest(wf.view.id, shipment_id, warehouse, event.occurred_at)
                await wf.records.commit(commit)
            status = event.status
            self._last_event[shipment_id] = (status, workflow.now())
            self._progress.append(event)

    async def _apply(self, event: ShipmentEvent) -> None:
        """A shipment's step on the order: its status, the timeline, and, once the goods
        have left, the capture of what it carries."""
        wf = self.wf
        shipment = next((s for s in wf.view.shipments if s.id == event.shipment_id), None)
        if shipment is None or event.status not in PARTNER_SHIPMENT_EVENTS | {"dispatched"}:
            return
        if not shipment_advances(shipment.status, event.status):
            return
        shipment.status = event.status
        shipment.tracking_number = event.tracking_number or shipment.tracking_number
        shipment.carrier = event.carrier or shipment.carrier
        data = {"shipment_id": shipment.id, "tracking_number": shipment.tracking_number}
        wf.record(f"shipment_{event.status}", wf.implied_status(), data)
        left = not shipment_advances(shipment.status, S.SHIPPED)
        if left and shipment.id not in self.captured:
            if wf.inp.prepaid or wf.inp.imported is not None:
                # The platform (or the old system) took the money: nothing to capture.
                self.captured.add(shipment.id)
                wf.channel.report(shipment)
            else:
                await self._capture(shipment)

    async def _shipment_failed(self, shipment_id: str, error: str) -> None:
        """The warehouse refused the dispatch: release its stock, tell operators, and send
        its lines elsewhere."""
        wf = self.wf
        shipment = next(s for s in wf.view.shipments if s.id == shipment_id)
        if shipment.status in SHIPMENT_DONE:
            return
        shipment.status = S.FAILED
        self._settle()
        reason, warehouse = "dispatch_failed", shipment.warehouse_id
        await wf.records.release(ReleaseRequest(wf.view.id, reason, warehouse, shipment.id))
        data = {"shipment_id": shipment.id, "error": error[:500], "warehouse_id": warehouse}
        wf.record("shipment_failed", wf.implied_status(), data)
        await wf.alert("shipment_refused", data, shipment_id=shipment.id)
        for new in await wf.stock.reroute(shipment):
            self.start(new)

    def _settle(self) -> None:
        payment = self.wf.view.payment
        payment.status = settled_payment_status(
            payment.status, self.wf.view.shipments, self.captured
        )

    async def _capture(self, shipment: ShipmentView) -> None:
        """Charge what this shipment carries, once it has left (key ``<id>-capture-<n>``)."""
        wf, view = self.wf, self.wf.view
        self.captured.add(shipment.id)
        amount = shipment_amount(view.lines, shipment.lines, view.currency)
        part = shipment.id.rsplit("-", 1)[1]
        cmd = PaymentCommand(view.id, "capture", amount, view.currency, part=part)
        try:
            await workflow.execute_activity_method(
                PaymentSteps.capture_payment, cmd, **MUST_COMPLETE
            )
        except ActivityError as err:
            view.payment.status = "capture_failed"
            data = {"shipment_id": shipment.id, "error": str(err.cause)}
            wf.record("payment_capture_failed", None, data)
            await wf.alert("capture_failed", data, shipment_id=shipment.id)
            return
        total = Decimal(view.payment.captured) + Decimal(amount)
        view.payment.captured = format_amount(total, view.currency)
        self._settle()
        wf.record("payment_captured", None, {"amount": amount, "shipment_id": shipment.id})

    async def _watch_silence(self, shipment_id: str) -> None:
        """A shipment not shipped within ``ship_deadline_s`` of its dispatch, or silent in
        transit for ``tracking_silence_s``, raises an alert, once per status; it goes on
        waiting. One timer at a time, set for when the current status would turn silent
        and never cancelled: when it fires the watch looks at what happened meanwhile. A
        shipment that moves along quickly costs one timer, not one per status."""
        inp = self.wf.inp
        alerted: set[str] = set()
        while True:
            status, since = self._last_event[shipment_id]
            if status in (S.DELIVERED, S.FAILED):
                return
            shipped = not shipment_advances(status, S.SHIPPED)
            limit = inp.tracking_silence_s if shipped else inp.ship_deadline_s
            if limit <= 0 or status in alerted:
                await self._until_moved(shipment_id, (status, since))
                continue
            await asyncio.sleep(until(since + timedelta(seconds=limit), workflow.now()))
            if self._last_event[shipment_id] != (status, since):
                continue  # it moved on meanwhile: watch the new status
            alerted.add(status)
            stage = "no_carrier_event" if shipped else "not_shipped"
            detail = {"stage": stage, "status": status, "silent_s": limit}
            await self.wf.alert("shipment_silent", detail, shipment_id=shipment_id)

    async def _until_moved(self, shipment_id: str, seen: tuple[str, datetime]) -> None:
        await workflow.wait_condition(lambda: self._last_event[shipment_id] != seen)
