"""Business failures raised by activities: non-retryable, named by type for the workflow."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

PAYMENT_DECLINED = "PaymentDeclined"
PAYMENT_REJECTED = "PaymentRejected"
OUT_OF_STOCK = "OutOfStock"
DISPATCH_REJECTED = "DispatchRejected"
ORDER_CLOSED = "OrderClosed"


def business_error(kind: str, message: str, *details: object) -> ApplicationError:
    # BENIGN: a declined card or an empty shelf is an outcome, not a fault, so the worker
    # logs it at debug level instead of printing a traceback.
    return ApplicationError(
        message,
        *details,
        type=kind,
        non_retryable=True,
        category=ApplicationErrorCategory.BENIGN,
    )
