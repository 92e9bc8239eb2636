"""What the API's order actions share: how long a workflow update may take to be decided,
and how the workflow's refusal is answered (409, with its own words)."""

from __future__ import annotations

from temporalio.client import WorkflowUpdateFailedError

from api.errors import Problem
from oms.domain.status import OrderStatus

# How long an operator action waits for the order's workflow to decide.
UPDATE_TIMEOUT_S = 5.0


def refusal(exc: WorkflowUpdateFailedError, status: OrderStatus) -> Problem:
    """The workflow's validator refused the update: 409 with its reason."""
    message = str(getattr(exc.cause, "message", exc.cause))
    return Problem(409, message, kind="invalid-state", order_status=status.value)
