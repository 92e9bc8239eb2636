# The previous release's order workflow base class, as it was (commit 1832280), kept so
# that tests/integration/test_deploy.py can run orders on the old build and deploy today's
# over them. Test fixture only: never registered by the worker.
"""The order workflow: ``order-<id>``, from payment to delivery, with compensations.

received -> payment_authorized -> reserved -> dispatched -> (partially_)shipped -> delivered;
payment declined or no stock -> failed; cancel before dispatch -> cancelled. Every change is
recorded through an activity (read model + timeline) and mirrored in ``OrderStatus``.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError
from temporalio.workflow import ChildWorkflowHandle

with workflow.unsafe.imports_passed_through():
    from oms.domain.holds import MANUAL
    from oms.domain.ids import shipment_id_for, shipment_workflow_id
    from oms.domain.messages import (
        ActionResult,
        AddressChange,
        AlertRequest,
        BackorderView,
        HoldCheck,
        HoldDecision,
        HoldView,
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
        StockArrival,
        StockChangeResult,
    )
    from oms.domain.money import format_amount, units_value
    from oms.domain.search_attributes import (
        HOLD_REASON,
        HOLD_REASONS,
        ORDER_LATE,
        ORDER_STATUS,
        SLA_DEADLINE,
    )
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
OPERATOR_HOLDS = "operator-holds"  # hold rules, manual holds, address changes, SLA timers
CAPTURE_PER_SHIPMENT = "capture-per-shipment"  # the customer pays for what has left
# Reservation rounds: re-routing after a refusal, backorders, partial shipment.
BACKORDERS = "backorders-and-rerouting"


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
        self._inp = inp
        self._v_holds = False  # the operator-holds patch applies (set at the start of run)
        self._v_capture = False  # capture-per-shipment applies (likewise)
        self._captured: set[str] = set()  # shipments whose capture has been asked for
        self._decision: tuple[str, OperatorAction] | None = None
        self._manual_hold: OperatorAction | None = None
        self._address_changed = False
        self._ended = False
        self._progress: list[ShipmentEvent] = []
        self._failed_shipments: list[tuple[str, str]] = []
        self._untracked: set[str] = set()  # shipped, but their tracking workflow ended
        # Reservation rounds (the backorders-and-rerouting patch).
        self._v_rounds = False
        self._round = 0
        self._next_shipment = 1
        self._refused: set[str] = set()  # warehouses that refused this order's dispatch
        self._missing: list[SkuQuantity] = []  # what is still to reserve (backordered)
        self._queued = False  # the order may be in the backorder queue
        self._wake = False  # stock arrived (or the recheck timer fired)
        self._backorder_deadline: datetime | None = None
        self._watchers: list[asyncio.Task[None]] = []

    # --- the order's path ------------------------------------------------------------

    def _choose_versions(self) -> None:
        """Which of the workflow's changes apply: each patch is on for orders started after
        it, off when replaying a history recorded before it."""
        self._v_holds = workflow.patched(OPERATOR_HOLDS)
        self._v_capture = workflow.patched(CAPTURE_PER_SHIPMENT)
        self._v_rounds = workflow.patched(BACKORDERS)

    @workflow.run
    async def run(self, inp: OrderInput) -> OrderView:
        return await self._run()

    async def _run(self) -> OrderView:
        self._choose_versions()
        sla = asyncio.create_task(self._watch_sla()) if self._v_holds else None
        try:
            self._stop_if_cancelled()
            await self._authorize()
            self._stop_if_cancelled()
            if self._v_holds:
                await self._maybe_hold(run_rules=True)
            if self._v_rounds:
                await self._reserve_first()
            else:
                await self._reserve()
            await self._hold_for_release()
            if self._v_holds:
                # A manual hold or a new address that came while stock was being reserved.
                await self._maybe_hold(run_rules=self._address_changed)
            self._stop_if_cancelled()
            # No await between the last cancel check and this flag: from here on the
            # cancel update's validator refuses, so a cancel can never race a dispatch.
            self._dispatching = True
            if self._v_rounds:
                await self._ship_rounds()
            else:
                await self._ship()
            if not self._v_capture:
                await self._capture()  # orders from before: one capture at the end
            await self._record("order_delivered", S.DELIVERED)
        except OrderStopped as stop:
            await self._compensate(stop)
        self._ended = True
        if sla is not None:
            await sla  # it sees the end and returns; never cut off mid-record
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
        data: dict[str, Any] = {"warehouses": [a.warehouse_id for a in result.allocations]}
        if result.strategy:  # how they were chosen, and among which
            data["strategy"] = result.strategy
            data["allocations"] = [asdict(a) for a in result.allocations]
            data["candidates"] = [asdict(c) for c in result.candidates]
        await self._record("stock_reserved", S.RESERVED, data)

    async def _hold_for_release(self) -> None:
        """The cancel window: wait ``release_delay_s`` unless a cancel comes first."""
        if self._release_delay <= 0:
            return  # no timer at all, so histories recorded without the window replay
        try:
            await workflow.wait_condition(
                lambda: self._cancel is not None or self._manual_hold is not None,
                timeout=timedelta(seconds=self._release_delay),
            )
        except TimeoutError:
            pass

    # --- reservation rounds: backorders and re-routing ---------------------------------

    async def _reserve_first(self) -> None:
        """The first round. Short of stock: fail (``out_of_stock``), or, where the channel
        backorders, wait for stock; with split shipments allowed, what is in stock ships
        now and the rest waits."""
        demand = [SkuQuantity(line.sku, line.quantity) for line in self.view.lines]
        split = self._inp.backorder and self._inp.split_shipments
        result = await self._reserve_round(demand, split)
        placed = await self._place(result, "stock_reserved", S.RESERVED)
        while not placed:  # nothing reserved: the whole order waits
            if not self._missing:  # defensive: nothing reserved and nothing waited for
                raise OrderStopped(S.FAILED, "out_of_stock", {"skus": []})
            await self._await_stock()
            self._stop_if_cancelled()
            result = await self._reserve_round(self._missing, self._inp.split_shipments)
            placed = await self._place(result, "stock_reserved", S.RESERVED)
            self._stop_if_cancelled()  # a cancel that came while the round ran

    async def _reserve_round(self, lines: list[SkuQuantity], partial: bool) -> ReserveResult:
        """Reserve ``lines`` in new shipments, away from warehouses that refused the order;
        what stays unreserved becomes the order's backorder (or, failing fast on the first
        round, ``out_of_stock``)."""
        self._round += 1
        request = ReserveRequest(
            self.view.id,
            lines,
            round=self._round,
            first_shipment=self._next_shipment,
            exclude=sorted(self._refused),
            partial=partial,
            backorder=self._inp.backorder,
        )
        try:
            result = await self._stock("reserve_stock", request, ReserveResult)
        except (ActivityError, ApplicationError) as err:
            # A local activity's business failure arrives as the ApplicationError itself.
            failure = err.cause if isinstance(err, ActivityError) else err
            kind = failure.type if isinstance(failure, ApplicationError) else None
            if kind == "OutOfStock":
                details = failure.details if isinstance(failure, ApplicationError) else ()
                skus = list(details[0]) if details else []
                raise OrderStopped(S.FAILED, "out_of_stock", {"skus": skus}) from err
            if kind == "OrderClosed":
                raise OrderStopped(S.FAILED, "order_closed") from err
            raise
        if not result.allocations:
            self._round -= 1  # nothing was written: the next try is the same round
        self._queued = self._queued or self._inp.backorder
        return result

    async def _place(
        self, result: ReserveResult, event: str, status: OrderStatus | None, **extra: Any
    ) -> bool:
        """Add the round's shipments to the order and record them; note what is still
        missing. True if anything was reserved."""
        view = self.view
        new = [
            ShipmentView(a.shipment_id, a.warehouse_id, ShipmentStatus.PENDING, a.lines)
            for a in result.allocations
        ]
        view.shipments.extend(new)
        self._next_shipment += len(new)
        if new:
            self._reserved = True
        was_missing = bool(self._missing)
        self._missing = list(result.unreserved) if self._inp.backorder else []
        if self._missing:
            short = result.short or result.unreserved
            since = workflow.now()
            if self._backorder_deadline is None:
                timeout = self._inp.backorder_timeout_s
                self._backorder_deadline = since + timedelta(seconds=max(timeout, 0.001))
            view.backorder = BackorderView(
                list(short),
                view.backorder.since if view.backorder else since.isoformat(),
                self._backorder_deadline.isoformat(),
            )
        else:
            view.backorder = None
            self._backorder_deadline = None
        if new:
            data: dict[str, Any] = {
                **extra,
                "round": self._round,
                "strategy": result.strategy,
                "warehouses": [a.warehouse_id for a in result.allocations],
                "allocations": [asdict(a) for a in result.allocations],
                "candidates": [asdict(c) for c in result.candidates],
            }
            if self._refused:
                data["excluded"] = sorted(self._refused)
            await self._record(event, self._implied_status() or status, data)
        if self._missing and not was_missing:
            data = {
                "lines": [asdict(line) for line in view.backorder.lines],  # type: ignore[union-attr]
                "expires_at": view.backorder.expires_at,  # type: ignore[union-attr]
            }
            await self._record("order_backordered", self._implied_status(), data)
        elif was_missing and not self._missing and self._inp.backorder:
            await self._record("backorder_filled", None, {"round": self._round})
        if not self._inp.backorder and result.unreserved:
            # Failing fast: lines no warehouse can take (after a refusal) are given up.
            data = {"lines": [asdict(line) for line in result.unreserved]}
            await self._record("reroute_failed", self._implied_status(), data)
        return bool(new)

    def _has_live(self) -> bool:
        """Whether any shipment is still on its way (not refused)."""
        return any(s.status != ShipmentStatus.FAILED for s in self.view.shipments)

    def _implied_status(self) -> OrderStatus | None:
        implied = status_from_shipments(s.status for s in self.view.shipments)
        if not self._v_rounds:
            return implied
        if self._missing and not self._has_live():
            return S.BACKORDERED
        if self._missing and implied == S.SHIPPED:
            return S.PARTIALLY_SHIPPED
        if implied is None and self._has_live() and self._dispatching:
            return S.RESERVED if self.view.status == S.BACKORDERED else None
        return implied

    def _stock_wait(self) -> timedelta:
        """Until the next recheck of stock, or the backorder's deadline if sooner."""
        assert self._backorder_deadline is not None
        left = (self._backorder_deadline - workflow.now()).total_seconds()
        recheck = self._inp.backorder_recheck_s
        wait = min(left, recheck) if recheck > 0 else left
        return timedelta(seconds=max(wait, 0.001))

    def _backorder_expired(self) -> bool:
        deadline = self._backorder_deadline
        return deadline is not None and workflow.now() >= deadline

    async def _await_stock(self) -> None:
        """Wait until stock may have arrived (a wake-up, or the recheck timer); a cancel
        ends the wait as a cancel; past the deadline the order is cancelled
        (``backorder_expired``) and its authorization voided."""
        self._stop_if_cancelled()
        if self._backorder_expired():
            raise OrderStopped(S.CANCELLED, "backorder_expired", {"by": "system"})
        try:
            await workflow.wait_condition(
                lambda: self._wake or self._cancel is not None, timeout=self._stock_wait()
            )
        except TimeoutError:
            pass
        self._wake = False

    async def _ship_rounds(self) -> None:
        """Follow every shipment to its end; a refused one is re-routed, and a backorder
        is filled in new shipments as stock arrives."""
        view = self.view
        for shipment in list(view.shipments):
            await self._start_shipment(shipment)
        while self._missing or any(
            s.status not in SHIPMENT_DONE and s.id not in self._untracked for s in view.shipments
        ):
            if self._missing and self._backorder_expired():
                await self._expire_backorder()
                continue
            try:
                await workflow.wait_condition(
                    lambda: (
                        bool(self._progress or self._failed_shipments)
                        or (bool(self._missing) and (self._wake or self._cancel is not None))
                    ),
                    timeout=self._stock_wait() if self._missing else None,
                )
            except TimeoutError:
                self._wake = True  # the recheck: look for stock again
            while self._failed_shipments:
                await self._shipment_failed(*self._failed_shipments.pop(0))
            while self._progress:
                await self._apply_progress(self._progress.pop(0))
            if self._missing and not self._has_live():
                self._stop_if_cancelled()  # backordered, nothing on its way: cancellable
            if self._missing and self._wake:
                self._wake = False
                result = await self._reserve_round(self._missing, self._inp.split_shipments)
                if result.allocations and not self._has_live():
                    self._stop_if_cancelled()
                before = len(view.shipments)
                await self._place(result, "stock_reserved", None)
                for shipment in view.shipments[before:]:
                    await self._start_shipment(shipment)
        await asyncio.gather(*self._watchers)
        if all(s.status == ShipmentStatus.FAILED for s in view.shipments):
            raise OrderStopped(S.FAILED, "dispatch_failed")

    async def _start_shipment(self, shipment: ShipmentView) -> None:
        child = await self._start_child(shipment)
        self._watchers.append(asyncio.create_task(self._watch(shipment.id, child)))

    async def _start_child(self, shipment: ShipmentView) -> ChildWorkflowHandle[Any, Any]:
        """The shipment's own workflow (the ``order`` type; the lean order has none)."""
        timers = self._v_holds  # silence alerts came with the operators' half
        return await workflow.start_child_workflow(
            "shipment",
            ShipmentInput(
                self.view.id,
                workflow.info().workflow_id,
                shipment,
                self.view.shipping_address,
                self._inp.ship_deadline_s if timers else 0.0,
                self._inp.tracking_silence_s if timers else 0.0,
            ),
            id=shipment_workflow_id(shipment.id),
        )

    async def _reroute(self, refused: ShipmentView) -> None:
        """Send a refused shipment's lines (with anything already backordered) to the next
        best warehouse with stock; what none can take is backordered or given up."""
        self._refused.add(refused.warehouse_id)
        lines = _merge(refused.lines, self._missing)
        result = await self._reserve_round(lines, self._inp.split_shipments)
        before = len(self.view.shipments)
        extra = {"from_shipment": refused.id, "refused_by": refused.warehouse_id}
        await self._place(result, "shipment_rerouted", None, **extra)
        for shipment in self.view.shipments[before:]:
            await self._start_shipment(shipment)

    async def _expire_backorder(self) -> None:
        """The backorder's time is up. Nothing on its way: the order is cancelled and its
        authorization voided. Otherwise what waited is given up and the rest goes on."""
        if not self._has_live():
            raise OrderStopped(S.CANCELLED, "backorder_expired", {"by": "system"})
        lines = [asdict(line) for line in self._missing]
        await self._stock(
            "release_stock",
            ReleaseRequest(self.view.id, "backorder_expired", queue_only=True),
            StockChangeResult,
        )
        self._missing = []
        self._backorder_deadline = None
        self.view.backorder = None
        await self._record("backorder_expired", self._implied_status(), {"lines": lines})
        await self._alert("backorder_expired", {"lines": lines})

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

    # --- holds -----------------------------------------------------------------------

    async def _maybe_hold(self, run_rules: bool) -> None:
        """Hold the order for an operator when a rule trips or one asked for it."""
        reasons: list[str] = []
        if run_rules:
            view = self.view
            self._address_changed = False
            check = HoldCheck(
                view.id, view.customer.id, view.totals.total, view.currency, view.shipping_address
            )
            decision = await self._bookkeeping("check_holds", check, HoldDecision)
            reasons = list(decision.reasons)
        if self._manual_hold is not None:
            reasons.append(MANUAL)
        if reasons:
            self._stop_if_cancelled()
            await self._hold(reasons)

    async def _hold(self, reasons: list[str]) -> None:
        view = self.view
        resume = S(view.status)
        since = workflow.now()
        timeout = self._inp.hold_timeout_s
        expires = since + timedelta(seconds=timeout) if timeout > 0 else None
        manual = self._manual_hold
        view.hold = HoldView(
            reasons,
            since.isoformat(),
            expires.isoformat() if expires else None,
            note=manual.reason if manual else None,
        )
        self._decision = None
        self._set_hold_attributes(reasons)
        data: dict[str, Any] = {"reasons": reasons, "expires_at": view.hold.expires_at}
        if manual:
            data["by"] = manual.by
        await self._record("order_held", S.ON_HOLD, data)
        await self._await_decision(since)
        assert self._decision is not None
        action, by = self._decision
        view.hold.decision = {
            "action": action,
            "by": by.by,
            "at": workflow.now().isoformat(),
            **({"note": by.note} if by.note else {}),
            **({"reason": by.reason} if by.reason else {}),
        }
        self._manual_hold = None
        self._set_hold_attributes([])
        if action == "reject":
            detail = {"by": by.by, "reason": by.reason or by.note or ""}
            raise OrderStopped(S.CANCELLED, "rejected", detail)
        await self._record("hold_approved", resume, {"by": by.by, "note": by.note or ""})

    async def _await_decision(self, since: Any) -> None:
        """Wait for approve or reject; a cancel ends the hold as a cancel; past the hold
        timeout the order is cancelled (``hold_expired``). Past ``hold_stale_s`` an alert
        is raised once, and the hold goes on waiting."""
        timeout = self._inp.hold_timeout_s
        stale = self._inp.hold_stale_s
        decided = lambda: self._decision is not None or self._cancel is not None  # noqa: E731
        if 0 < stale and (timeout <= 0 or stale < timeout):
            try:
                await workflow.wait_condition(decided, timeout=timedelta(seconds=stale))
            except TimeoutError:
                reasons = self.view.hold.reasons if self.view.hold else []
                await self._alert("hold_stale", {"reasons": reasons, "since": since.isoformat()})
        left = timeout - (workflow.now() - since).total_seconds() if timeout > 0 else None
        try:
            await workflow.wait_condition(
                decided, timeout=timedelta(seconds=max(left, 0.001)) if left is not None else None
            )
        except TimeoutError:
            raise OrderStopped(S.CANCELLED, "hold_expired", {"by": "system"}) from None
        self._stop_if_cancelled()

    def _set_hold_attributes(self, reasons: list[str]) -> None:
        workflow.upsert_search_attributes(
            [
                HOLD_REASON.value_set(reasons[0]) if reasons else HOLD_REASON.value_unset(),
                HOLD_REASONS.value_set(reasons) if reasons else HOLD_REASONS.value_unset(),
            ]
        )

    # --- late orders and alerts --------------------------------------------------------

    async def _watch_sla(self) -> None:
        """Durable SLA timers: not dispatched within ``sla_dispatch_s`` or not delivered
        within ``sla_delivery_s`` of the order flags it late (timeline, ``OrderLate``, a
        warning, an alert). The order goes on."""
        created = datetime.fromisoformat(self.view.created_at)
        stages = [
            ("dispatch", self._inp.sla_dispatch_s, lambda: self._dispatching),
            ("delivery", self._inp.sla_delivery_s, lambda: False),
        ]
        for stage, limit_s, reached in stages:
            if limit_s <= 0:
                continue
            deadline = created + timedelta(seconds=limit_s)
            workflow.upsert_search_attributes([SLA_DEADLINE.value_set(deadline)])
            left = (deadline - workflow.now()).total_seconds()
            try:
                await workflow.wait_condition(
                    lambda done=reached: self._ended or done(),  # type: ignore[misc]
                    timeout=timedelta(seconds=max(left, 0.001)),
                )
            except TimeoutError:
                await self._flag_late(stage, deadline)
            if self._ended:
                return

    async def _flag_late(self, stage: str, deadline: Any) -> None:
        workflow.logger.warning("order late: not %s by %s", stage, deadline.isoformat())
        workflow.upsert_search_attributes([ORDER_LATE.value_set(True)])
        self.view.late = True
        data = {"stage": stage, "deadline": deadline.isoformat()}
        await self._record("order_late", None, data)
        await self._alert("order_late", data)

    async def _alert(
        self, kind: str, detail: dict[str, Any], shipment_id: str | None = None
    ) -> None:
        await workflow.execute_activity(
            "raise_alert",
            AlertRequest(self.view.id, kind, detail, shipment_id),
            result_type=int,
            **MUST_COMPLETE,
        )

    # --- ending early ----------------------------------------------------------------

    def _stop_if_cancelled(self) -> None:
        if self._cancel is not None:
            detail = {"by": self._cancel.by, "reason": self._cancel.reason or ""}
            raise OrderStopped(S.CANCELLED, "cancelled", detail)

    async def _compensate(self, stop: OrderStopped) -> None:
        view = self.view
        self._stopping = True
        if self._reserved or self._queued:
            await self._stock(
                "release_stock", ReleaseRequest(view.id, stop.reason), StockChangeResult
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
        data, moved = self._take_step(status, data)
        if moved:
            workflow.upsert_search_attributes([ORDER_STATUS.value_set(self.view.status)])
        self._seq += 1
        await self._bookkeeping("record_order_event", self._record_of(kind, data), None)

    def _take_step(
        self, status: OrderStatus | None, data: dict[str, Any] | None
    ) -> tuple[dict[str, Any], bool]:
        """Apply a step to the view: its status (``from``/``to`` in the step's data) and
        ``updated_at``. Returns the step's data and whether the status moved."""
        data = data or {}
        view = self.view
        moved = status is not None and status != view.status
        if status is not None and moved:
            if not can_transition(S(view.status), status):
                workflow.logger.warning("unexpected transition %s -> %s", view.status, status)
            data = {**data, "from": view.status, "to": status.value}
            view.status = status.value
        view.updated_at = workflow.now().isoformat()
        return data, moved

    def _record_of(self, kind: str, data: dict[str, Any]) -> RecordEvent:
        return RecordEvent(self._seq, kind, self.view, data)

    async def _stock(self, name: str, arg: Any, result_type: type) -> Any:
        """A stock step on our own database (reserve, release, commit): an activity here, a
        local activity in the lean order."""
        return await workflow.execute_activity(name, arg, result_type=result_type, **MUST_COMPLETE)

    async def _bookkeeping(self, name: str, arg: Any, result_type: type | None) -> Any:
        """A step that reads or records the order's own facts (the read model, the
        timeline, the hold rules): an activity here, a local activity in the lean order."""
        return await workflow.execute_activity(name, arg, result_type=result_type, **MUST_COMPLETE)

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


def _merge(*groups: list[SkuQuantity]) -> list[SkuQuantity]:
    units: dict[str, int] = {}
    for group in groups:
        for line in group:
            units[line.sku] = units.get(line.sku, 0) + line.quantity
    return [SkuQuantity(sku, q) for sku, q in units.items()]
