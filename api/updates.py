"""What the API's order actions share: how long a workflow update may take to be decided,
how the workflow's refusal is answered (409, with its own words), and what an accepted
action's answer says follows."""

from __future__ import annotations

from typing import Any

from temporalio.client import WorkflowUpdateFailedError

from api.errors import Problem
from oms.domain.status import OrderStatus

# How long an operator action waits for the order's workflow to decide.
UPDATE_TIMEOUT_S = 5.0


def refusal(exc: WorkflowUpdateFailedError, status: OrderStatus) -> Problem:
    """The workflow's validator refused the update: 409 with its reason."""
    message = str(getattr(exc.cause, "message", exc.cause))
    return Problem(409, message, kind="invalid-state", order_status=status.value)


# What follows an action the order's workflow accepted: the status the order reaches once
# the workflow has carried it out (None: it keeps its status, or that depends on the
# order), and what the workflow does on the way. The 202 answer carries the order as it is
# at that moment, most often still in the status it was in.
FOLLOWS: dict[str, tuple[OrderStatus | None, str]] = {
    "cancel": (
        OrderStatus.CANCELLED,
        "the order's workflow cancels it at its next step, most often at once: reserved "
        "stock released, payment voided",
    ),
    "reject": (
        OrderStatus.CANCELLED,
        "the hold ends: the order's workflow releases its reserved stock, voids its payment "
        "and cancels it as rejected, within seconds",
    ),
    "approve": (
        None,
        "the hold ends: the order goes on from where it was held (stock, then dispatch)",
    ),
    "hold": (
        OrderStatus.ON_HOLD,
        "the order is held for a decision (approve or reject) at its next step, before dispatch",
    ),
    "edit": (
        None,
        "done: the order has its new lines, with its stock reserved and its payment "
        "authorized for them; the hold rules run on the new total before dispatch and may "
        "hold it",
    ),
    "address": (
        None,
        "the order ships to the new address; the hold rules run on it again before dispatch "
        "and may hold it",
    ),
}


def accepted_action(action: str, by: str, at_status: str) -> dict[str, Any]:
    """``accepted_action`` of a 202 answer: what was accepted, in which status, and what
    follows (see ``FOLLOWS``)."""
    outcome, follows = FOLLOWS[action]
    return {
        "action": action,
        "by": by,
        "at_status": at_status,
        "outcome": outcome.value if outcome else None,
        "next": follows,
    }
