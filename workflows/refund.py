"""A refund on its own (type ``refund``, id ``refund-<refund id>``): goodwill or a price
adjustment an operator gave, with no return (docs/returns.md).

One step, ``refund_payment``, retried without a limit while the gateway is down (the
ledger and the gateway both dedupe by the part's key, so a retry never pays twice); a
refusal is the refund's outcome, and raises an alert for an operator.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from oms.contract import REFUND_WORKFLOW
    from oms.domain.return_messages import RefundInput, RefundOutcome
    from workflows.return_steps import pay_refund


@workflow.defn(name=REFUND_WORKFLOW)
class RefundWorkflow:
    @workflow.run
    async def run(self, inp: RefundInput) -> RefundOutcome:
        return await pay_refund(inp)
