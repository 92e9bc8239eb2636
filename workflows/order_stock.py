"""The order's stock: reservation rounds, backorders and re-routing.

The first round reserves the whole order (or, where the channel splits shipments, what is
in stock); what stays unreserved is the order's backorder, which waits for stock (woken by
the worker's backorder waker, or by a recheck timer) until its deadline. A shipment the
warehouse refused is re-routed: its lines go to the next best warehouse in a new round.

Part of :class:`workflows.order.OrderWorkflow` (``wf``): it records, alerts and stops the
order through it.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from oms.domain.messages import (
        BackorderView,
        ReleaseRequest,
        ReserveRequest,
        ReserveResult,
        ShipmentView,
        SkuQuantity,
    )
    from oms.domain.order_rules import (
        OrderStopped,
        backorder_wait,
        live,
        merge_lines,
        reserve_failure,
    )
    from oms.domain.status import OrderStatus, ShipmentStatus

if TYPE_CHECKING:
    from workflows.order import OrderWorkflow

S = OrderStatus


class Stock:
    def __init__(self, wf: OrderWorkflow) -> None:
        self.wf = wf
        self.reserved = False  # some stock is reserved for the order
        self.queued = False  # the order may be in the backorder queue
        self.wake = False  # stock arrived (or the recheck timer fired)
        self.missing: list[SkuQuantity] = []  # what is still to reserve (backordered)
        self.refused: set[str] = set()  # warehouses that refused this order's dispatch
        self._round = 0
        self._next_shipment = 1
        self._deadline: datetime | None = None  # the backorder's

    @property
    def next_round(self) -> int:
        return self._round + 1

    @property
    def next_shipment(self) -> int:
        return self._next_shipment

    def took_round(self) -> None:
        """A round reserved outside ``reserve_round`` (an imported order's warehouse)."""
        self._round += 1

    def took_shipment(self) -> None:
        """A shipment placed without a reservation (an imported parcel on its way)."""
        self._next_shipment += 1

    async def reserve_first(self) -> None:
        """The first round. Short of stock: fail (``out_of_stock``), or, where the channel
        backorders, wait for stock; with split shipments allowed, what is in stock ships
        now and the rest waits."""
        wf, inp = self.wf, self.wf.inp
        # An edit in flight finishes first: the round reserves the lines it leaves.
        async with wf.edits.lock:
            demand = [SkuQuantity(line.sku, line.quantity) for line in wf.view.lines]
            result = await self.reserve_round(demand, inp.backorder and inp.split_shipments)
            placed = await self.place(result, "stock_reserved", S.RESERVED)
        while not placed:  # nothing reserved: the whole order waits
            if not self.missing:  # defensive: nothing reserved and nothing waited for
                raise OrderStopped(S.FAILED, "out_of_stock", {"skus": []})
            await self.await_stock()
            wf.stop_if_cancelled()
            result = await self.reserve_round(self.missing, inp.split_shipments)
            placed = await self.place(result, "stock_reserved", S.RESERVED)
            wf.stop_if_cancelled()  # a cancel that came while the round ran

    async def reserve_round(self, lines: list[SkuQuantity], partial: bool) -> ReserveResult:
        """Reserve ``lines`` in new shipments, away from warehouses that refused the order;
        what stays unreserved becomes the order's backorder (or, failing fast on the first
        round, ``out_of_stock``)."""
        wf = self.wf
        self._round += 1
        request = ReserveRequest(
            wf.view.id,
            lines,
            round=self._round,
            first_shipment=self._next_shipment,
            exclude=sorted(self.refused),
            partial=partial,
            backorder=wf.inp.backorder,
        )
        try:
            result = await wf.records.reserve(request)
        except (ActivityError, ApplicationError) as err:
            # A local activity's business failure arrives as the ApplicationError itself.
            failure = err.cause if isinstance(err, ActivityError) else err
            if isinstance(failure, ApplicationError):
                stop = reserve_failure(failure.type, failure.details)
                if stop is not None:
                    raise stop from err
            raise
        if not result.allocations:
            self._round -= 1  # nothing was written: the next try is the same round
        self.queued = self.queued or wf.inp.backorder
        return result

    async def place(
        self, result: ReserveResult, event: str, status: OrderStatus | None, **extra: Any
    ) -> bool:
        """Add the round's shipments to the order and record them; note what is still
        missing. True if anything was reserved."""
        wf, view = self.wf, self.wf.view
        new = [
            ShipmentView(a.shipment_id, a.warehouse_id, ShipmentStatus.PENDING, a.lines)
            for a in result.allocations
        ]
        view.shipments.extend(new)
        self._next_shipment += len(new)
        if new:
            self.reserved = True
        was_missing = bool(self.missing)
        self.missing = list(result.unreserved) if wf.inp.backorder else []
        self._note_backorder(result)
        if new:
            data: dict[str, Any] = {
                **extra,
                "round": self._round,
                "strategy": result.strategy,
                "warehouses": [a.warehouse_id for a in result.allocations],
                "allocations": [asdict(a) for a in result.allocations],
                "candidates": [asdict(c) for c in result.candidates],
            }
            if result.expected_days is not None:
                # What the chosen warehouses are expected to give (docs/intelligence-routing.md).
                data["expected_days"] = result.expected_days
                data["expected_cost"] = result.expected_cost
            if self.refused:
                data["excluded"] = sorted(self.refused)
            wf.record(event, wf.implied_status() or status, data)
        if self.missing and not was_missing:
            assert view.backorder is not None
            data = {
                "lines": [asdict(line) for line in view.backorder.lines],
                "expires_at": view.backorder.expires_at,
            }
            wf.record("order_backordered", wf.implied_status(), data)
        elif was_missing and not self.missing and wf.inp.backorder:
            wf.record("backorder_filled", None, {"round": self._round})
        if not wf.inp.backorder and result.unreserved:
            # Failing fast: lines no warehouse can take (after a refusal) are given up.
            data = {"lines": [asdict(line) for line in result.unreserved]}
            wf.record("reroute_failed", wf.implied_status(), data)
        return bool(new)

    def _note_backorder(self, result: ReserveResult) -> None:
        """The order's backorder as the view shows it, with its deadline (set once)."""
        view = self.wf.view
        if not self.missing:
            view.backorder = None
            self._deadline = None
            return
        since = workflow.now()
        if self._deadline is None:
            timeout = self.wf.inp.backorder_timeout_s
            self._deadline = since + timedelta(seconds=max(timeout, 0.001))
        view.backorder = BackorderView(
            list(result.short or result.unreserved),
            view.backorder.since if view.backorder else since.isoformat(),
            self._deadline.isoformat(),
        )

    def next_wait(self) -> timedelta:
        assert self._deadline is not None
        return backorder_wait(self._deadline, workflow.now(), self.wf.inp.backorder_recheck_s)

    def expired(self) -> bool:
        return self._deadline is not None and workflow.now() >= self._deadline

    async def await_stock(self) -> None:
        """Wait until stock may have arrived (a wake-up, or the recheck timer); a cancel
        ends the wait as a cancel; past the deadline the order is cancelled
        (``backorder_expired``) and its authorization voided."""
        wf = self.wf
        wf.stop_if_cancelled()
        if self.expired():
            raise OrderStopped(S.CANCELLED, "backorder_expired", {"by": "system"})
        try:
            await workflow.wait_condition(
                lambda: self.wake or wf.cancel_request is not None, timeout=self.next_wait()
            )
        except TimeoutError:
            pass
        self.wake = False

    async def refill(self) -> list[ShipmentView]:
        """Stock may have arrived: reserve what the backorder waits for. The new shipments."""
        wf = self.wf
        result = await self.reserve_round(self.missing, wf.inp.split_shipments)
        if result.allocations and not live(wf.view.shipments):
            wf.stop_if_cancelled()
        before = len(wf.view.shipments)
        await self.place(result, "stock_reserved", None)
        return wf.view.shipments[before:]

    async def reroute(self, refused: ShipmentView) -> list[ShipmentView]:
        """Send a refused shipment's lines (with anything already backordered) to the next
        best warehouse with stock; what none can take is backordered or given up. The new
        shipments."""
        wf = self.wf
        self.refused.add(refused.warehouse_id)
        lines = merge_lines(refused.lines, self.missing)
        result = await self.reserve_round(lines, wf.inp.split_shipments)
        before = len(wf.view.shipments)
        extra = {"from_shipment": refused.id, "refused_by": refused.warehouse_id}
        await self.place(result, "shipment_rerouted", None, **extra)
        return wf.view.shipments[before:]

    async def expire_backorder(self) -> None:
        """The backorder's time is up. Nothing on its way: the order is cancelled and its
        authorization voided. Otherwise what waited is given up and the rest goes on."""
        wf = self.wf
        if not live(wf.view.shipments):
            raise OrderStopped(S.CANCELLED, "backorder_expired", {"by": "system"})
        lines = [asdict(line) for line in self.missing]
        await wf.records.release(ReleaseRequest(wf.view.id, "backorder_expired", queue_only=True))
        self.missing = []
        self._deadline = None
        wf.view.backorder = None
        wf.record("backorder_expired", wf.implied_status(), {"lines": lines})
        await wf.alert("backorder_expired", {"lines": lines})

    async def release_all(self, reason: str) -> None:
        """Compensation: every unit reserved or queued for the order goes back."""
        if self.reserved or self.queued:
            await self.wf.records.release(ReleaseRequest(self.wf.view.id, reason))
            self.reserved = False
