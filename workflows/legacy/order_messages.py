"""FROZEN, part of the legacy ``order`` type (``legacy/order.py``): its signals, updates
and query, moved here verbatim."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from oms.domain.ids import shipment_workflow_id
    from oms.domain.messages import (
        ActionResult,
        AddressChange,
        OperatorAction,
        OrderView,
        ShipmentEvent,
        StockArrival,
    )
    from oms.domain.status import (
        CANCELLABLE,
        SHIPMENT_DONE,
        ShipmentStatus,
    )

from workflows.legacy.order_common import (
    S,
)


class _Messages:
    # --- messages --------------------------------------------------------------------

    def _cancel_refusal(self) -> str | None:
        backordered = self._v_rounds and self.view.status == S.BACKORDERED
        if (self._dispatching and not backordered) or self._stopping:
            return f"order is {self.view.status}; it can no longer be cancelled"
        if S(self.view.status) not in CANCELLABLE:
            return f"order is {self.view.status}; it can no longer be cancelled"
        return None

    @workflow.update(name="request_cancel")
    async def request_cancel(self, action: OperatorAction) -> ActionResult:
        self._cancel = self._cancel or action
        return ActionResult(True, self.view.status)

    @request_cancel.validator
    def _validate_cancel(self, action: OperatorAction) -> None:
        refusal = self._cancel_refusal()
        if refusal:
            raise ValueError(refusal)

    @workflow.signal(name="cancel")
    def cancel(self, action: OperatorAction) -> None:
        if self._cancel_refusal() is None:
            self._cancel = self._cancel or action
        else:
            # Warning, not info: an operator who sent it should find out why nothing happened.
            workflow.logger.warning("cancel signal ignored: %s", self._cancel_refusal())

    def _decision_refusal(self) -> str | None:
        if self.view.status != S.ON_HOLD or self._decision is not None:
            return f"order is {self.view.status}; it is not on hold"
        return None

    def _decide(self, action: str, by: OperatorAction) -> ActionResult:
        if self._decision_refusal() is None:
            self._decision = (action, by)
        return ActionResult(True, self.view.status)

    @workflow.update(name="request_approve")
    async def request_approve(self, action: OperatorAction) -> ActionResult:
        return self._decide("approve", action)

    @request_approve.validator
    def _validate_approve(self, action: OperatorAction) -> None:
        refusal = self._decision_refusal()
        if refusal:
            raise ValueError(refusal)

    @workflow.update(name="request_reject")
    async def request_reject(self, action: OperatorAction) -> ActionResult:
        return self._decide("reject", action)

    @request_reject.validator
    def _validate_reject(self, action: OperatorAction) -> None:
        refusal = self._decision_refusal()
        if refusal:
            raise ValueError(refusal)

    # Signals, for the Web UI's signal dialog and `temporal workflow signal`: the same
    # decision as the API's, ignored (with a warning) when the order is not on hold.
    @workflow.signal(name="approve")
    def approve(self, action: OperatorAction) -> None:
        if self._decision_refusal() is None:
            self._decision = ("approve", action)
        else:
            workflow.logger.warning("approve ignored: %s", self._decision_refusal())

    @workflow.signal(name="reject")
    def reject(self, action: OperatorAction) -> None:
        if self._decision_refusal() is None:
            self._decision = ("reject", action)
        else:
            workflow.logger.warning("reject ignored: %s", self._decision_refusal())

    def _change_refusal(self) -> str | None:
        if not self._v_holds:
            return "this order was started before holds existed; it cannot be held"
        if self._dispatching:
            return f"order is {self.view.status}; it can no longer be cancelled"
        return self._cancel_refusal()

    @workflow.update(name="request_hold")
    async def request_hold(self, action: OperatorAction) -> ActionResult:
        if self.view.status != S.ON_HOLD:
            self._manual_hold = self._manual_hold or action
        return ActionResult(True, self.view.status)

    @request_hold.validator
    def _validate_hold(self, action: OperatorAction) -> None:
        refusal = self._change_refusal()
        if refusal is None and (self._manual_hold is not None or self.view.status == S.ON_HOLD):
            refusal = "the order is on hold already, or a hold was requested"
        if refusal:
            raise ValueError(refusal.replace("cancelled", "held"))

    @workflow.update(name="request_address_change")
    async def request_address_change(self, change: AddressChange) -> ActionResult:
        """A new shipping address until dispatch; the hold rules run again on it."""
        self.view.shipping_address = change.address
        self._address_changed = True
        # No address on the timeline: it is personal data; the order view holds it.
        await self._record("address_changed", None, {"by": change.by})
        return ActionResult(True, self.view.status)

    @request_address_change.validator
    def _validate_address_change(self, change: AddressChange) -> None:
        refusal = self._change_refusal()
        if refusal:
            raise ValueError(refusal.replace("cancelled", "given a new address"))

    @workflow.signal(name="stock_arrived")
    def stock_arrived(self, arrival: StockArrival) -> None:
        """Stock a backorder waits for may have arrived (sent by the worker's waker)."""
        self._wake = True

    @workflow.signal(name="shipment_progress")
    def shipment_progress(self, event: ShipmentEvent) -> None:
        self._progress.append(event)

    @workflow.signal(name="shipment_event")
    async def shipment_event(self, event: ShipmentEvent) -> None:
        """A partner's event for one of the order's shipments (the API sends them here): an
        order started before the lean order hands it to the shipment's own workflow."""
        if not any(s.id == event.shipment_id for s in self.view.shipments):
            workflow.logger.warning("shipment_event for %s ignored", event.shipment_id)
            return
        signal = "warehouse_event" if event.status == ShipmentStatus.SHIPPED else "carrier_event"
        try:
            await workflow.get_external_workflow_handle(
                shipment_workflow_id(event.shipment_id)
            ).signal(signal, event)
        except Exception as err:  # the shipment may have just finished: never fail the order
            workflow.logger.warning(
                "shipment_event for %s not delivered: %s", event.shipment_id, err
            )

    @workflow.signal(name="carrier_event")
    async def carrier_event(self, event: ShipmentEvent) -> None:
        """Operators may post a carrier event to the order; it goes to the shipment."""
        shipment = next((s for s in self.view.shipments if s.id == event.shipment_id), None)
        if not self._dispatching or shipment is None or shipment.status in SHIPMENT_DONE:
            workflow.logger.info("carrier_event for %s ignored", event.shipment_id)
            return
        try:
            await workflow.get_external_workflow_handle(
                shipment_workflow_id(event.shipment_id)
            ).signal("carrier_event", event)
        except Exception as err:  # the shipment may have just finished: never fail the order
            workflow.logger.warning(
                "carrier_event for %s not delivered: %s", event.shipment_id, err
            )

    @workflow.query(name="status")
    def status(self) -> OrderView:
        return self.view
