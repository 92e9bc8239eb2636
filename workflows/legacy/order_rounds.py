"""FROZEN, part of the legacy ``order`` type (``legacy/order.py``): reservation rounds,
backorders and re-routing, moved here verbatim."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ChildWorkflowHandle

with workflow.unsafe.imports_passed_through():
    from oms.domain.ids import shipment_workflow_id
    from oms.domain.messages import (
        BackorderView,
        ReleaseRequest,
        ReserveRequest,
        ReserveResult,
        ShipmentInput,
        ShipmentView,
        SkuQuantity,
        StockChangeResult,
    )
    from oms.domain.status import (
        SHIPMENT_DONE,
        OrderStatus,
        ShipmentStatus,
        status_from_shipments,
    )

from workflows.legacy.order_common import (
    OrderStopped,
    S,
    _merge,
)


class _Rounds:
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
