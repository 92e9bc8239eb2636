"""The order workflow (type ``order.batched``): one order, from payment to delivery.

Read ``run`` top to bottom for the order's story:

    receive -> authorize -> hold? -> reserve (or backorder) -> cancel window -> hold?
            -> dispatch -> follow each shipment, capturing what it carries -> delivered

Anything that ends the order early raises :class:`OrderStopped` and the compensations that
apply run (release the stock, void the authorization). The chapters live beside this file,
each one object the workflow holds (no inheritance):

- ``order_records.Records``: every step on the view, the timeline and the read model, and
  the order's own facts (hold rules, stock), through the ``bookkeep`` local activity;
- ``order_stock.Stock``: reservation rounds, backorders and re-routing;
- ``order_shipping.Shipping``: dispatch, partner events, stock commit, capture, alerts.

The rules (statuses, refusals, amounts, waits) are plain functions in
``oms/domain/order_rules.py``. Every change here must replay the recorded histories
(``tests/replay``); see docs/workflow-changes.md before editing.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from oms.contract import (
        LIVE_PATCHES,
        ORDER_WORKFLOW,
        AlertSteps,
        ErrorType,
        PaymentSteps,
        Query,
        Signal,
        Update,
    )
    from oms.domain.messages import (
        ActionResult,
        AddressChange,
        AlertRequest,
        ChannelEvent,
        OperatorAction,
        OrderEdit,
        OrderInput,
        OrderView,
        PaymentCommand,
        ShipmentEvent,
        StockArrival,
    )
    from oms.domain.money import format_amount
    from oms.domain.order_rules import (
        OrderStopped,
        cancel_refusal,
        cancellation,
        change_refusal,
        decision_refusal,
        implied_status,
        until,
    )
    from oms.domain.search_attributes import ORDER_LATE, SLA_DEADLINE
    from oms.domain.status import OrderStatus
    from workflows.options import MUST_COMPLETE, authorize_options
    from workflows.order_channel import Channel
    from workflows.order_edits import Edits
    from workflows.order_holds import Holds
    from workflows.order_import import Imported
    from workflows.order_records import Records
    from workflows.order_shipping import Shipping
    from workflows.order_stock import Stock

S = OrderStatus
# A patch of this type's past, deprecated: every order of this type voids an authorization
# that ran out of retries without a verdict; the marker stays until no open order's
# history lacks it (docs/workflow-changes.md).
VOID_UNVERIFIED_AUTHORIZATION = LIVE_PATCHES[ORDER_WORKFLOW][0]


@workflow.defn(name=ORDER_WORKFLOW)
class OrderWorkflow:
    # @workflow.init: the view exists before any signal, update or query is handled, even
    # one that reaches the workflow in the same task as its start.
    @workflow.init
    def __init__(self, inp: OrderInput) -> None:
        self.inp = inp
        self.view: OrderView = inp.view
        self.records = Records(self.view)
        self.stock = Stock(self)
        self.shipping = Shipping(self)
        self.holds = Holds(self)
        self.channel = Channel(self)
        self.imported = Imported(self)
        self.edits = Edits(self)
        self.cancel_request: OperatorAction | None = None
        self.timers: list[asyncio.Task[None]] = []  # deadlines; the order never waits on them
        # An imported order whose parcel left before the import is past dispatch from the
        # start: a cancel is refused as for any dispatched order.
        self._dispatching = inp.imported is not None and self.imported.dispatched
        self._stopping = False
        self._ended = False
        self._authorized = False
        # Authorization ran out of retries without a verdict: the gateway may have
        # authorized all the same (its answer lost), so compensation voids by key.
        self._maybe_authorized = False

    @workflow.run
    async def run(self, inp: OrderInput) -> OrderView:
        sla = asyncio.create_task(self._watch_sla())
        try:
            self.stop_if_cancelled()
            if inp.awaiting_payment:
                await self.channel.await_payment()
            if inp.shadow:
                await self.channel.decide_in_shadow()
            else:
                await self._fulfil()
        except OrderStopped as stop:
            await self._compensate(stop)
        self._ended = True
        await self.channel.alerts_raised()  # after-sale alerts (platform orders only)
        await sla
        await self.records.flush()  # every step written before the order ends
        return self.view

    # --- the order's steps --------------------------------------------------------------

    async def _fulfil(self) -> None:
        imported = self.inp.imported is not None
        if imported:
            await self.imported.take_over()
        elif self.inp.prepaid:
            await self.channel.record_payment()
        else:
            await self._authorize()
        if imported and self.imported.dispatched:
            self.imported.place_shipment()  # on its way already: followed, nothing reserved
        else:
            self.stop_if_cancelled()
            # An imported order's hold rules do not run (the old system accepted it); an
            # operator's hold still applies.
            await self.holds.maybe_hold(run_rules=not imported)
            if imported:
                await self.imported.reserve()
            else:
                await self.stock.reserve_first()
            await self._cancel_window()
            # A manual hold or a new address that came while stock was being reserved.
            await self.holds.maybe_hold(run_rules=self.holds.address_changed)
            self.stop_if_cancelled()
            # Only an edited order (or one with an edit in flight) enters this loop: it
            # waits for the edit, and runs the hold rules on the new total.
            while self.edits.lock.locked() or self.holds.rules_due:
                async with self.edits.lock:
                    due = self.holds.rules_due
                if due:
                    await self.holds.maybe_hold(run_rules=True)
                self.stop_if_cancelled()
            # No await between the last cancel check and this flag: from here on the
            # cancel update's validator refuses, so a cancel can never race a dispatch,
            # and an edit that waited for the lock finds the order dispatching.
            self._dispatching = True
        await self.shipping.ship_all()
        await self.channel.reports_done()
        self.record("order_delivered", S.DELIVERED)

    async def _authorize(self) -> None:
        view = self.view
        cmd = PaymentCommand(
            view.id,
            "authorize",
            view.totals.total,
            view.currency,
            self.inp.payment_token,
            view.payment.method,
        )
        try:
            await workflow.execute_activity_method(
                PaymentSteps.authorize_payment, cmd, **authorize_options(self.inp.authorize_limit_s)
            )
        except ActivityError as err:
            self._stopping = True  # from here a cancel would be refused, not half-honoured
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type == ErrorType.PAYMENT_DECLINED:
                view.payment.status = "declined"
                raise OrderStopped(S.FAILED, "payment_declined") from err
            # Each failed attempt is already in the ledger as a ``failed`` row.
            view.payment.status = "failed"
            self._maybe_authorized = True
            # A cancel accepted while authorization was still retrying: it is what the
            # operator asked for, so the order ends cancelled, not failed.
            self.stop_if_cancelled()
            raise OrderStopped(S.FAILED, "payment_unavailable") from err
        self._authorized = True
        view.payment.status = "authorized"
        view.payment.authorized = view.totals.total
        self.record("payment_authorized", S.PAYMENT_AUTHORIZED, {"amount": view.totals.total})

    async def _cancel_window(self) -> None:
        """Wait ``release_delay_s`` before dispatch unless a cancel or a hold comes first."""
        if self.inp.release_delay_s <= 0:
            return  # no timer at all
        try:
            await workflow.wait_condition(
                lambda: (
                    self.cancel_request is not None
                    or self.holds.manual is not None
                    or bool(self.holds.requested)
                ),
                timeout=timedelta(seconds=self.inp.release_delay_s),
            )
        except TimeoutError:
            pass

    # --- late orders ----------------------------------------------------------------------

    async def _watch_sla(self) -> None:
        """Durable SLA timers, set once and never cancelled: not dispatched within
        ``sla_dispatch_s`` or not delivered within ``sla_delivery_s`` of the order flags it
        late (timeline, ``OrderLate``, a warning, an alert). The order goes on, and does
        not wait for them to end."""
        created = datetime.fromisoformat(self.view.created_at)
        if self.inp.imported is not None:
            # An imported order's deadlines run from its takeover, not from its creation
            # in the old system; one already dispatched has met its dispatch deadline.
            created = workflow.now()
        if self.inp.sla_dispatch_s > 0 and not self._dispatching:
            deadline = created + timedelta(seconds=self.inp.sla_dispatch_s)
            dispatched = lambda: self._dispatching  # noqa: E731
            self.timers.append(
                asyncio.create_task(self._flag_if_late("dispatch", deadline, dispatched))
            )
        if self.inp.sla_delivery_s > 0:
            self.timers.append(asyncio.create_task(self._watch_delivery(created)))

    async def _watch_delivery(self, created: datetime) -> None:
        deadline = created + timedelta(seconds=self.inp.sla_delivery_s)
        if self.inp.sla_dispatch_s > 0:  # the dispatch deadline was set at the start
            await workflow.wait_condition(lambda: self._dispatching or self._ended)
            if self._ended:
                return
        workflow.upsert_search_attributes([SLA_DEADLINE.value_set(deadline)])
        await self._flag_if_late("delivery", deadline, lambda: False)

    async def _flag_if_late(self, stage: str, deadline: datetime, reached: Any) -> None:
        await asyncio.sleep(until(deadline, workflow.now()))
        if self._ended or reached():
            return
        workflow.logger.warning("order late: not %s by %s", stage, deadline.isoformat())
        workflow.upsert_search_attributes([ORDER_LATE.value_set(True)])
        self.view.late = True
        data = {"stage": stage, "deadline": deadline.isoformat()}
        self.record("order_late", None, data)
        await self.alert("order_late", data)

    # --- ending early ---------------------------------------------------------------------

    def stop_if_cancelled(self) -> None:
        if self.cancel_request is not None:
            by = self.cancel_request
            raise OrderStopped(S.CANCELLED, "cancelled", {"by": by.by, "reason": by.reason or ""})

    async def _compensate(self, stop: OrderStopped) -> None:
        view = self.view
        self._stopping = True
        if self.edits.lock.locked():
            # An edit in flight ends first (an edit waiting behind it is refused now), so
            # the stock it reserved is released with the rest.
            async with self.edits.lock:
                pass
        await self.stock.release_all(stop.reason)
        if self._authorized:
            if await self._void():
                view.payment.status = "voided"
                view.payment.authorized = format_amount(Decimal(0), view.currency)
        elif self._maybe_authorized:
            workflow.deprecate_patch(VOID_UNVERIFIED_AUTHORIZATION)
            if await self._void() == "succeeded":
                view.payment.status = "voided"
        if not self._dispatching:
            view.shipments = []  # planned, never handed to a warehouse: there are none
        view.backorder = None  # nothing waits for stock any more
        if stop.status == S.CANCELLED:
            view.cancellation = cancellation(stop)
        else:
            view.failure_reason = stop.reason
        event = "order_cancelled" if stop.status == S.CANCELLED else "order_failed"
        self.record(event, stop.status, {"reason": stop.reason, **stop.detail})
        if self.inp.imported is not None:
            await self.imported.refund_due(stop.reason)

    async def _void(self) -> str | None:
        """Void the authorization; the outcome's status, or None if the gateway refused
        the void outright (not a transient fault: those are retried until it answers).
        The order still ends, and the refusal is on the timeline for finance."""
        view = self.view
        cmd = PaymentCommand(view.id, "void", view.totals.total, view.currency)
        try:
            outcome = await workflow.execute_activity_method(
                PaymentSteps.void_payment, cmd, **MUST_COMPLETE
            )
        except ActivityError as err:
            self.record("payment_void_failed", None, {"error": str(err.cause)})
            return None
        return str(outcome.status)

    # --- shared by the chapters -------------------------------------------------------------

    @property
    def dispatching(self) -> bool:
        return self._dispatching

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def authorized(self) -> bool:
        return self._authorized

    def record(
        self, kind: str, status: OrderStatus | None, data: dict[str, Any] | None = None
    ) -> None:
        self.records.record(kind, status, data)

    def implied_status(self) -> OrderStatus | None:
        view = self.view
        return implied_status(
            view.shipments, bool(self.stock.missing), self._dispatching, view.status
        )

    async def alert(
        self, kind: str, detail: dict[str, Any], shipment_id: str | None = None
    ) -> None:
        await workflow.execute_activity_method(
            AlertSteps.raise_alert,
            AlertRequest(self.view.id, kind, detail, shipment_id),
            **MUST_COMPLETE,
        )

    # --- messages -------------------------------------------------------------------------

    def _cancel_refusal(self) -> str | None:
        return cancel_refusal(self.view.status, self._dispatching, self._stopping)

    def _decision_refusal(self) -> str | None:
        return decision_refusal(self.view.status, self.holds.decision is not None)

    def _change_refusal(self) -> str | None:
        return change_refusal(self.view.status, self._dispatching, self._stopping)

    @workflow.update(name=Update.CANCEL)
    async def request_cancel(self, action: OperatorAction) -> ActionResult:
        self.cancel_request = self.cancel_request or action
        return ActionResult(True, self.view.status)

    @request_cancel.validator
    def _validate_cancel(self, action: OperatorAction) -> None:
        refuse(self._cancel_refusal())

    @workflow.signal(name=Signal.CANCEL)
    def cancel(self, action: OperatorAction) -> None:
        if self._cancel_refusal() is None:
            self.cancel_request = self.cancel_request or action
        else:
            # Warning, not info: an operator who sent it should find out why nothing happened.
            workflow.logger.warning("cancel signal ignored: %s", self._cancel_refusal())

    @workflow.update(name=Update.APPROVE)
    async def request_approve(self, action: OperatorAction) -> ActionResult:
        return self._decide("approve", action)

    @request_approve.validator
    def _validate_approve(self, action: OperatorAction) -> None:
        refuse(self._decision_refusal())

    @workflow.update(name=Update.REJECT)
    async def request_reject(self, action: OperatorAction) -> ActionResult:
        return self._decide("reject", action)

    @request_reject.validator
    def _validate_reject(self, action: OperatorAction) -> None:
        refuse(self._decision_refusal())

    def _decide(self, action: str, by: OperatorAction) -> ActionResult:
        if self._decision_refusal() is None:
            self.holds.decision = (action, by)
        return ActionResult(True, self.view.status)

    # Signals, for the Web UI's signal dialog and `temporal workflow signal`: the same
    # decision as the API's, ignored (with a warning) when the order is not on hold.
    @workflow.signal(name=Signal.APPROVE)
    def approve(self, action: OperatorAction) -> None:
        self._decide_by_signal("approve", action)

    @workflow.signal(name=Signal.REJECT)
    def reject(self, action: OperatorAction) -> None:
        self._decide_by_signal("reject", action)

    def _decide_by_signal(self, action: str, by: OperatorAction) -> None:
        if self._decision_refusal() is None:
            self.holds.decision = (action, by)
        else:
            workflow.logger.warning("%s ignored: %s", action, self._decision_refusal())

    @workflow.update(name=Update.HOLD)
    async def request_hold(self, action: OperatorAction) -> ActionResult:
        if self.view.status != S.ON_HOLD:
            self.holds.manual = self.holds.manual or action
        return ActionResult(True, self.view.status)

    @request_hold.validator
    def _validate_hold(self, action: OperatorAction) -> None:
        refusal = self._change_refusal()
        if refusal is None and (self.holds.manual is not None or self.view.status == S.ON_HOLD):
            refusal = "the order is on hold already, or a hold was requested"
        refuse(refusal and refusal.replace("cancelled", "held"))

    @workflow.update(name=Update.ADDRESS_CHANGE)
    async def request_address_change(self, change: AddressChange) -> ActionResult:
        """A new shipping address until dispatch; the hold rules run again on it."""
        self.view.shipping_address = change.address
        self.holds.address_changed = True
        # No address on the timeline: it is personal data; the order view holds it.
        self.record("address_changed", None, {"by": change.by})
        return ActionResult(True, self.view.status)

    @request_address_change.validator
    def _validate_address_change(self, change: AddressChange) -> None:
        refusal = self._change_refusal()
        refuse(refusal and refusal.replace("cancelled", "given a new address"))

    @workflow.update(name=Update.EDIT)
    async def request_edit(self, edit: OrderEdit) -> ActionResult:
        """New lines until dispatch: stock and payment follow, all or nothing
        (``workflows/order_edits.py``); the hold rules run again on the new total."""
        return await self.edits.apply(edit)

    @request_edit.validator
    def _validate_edit(self, edit: OrderEdit) -> None:
        self.edits.validate(edit)

    @workflow.signal(name=Signal.STOCK_ARRIVED)
    def stock_arrived(self, arrival: StockArrival) -> None:
        """Stock a backorder waits for may have arrived (sent by the worker's waker)."""
        self.stock.wake = True

    @workflow.signal(name=Signal.SHIPMENT_EVENT)
    async def shipment_event(self, event: ShipmentEvent) -> None:
        """A warehouse's or carrier's event for one of this order's shipments."""
        self.shipping.deliver(event)

    @workflow.signal(name=Signal.CARRIER_EVENT)
    async def carrier_event(self, event: ShipmentEvent) -> None:
        """Operators may post a carrier event to the order (Web UI, CLI)."""
        self.shipping.deliver(event)

    @workflow.signal(name=Signal.CHANNEL_EVENT)
    def channel_event(self, event: ChannelEvent) -> None:
        """The order's sales platform: paid, closed, a refund asked for or withdrawn."""
        self.channel.on_event(event)

    @workflow.query(name=Query.STATUS)
    def status(self) -> OrderView:
        return self.view


def refuse(refusal: str | None) -> None:
    """An update's validator: a refusal reaches the caller as the update's failure."""
    if refusal:
        raise ValueError(refusal)
