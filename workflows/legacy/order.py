"""FROZEN. The first order workflow (type ``order``), kept only for the orders that
started as it: every new order of the first releases (histories ``v1-*`` to ``v5-*``) ran
it, each shipment in a ``shipment`` child (``legacy/shipment.py``), with the patches below
choosing each history's path. Nothing new starts as it; delete it (with ``shipment``) once
``oms workflows drain`` counts no open ``order`` execution (docs/workflow-changes.md). Do
not edit: a change here changes how running orders replay.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from oms.domain.ids import shipment_id_for
    from oms.domain.messages import (
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
        ShipmentView,
        SkuQuantity,
        StockChangeResult,
    )
    from oms.domain.money import format_amount
    from oms.domain.search_attributes import (
        ORDER_STATUS,
    )
    from oms.domain.status import (
        OrderStatus,
        ShipmentStatus,
        can_transition,
    )
    from workflows.options import MUST_COMPLETE, authorize_options
from workflows.legacy.order_common import (
    BACKORDERS,
    CAPTURE_PER_SHIPMENT,
    OPERATOR_HOLDS,
    VOID_UNVERIFIED_AUTHORIZATION,
    OrderStopped,
    S,
    _error_type,
)
from workflows.legacy.order_holds import _Holds
from workflows.legacy.order_messages import _Messages
from workflows.legacy.order_rounds import _Rounds
from workflows.legacy.order_shipping import _Shipping


@workflow.defn(name="order")
class LegacyOrderWorkflow(_Rounds, _Shipping, _Holds, _Messages):
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
