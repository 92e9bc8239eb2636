"""Timeouts and retry policies for every activity call, in one place.

Business failures are non-retryable ApplicationError types raised by the activities;
everything else (gateway down, database restart) is retried with backoff.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy
from temporalio.workflow import ActivityConfig

NON_RETRYABLE = [
    "PaymentDeclined",
    "PaymentRejected",
    "OutOfStock",
    "DispatchRejected",
    "OrderClosed",
]


def _backoff(initial_s: float, max_s: float) -> RetryPolicy:
    """Retry with doubling waits, without a limit on attempts; business failures stop it."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=initial_s),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=max_s),
        non_retryable_error_types=NON_RETRYABLE,
    )


def authorize_options(limit_s: float) -> ActivityConfig:
    """Authorization retries a gateway that is down or slow (each attempt visible in the
    Web UI with its last error) for ``limit_s`` in all, then the order fails as
    ``payment_unavailable``: a customer's order should not wait on a gateway for ever."""
    return {
        "start_to_close_timeout": timedelta(seconds=15),
        "schedule_to_close_timeout": timedelta(seconds=max(limit_s, 1.0)),
        "retry_policy": _backoff(1, 30),
    }


# Steps that must eventually happen (compensations, capture, stock, read model) retry
# without a limit on attempts; only a business failure stops them.
MUST_COMPLETE: ActivityConfig = {
    "start_to_close_timeout": timedelta(seconds=15),
    "retry_policy": _backoff(1, 30),
}

DISPATCH: ActivityConfig = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": _backoff(2, 60),
}
