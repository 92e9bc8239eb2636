"""The order workflow: ``order-<id>``, from payment to delivery, with compensations.

received -> payment_authorized -> reserved -> dispatched -> (partially_)shipped -> delivered;
payment declined or no stock -> failed; cancel before dispatch -> cancelled. Every change is
recorded through an activity (read model + timeline) and mirrored in ``OrderStatus``.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError
from temporalio.workflow import ChildWorkflowHandle

with workflow.unsafe.imports_passed_through():
    from oms.domain.ids import shipment_id_for, shipment_workflow_id
    from oms.domain.messages import (
        ActionResult,
        OperatorAction,
        OrderInput,
        OrderView,
        PaymentCommand,
        PaymentOutcome,
        RecordEvent,
        ReleaseRequest,
        ReserveRequest,
        ReserveResult,
        ShipmentEvent,
        ShipmentInput,
        ShipmentView,
        SkuQuantity,
        StockChangeResult,
    )
    from oms.domain.money import format_amount, units_value
    from oms.domain.search_attributes import ORDER_STATUS
    from oms.domain.status import (
        CANCELLABLE,
        PARTNER_SHIPMENT_EVENTS,
        SHIPMENT_DONE,
        OrderStatus,
        ShipmentStatus,
        can_transition,
        shipment_advances,
        status_from_shipments,
    )
    from workflows.options import MUST_COMPLETE, authorize_options

S = OrderStatus
# Patch ids: each marks a change of the workflow's commands, so that histories recorded
# before it replay on the old path (see docs/reliability.md).
VOID_UNVERIFIED_AUTHORIZATION = "void-unverified-authorization"


class OrderStopped(Exception):
    """Raised inside the workflow when the order ends early (failed or cancelled)."""

    def __init__(self, status: OrderStatus, reason: str, detail: dict[str, Any] | None = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.detail = detail or {}


def _error_type(err: ActivityError) -> str | None:
    cause = err.cause
    return cause.type if isinstance(cause, ApplicationError) else None


@workflow.defn(name="order")
class OrderWorkflow:
    # @workflow.init: the view exists before any signal, update or query is handled, even
    # one that reaches the workflow in the same task as its start.
    @workflow.init
    def __init__(self, inp: OrderInput) -> None:
        self.view: OrderView = inp.view
        self._token = inp.payment_token
        self._release_delay = inp.release_delay_s
        self._authorize_limit = inp.authorize_limit_s
        self._seq = 0
        self._cancel: OperatorAction | None = None
        self._dispatching = False
        self._stopping = False
        self._authorized = False
        # Authorization ran out of retries without a verdict: the gateway may have
        # authorized all the same (its answer lost), so compensation voids by key.
        self._maybe_authorized = False
        self._reserved = False
        self._progress: list[ShipmentEvent] = []
        self._failed_shipments: list[tuple[str, str]] = []
        self._untracked: set[str] = set()  # shipped, but their tracking workflow ended

    # --- the order's path ------------------------------------------------------------

    @workflow.run
    async def run(self, inp: OrderInput) -> OrderView:
        try:
            self._stop_if_cancelled()
            await self._authorize()
            self._stop_if_cancelled()
            await self._reserve()
            await self._hold_for_release()
            self._stop_if_cancelled()
            # No await between the last cancel check and this flag: from here on the
            # cancel update's validator refuses, so a cancel can never race a dispatch.
            self._dispatching = True
            await self._ship()
            await self._capture()
            await self._record("order_delivered", S.DELIVERED)
        except OrderStopped as stop:
            await self._compensate(stop)
        return self.view

    async def _authorize(self) -> None:
        view = self.view
        cmd = PaymentCommand(
            view.id, "authorize", view.totals.total, view.currency, self._token, view.payment.method
        )
        try:
            await workflow.execute_activity(
                "authorize_payment",
                cmd,
                result_type=PaymentOutcome,
                **authorize_options(self._authorize_limit),
            )
        except ActivityError as err:
            self._stopping = True  # from here a cancel would be refused, not half-honoured
            if _error_type(err) == "PaymentDeclined":
                view.payment.status = "declined"
                raise OrderStopped(S.FAILED, "payment_declined") from err
            # Each failed attempt is already in the ledger as a ``failed`` row.
            view.payment.status = "failed"
            self._maybe_authorized = True
            if self._cancel is not None:
                # A cancel accepted while authorization was still retrying: it is what the
                # operator asked for, so the order ends cancelled, not failed.
                self._stop_if_cancelled()
            raise OrderStopped(S.FAILED, "payment_unavailable") from err
        self._authorized = True
        view.payment.status = "authorized"
        view.payment.authorized = view.totals.total
        await self._record(
            "payment_authorized", S.PAYMENT_AUTHORIZED, {"amount": view.totals.total}
        )

    async def _reserve(self) -> None:
        demand = [SkuQuantity(line.sku, line.quantity) for line in self.view.lines]
        try:
            result = await workflow.execute_activity(
                "reserve_stock",
                ReserveRequest(self.view.id, demand),
                result_type=ReserveResult,
                **MUST_COMPLETE,
            )
        except ActivityError as err:
            if _error_type(err) == "OutOfStock":
                details = err.cause.details if isinstance(err.cause, ApplicationError) else ()
                skus = list(details[0]) if details else []
                raise OrderStopped(S.FAILED, "out_of_stock", {"skus": skus}) from err
            if _error_type(err) == "OrderClosed":
                raise OrderStopped(S.FAILED, "order_closed") from err
            raise
        self._reserved = True
        self.view.shipments = [
            ShipmentView(
                shipment_id_for(self.view.id, n), a.warehouse_id, ShipmentStatus.PENDING, a.lines
            )
            for n, a in enumerate(result.allocations, start=1)
        ]
        await self._record(
            "stock_reserved",
            S.RESERVED,
            {"warehouses": [a.warehouse_id for a in result.allocations]},
        )

    async def _hold_for_release(self) -> None:
        """The cancel window: wait ``release_delay_s`` unless a cancel comes first."""
        if self._release_delay <= 0:
            return  # no timer at all, so histories recorded without the window replay
        try:
            await workflow.wait_condition(
                lambda: self._cancel is not None,
                timeout=timedelta(seconds=self._release_delay),
            )
        except TimeoutError:
            pass

    async def _ship(self) -> None:
        view = self.view
        watchers = []
        for shipment in view.shipments:
            child = await workflow.start_child_workflow(
                "shipment",
                ShipmentInput(
                    view.id, workflow.info().workflow_id, shipment, view.shipping_address
                ),
                id=shipment_workflow_id(shipment.id),
            )
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
        await workflow.execute_activity(
            "release_stock",
            ReleaseRequest(self.view.id, "dispatch_failed", shipment.warehouse_id),
            result_type=StockChangeResult,
            **MUST_COMPLETE,
        )
        implied = status_from_shipments(s.status for s in self.view.shipments)
        data = {"shipment_id": shipment.id, "error": error[:500]}
        await self._record("shipment_failed", implied, data)

    async def _apply_progress(self, event: ShipmentEvent) -> None:
        shipment = next((s for s in self.view.shipments if s.id == event.shipment_id), None)
        if shipment is None or event.status not in PARTNER_SHIPMENT_EVENTS | {"dispatched"}:
            return
        if not shipment_advances(shipment.status, event.status):
            return
        shipment.status = event.status
        shipment.tracking_number = event.tracking_number or shipment.tracking_number
        shipment.carrier = event.carrier or shipment.carrier
        implied = status_from_shipments(s.status for s in self.view.shipments)
        data = {"shipment_id": shipment.id, "tracking_number": shipment.tracking_number}
        await self._record(f"shipment_{event.status}", implied, data)

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

    # --- ending early ----------------------------------------------------------------

    def _stop_if_cancelled(self) -> None:
        if self._cancel is not None:
            detail = {"by": self._cancel.by, "reason": self._cancel.reason or ""}
            raise OrderStopped(S.CANCELLED, "cancelled", detail)

    async def _compensate(self, stop: OrderStopped) -> None:
        view = self.view
        self._stopping = True
        if self._reserved:
            await workflow.execute_activity(
                "release_stock",
                ReleaseRequest(view.id, stop.reason),
                result_type=StockChangeResult,
                **MUST_COMPLETE,
            )
            self._reserved = False
        if self._authorized:
            if await self._void():
                view.payment.status = "voided"
                view.payment.authorized = format_amount(Decimal(0), view.currency)
        elif self._maybe_authorized and workflow.patched(VOID_UNVERIFIED_AUTHORIZATION):
            if await self._void() == "succeeded":
                view.payment.status = "voided"
        if not self._dispatching:
            view.shipments = []  # planned, never handed to a warehouse: there are none
        if stop.status == S.CANCELLED:
            view.cancellation = {k: str(v) for k, v in stop.detail.items()}
        else:
            view.failure_reason = stop.reason
        event = "order_cancelled" if stop.status == S.CANCELLED else "order_failed"
        await self._record(event, stop.status, {"reason": stop.reason, **stop.detail})

    async def _void(self) -> str | None:
        """Void the authorization; the outcome's status, or None if the gateway refused
        the void outright (not a transient fault: those are retried until it answers).
        The order still ends, and the refusal is on the timeline for finance."""
        view = self.view
        cmd = PaymentCommand(view.id, "void", view.totals.total, view.currency)
        try:
            outcome = await workflow.execute_activity(
                "void_payment", cmd, result_type=PaymentOutcome, **MUST_COMPLETE
            )
        except ActivityError as err:
            await self._record("payment_void_failed", None, {"error": str(err.cause)})
            return None
        return str(outcome.status)

    # --- recording -------------------------------------------------------------------

    async def _record(
        self, kind: str, status: OrderStatus | None, data: dict[str, Any] | None = None
    ) -> None:
        data = data or {}
        view = self.view
        if status is not None and status != view.status:
            if not can_transition(S(view.status), status):
                workflow.logger.warning("unexpected transition %s -> %s", view.status, status)
            data = {**data, "from": view.status, "to": status.value}
            view.status = status.value
            workflow.upsert_search_attributes([ORDER_STATUS.value_set(status.value)])
        view.updated_at = workflow.now().isoformat()
        self._seq += 1
        await workflow.execute_activity(
            "record_order_event", RecordEvent(self._seq, kind, view, data), **MUST_COMPLETE
        )

    # --- messages --------------------------------------------------------------------

    def _cancel_refusal(self) -> str | None:
        if self._dispatching or self._stopping or S(self.view.status) not in CANCELLABLE:
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

    @workflow.update(name="request_approve")
    async def request_approve(self, action: OperatorAction) -> ActionResult:
        return ActionResult(False, self.view.status)

    @request_approve.validator
    def _validate_approve(self, action: OperatorAction) -> None:
        raise ValueError(f"order is {self.view.status}; it is not on hold")

    @workflow.update(name="request_reject")
    async def request_reject(self, action: OperatorAction) -> ActionResult:
        return ActionResult(False, self.view.status)

    @request_reject.validator
    def _validate_reject(self, action: OperatorAction) -> None:
        raise ValueError(f"order is {self.view.status}; it is not on hold")

    @workflow.signal(name="approve")
    def approve(self, action: OperatorAction) -> None:
        workflow.logger.info("approve ignored: order is not on hold")

    @workflow.signal(name="reject")
    def reject(self, action: OperatorAction) -> None:
        workflow.logger.info("reject ignored: order is not on hold")

    @workflow.signal(name="shipment_progress")
    def shipment_progress(self, event: ShipmentEvent) -> None:
        self._progress.append(event)

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
