"""Steps the return and refund workflows share: pay a refund, and raise an alert when the
gateway refused it."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from oms.contract import AlertSteps, RefundSteps
    from oms.domain.messages import AlertRequest
    from oms.domain.return_messages import RefundInput, RefundOutcome
    from workflows.options import MUST_COMPLETE

# A refund retries a gateway that is down without a limit (1 s doubling to a minute):
# the money is owed; a refusal is an outcome, not an error, so nothing stops it but time.
REFUND: workflow.ActivityConfig = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=60),
    ),
}


async def pay_refund(inp: RefundInput) -> RefundOutcome:
    outcome = await workflow.execute_activity_method(RefundSteps.refund_payment, inp, **REFUND)
    if outcome.status != "succeeded":
        detail = {"refund_id": inp.refund_id, "refunded": outcome.refunded}
        if outcome.error:
            detail["error"] = outcome.error[:300]
        await workflow.execute_activity_method(
            AlertSteps.raise_alert,
            AlertRequest(inp.order_id, "refund_failed", detail),
            **MUST_COMPLETE,
        )
    return outcome
