"""Timeouts and retry policies for every activity call, in one place.

Business failures are non-retryable ApplicationError types raised by the activities;
everything else (gateway down, database restart) is retried with backoff.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

NON_RETRYABLE = [
    "PaymentDeclined",
    "PaymentRejected",
    "OutOfStock",
    "DispatchRejected",
    "OrderClosed",
]

# Authorization gives up after ~2 minutes: the order fails as payment_unavailable rather
# than waiting on a gateway outage with the customer's goods unreserved.
AUTHORIZE = {
    "start_to_close_timeout": timedelta(seconds=15),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=8,
        non_retryable_error_types=NON_RETRYABLE,
    ),
}

# Steps that must eventually happen (compensations, capture, stock, read model) retry
# without a limit on attempts; only a business failure stops them.
MUST_COMPLETE = {
    "start_to_close_timeout": timedelta(seconds=15),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        non_retryable_error_types=NON_RETRYABLE,
    ),
}

DISPATCH = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=2),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=60),
        non_retryable_error_types=NON_RETRYABLE,
    ),
}
