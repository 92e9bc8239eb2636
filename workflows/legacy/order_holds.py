"""FROZEN, part of the legacy ``order`` type (``legacy/order.py``): holds, late orders and
alerts, moved here verbatim."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from oms.domain.holds import MANUAL
    from oms.domain.messages import (
        AlertRequest,
        HoldCheck,
        HoldDecision,
        HoldView,
    )
    from oms.domain.search_attributes import (
        HOLD_REASON,
        HOLD_REASONS,
        ORDER_LATE,
        SLA_DEADLINE,
    )
    from workflows.options import MUST_COMPLETE

from workflows.legacy.order_common import (
    OrderStopped,
    S,
)


class _Holds:
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
