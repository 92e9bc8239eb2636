"""A return (type ``return``, id ``return-<return id>``): some of an order's delivered
units coming back, from the customer's request to its resolution (docs/returns.md).

    requested -> approved (the return window, or an operator) | rejected
              -> label and warehouse notice -> received (each line counted, or
                 counted missing once the receive timeout passes)
              -> resolved: refund | exchange | store credit | none -> closed

Its own workflow, not a child of the order's (which ended at delivery). Operators decide
through the validated updates ``approve_return`` / ``reject_return`` (refused once the
return is decided); the warehouse's counts arrive as ``return_line_received`` signals
from the API's ``POST /v1/return-events``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from oms.contract import RETURN_WORKFLOW, ReturnMessage, ReturnSteps
    from oms.domain.messages import ActionResult, OperatorAction
    from oms.domain.return_messages import (
        ReceiveRequest,
        RefundInput,
        ResolveRequest,
        ReturnInput,
        ReturnLabelRequest,
        ReturnLineReceived,
        ReturnRecord,
    )
    from oms.domain.returns import Resolution, ReturnStatus
    from workflows.options import MUST_COMPLETE
    from workflows.return_steps import pay_refund

R = ReturnStatus
WINDOW = "return window"


@workflow.defn(name=RETURN_WORKFLOW)
class ReturnWorkflow:
    @workflow.init
    def __init__(self, inp: ReturnInput) -> None:
        self.inp = inp
        self.status = R.REQUESTED
        self.decision: tuple[bool, OperatorAction] | None = None
        self.received: dict[str, ReturnLineReceived] = {}

    @workflow.run
    async def run(self, inp: ReturnInput) -> str:
        data = {
            "lines": [{"sku": x.sku, "quantity": x.quantity} for x in inp.lines],
            "resolution": inp.resolution,
        }
        await self._record(R.REQUESTED, "return_opened", data)
        if inp.auto_approve:
            self.decision = (True, OperatorAction(WINDOW))
        await workflow.wait_condition(lambda: self.decision is not None)
        assert self.decision is not None
        approved, action = self.decision
        decided = {"by": action.by}
        if not approved:
            self.status = R.REJECTED
            await self._record(R.REJECTED, "return_rejected", decided, action)
            return self.status
        self.status = R.APPROVED
        await self._record(R.APPROVED, "return_approved", decided, action)
        label = ReturnLabelRequest(inp.return_id, inp.order_id, inp.warehouse_id, inp.lines)
        await workflow.execute_activity_method(
            ReturnSteps.send_return_label, label, **MUST_COMPLETE
        )
        skus = {x.sku for x in inp.lines}
        try:
            await workflow.wait_condition(
                lambda: skus <= set(self.received),
                timeout=timedelta(seconds=inp.receive_timeout_s) if inp.receive_timeout_s else None,
            )
        except TimeoutError:
            pass  # what never arrived is missing
        counts = [
            self.received.get(x.sku) or ReturnLineReceived(x.sku, missing=x.quantity)
            for x in inp.lines
        ]
        receipt = await workflow.execute_activity_method(
            ReturnSteps.receive_return,
            ReceiveRequest(inp.return_id, inp.order_id, inp.warehouse_id, counts),
            **MUST_COMPLETE,
        )
        self.status = R.RECEIVED
        resolution = await workflow.execute_activity_method(
            ReturnSteps.resolve_return,
            ResolveRequest(inp.return_id, inp.order_id, inp.resolution, receipt.accepted),
            **MUST_COMPLETE,
        )
        closed: dict[str, Any] = {"resolution": inp.resolution, "amount": resolution.amount}
        if inp.resolution == Resolution.REFUND and resolution.refund_id:
            outcome = await pay_refund(RefundInput(resolution.refund_id, inp.order_id))
            closed |= {"refund_id": outcome.refund_id, "refund_status": outcome.status}
            closed["amount"] = outcome.refunded
        if resolution.exchange_order_id:
            closed["exchange_order_id"] = resolution.exchange_order_id
        self.status = R.CLOSED
        await self._record(R.CLOSED, "return_closed", closed)
        return self.status

    async def _record(
        self,
        status: ReturnStatus,
        type_: str,
        data: Mapping[str, Any],
        action: OperatorAction | None = None,
    ) -> None:
        record = ReturnRecord(
            self.inp.return_id,
            self.inp.order_id,
            status.value,
            type_,
            dict(data),
            decided_by=action.by if action else None,
            decision_note=(action.note or action.reason) if action else None,
        )
        await workflow.execute_activity_method(ReturnSteps.record_return, record, **MUST_COMPLETE)

    # --- what operators and the warehouse send --------------------------------------------

    @workflow.update(name=ReturnMessage.APPROVE)
    async def approve(self, action: OperatorAction) -> ActionResult:
        self.decision = (True, action)
        return ActionResult(True, self.status)

    @approve.validator
    def _validate_approve(self, action: OperatorAction) -> None:
        self._undecided()

    @workflow.update(name=ReturnMessage.REJECT)
    async def reject(self, action: OperatorAction) -> ActionResult:
        self.decision = (False, action)
        return ActionResult(True, self.status)

    @reject.validator
    def _validate_reject(self, action: OperatorAction) -> None:
        self._undecided()

    def _undecided(self) -> None:
        if self.decision is not None:
            by = self.decision[1].by
            verdict = "approved" if self.decision[0] else "rejected"
            raise ValueError(f"the return was {verdict} already (by {by})")

    @workflow.signal(name=ReturnMessage.LINE_RECEIVED)
    def line_received(self, line: ReturnLineReceived) -> None:
        """The warehouse counted a returned SKU; the first count of each SKU stands."""
        asked = any(x.sku == line.sku for x in self.inp.lines)
        if asked and self.decision is not None and self.decision[0]:
            self.received.setdefault(line.sku, line)
