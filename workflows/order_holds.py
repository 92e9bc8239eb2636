"""The order's holds: rules that stop it for a person (value, address, a new customer),
a manual hold, and the wait for approve or reject, with a stale alert and an expiry.

Part of :class:`workflows.order.OrderWorkflow` (``wf``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from oms.domain.holds import MANUAL, RISK_SCORE
    from oms.domain.messages import HoldCheck, HoldView, OperatorAction
    from oms.domain.order_rules import OrderStopped
    from oms.domain.search_attributes import HOLD_REASON, HOLD_REASONS
    from oms.domain.status import OrderStatus

if TYPE_CHECKING:
    from workflows.order import OrderWorkflow

S = OrderStatus


class Holds:
    def __init__(self, wf: OrderWorkflow) -> None:
        self.wf = wf
        self.decision: tuple[str, OperatorAction] | None = None  # approve or reject, and by whom
        self.manual: OperatorAction | None = None  # a hold an operator asked for
        self.address_changed = False  # the hold rules run again before dispatch
        self.rules_due = False  # an edit changed the total: the rules run again too
        # Reasons a sales platform put on the order (a refund asked for, a platform hold),
        # held at the next hold check; empty for every order not from a platform.
        self.requested: list[str] = []

    async def maybe_hold(self, run_rules: bool) -> None:
        """Hold the order for an operator when a rule trips or one asked for it."""
        reasons: list[str] = []
        if run_rules:
            view = self.wf.view
            self.address_changed = False
            self.rules_due = False
            check = HoldCheck(
                view.id, view.customer.id, view.totals.total, view.currency, view.shipping_address
            )
            decision = await self.wf.records.check_holds(check)
            reasons = list(decision.reasons)
            if decision.risk is not None:
                view.risk = decision.risk
        if self.manual is not None:
            reasons.append(MANUAL)
        reasons.extend(r for r in self.requested if r not in reasons)
        if reasons:
            self.wf.stop_if_cancelled()
            await self._hold(reasons)

    async def _hold(self, reasons: list[str]) -> None:
        view = self.wf.view
        resume = S(view.status)
        since = workflow.now()
        timeout = self.wf.inp.hold_timeout_s
        expires = since + timedelta(seconds=timeout) if timeout > 0 else None
        manual = self.manual
        note = manual.reason if manual else None
        view.hold = HoldView(
            reasons, since.isoformat(), expires.isoformat() if expires else None, note=note
        )
        self.decision = None
        self._set_hold_attributes(reasons)
        data: dict[str, Any] = {"reasons": reasons, "expires_at": view.hold.expires_at}
        if RISK_SCORE in reasons and view.risk is not None:
            data["risk"] = {
                "score": view.risk.score,
                "reasons": [r.words for r in view.risk.reasons if r.points > 0],
                "model_version": view.risk.model_version,
            }
        if manual:
            data["by"] = manual.by
        self.wf.record("order_held", S.ON_HOLD, data)
        await self._await_decision(since)
        assert self.decision is not None
        action, by = self.decision
        view.hold.decision = {
            "action": action,
            "by": by.by,
            "at": workflow.now().isoformat(),
            **({"note": by.note} if by.note else {}),
            **({"reason": by.reason} if by.reason else {}),
        }
        self.manual = None
        self.requested = []
        self.rules_due = False  # decided on the order as it stands, edits included
        self._set_hold_attributes([])
        if action == "reject":
            detail = {"by": by.by, "reason": by.reason or by.note or ""}
            raise OrderStopped(S.CANCELLED, "rejected", detail)
        self.wf.record("hold_approved", resume, {"by": by.by, "note": by.note or ""})

    async def _await_decision(self, since: datetime) -> None:
        """Wait for approve or reject; a cancel ends the hold as a cancel; past the hold
        timeout the order is cancelled (``hold_expired``). Past ``hold_stale_s`` an alert
        is raised once, and the hold goes on waiting."""
        timeout, stale = self.wf.inp.hold_timeout_s, self.wf.inp.hold_stale_s
        decided = lambda: self.decision is not None or self.wf.cancel_request is not None  # noqa: E731
        if 0 < stale and (timeout <= 0 or stale < timeout):
            try:
                await workflow.wait_condition(decided, timeout=timedelta(seconds=stale))
            except TimeoutError:
                reasons = self.wf.view.hold.reasons if self.wf.view.hold else []
                await self.wf.alert("hold_stale", {"reasons": reasons, "since": since.isoformat()})
        left = timeout - (workflow.now() - since).total_seconds() if timeout > 0 else None
        try:
            await workflow.wait_condition(
                decided, timeout=timedelta(seconds=max(left, 0.001)) if left is not None else None
            )
        except TimeoutError:
            raise OrderStopped(S.CANCELLED, "hold_expired", {"by": "system"}) from None
        self.wf.stop_if_cancelled()

    def request(self, reason: str) -> None:
        """A platform's reason to hold the order: held at the next hold check, or added
        to the hold it is in."""
        hold = self.wf.view.hold
        if self.wf.view.status == S.ON_HOLD and hold is not None and self.decision is None:
            if reason not in hold.reasons:
                hold.reasons.append(reason)
                self.wf.record("hold_reason_added", None, {"reason": reason})
            return
        if reason not in self.requested:
            self.requested.append(reason)

    def lift(self, reason: str, by: OperatorAction) -> None:
        """The platform's all-clear for ``reason``: not held for it any more; a hold
        that had no other reason is approved."""
        if reason in self.requested:
            self.requested.remove(reason)
        hold = self.wf.view.hold
        if self.wf.view.status != S.ON_HOLD or hold is None or self.decision is not None:
            return
        if reason in hold.reasons:
            hold.reasons.remove(reason)
            if not hold.reasons:
                self.decision = ("approve", by)

    def _set_hold_attributes(self, reasons: list[str]) -> None:
        workflow.upsert_search_attributes(
            [
                HOLD_REASON.value_set(reasons[0]) if reasons else HOLD_REASON.value_unset(),
                HOLD_REASONS.value_set(reasons) if reasons else HOLD_REASONS.value_unset(),
            ]
        )
