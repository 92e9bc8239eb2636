"""The operator actions on one order, as both the API's routes and the console take them:
approve, reject and cancel (``act``), a manual hold and a new shipping address (``hold``,
``change_address``), and the console's "retry now" of a partner step that keeps failing
(``retrying_steps``, ``retry_now``).

Each takes the order's read-model row (found, and checked visible to the caller, by the
caller) and the Temporal client, and answers a ``Taken``: the body of the 202 answer (the
order as it stands, with ``accepted_action`` or ``pending_action``) and its headers. A
refusal is a ``Problem``: 409 when the order's state does not allow the action (the
workflow's own words), 503 with ``Retry-After`` when Temporal did not answer, in both
cases with nothing done.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.workflowservice.v1 import PauseActivityRequest, UnpauseActivityRequest
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.converter import value_to_type
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import Problem
from api.orders_read import live_view
from api.updates import UPDATE_TIMEOUT_S, accepted_action, refusal
from oms.contract import ORDER_WITH_SHIPMENT_CHILDREN, ErrorType
from oms.domain import edits
from oms.domain.ids import order_workflow_id, shipment_workflow_id
from oms.domain.messages import ActionResult, AddressChange, OperatorAction, OrderEdit, OrderView
from oms.domain.status import CANCELLABLE, TERMINAL, OrderStatus, never_started
from oms.order_start import start_order
from oms.settings import Settings
from workflows.order import OrderWorkflow

PAST = {
    "cancel": "cancelled",
    "approve": "approved",
    "reject": "rejected",
    "hold": "held",
    "address": "given a new address",
    "edit": "edited",
    "retry": "retried",
}
# Each decision as the order workflow's update, and as its signal for an update that no
# worker decided in time (the same names on every order type, current or legacy).
_UPDATES = {
    "cancel": OrderWorkflow.request_cancel,
    "approve": OrderWorkflow.request_approve,
    "reject": OrderWorkflow.request_reject,
}
_SIGNALS = {
    "cancel": OrderWorkflow.cancel,
    "approve": OrderWorkflow.approve,
    "reject": OrderWorkflow.reject,
}
DECISIONS = tuple(_UPDATES)


@dataclass
class Taken:
    """An action the order's workflow accepted (or, ``pending_action``, will decide)."""

    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def acting(key_name: str, by: str | None) -> str:
    """Who acted, as the timeline shows it: the person named in the request (``by``) and
    the key it came with, or the key's name alone."""
    return f"{by} (key {key_name})" if by and by != key_name else key_name


def not_taken(action: str) -> Problem:
    """Temporal is down or unreachable: the action was not taken."""
    return Problem(
        503,
        f"the workflow engine did not answer; nothing was {PAST[action]}, retry shortly",
        kind="temporal-unavailable",
        headers={"Retry-After": "5"},
        dependency="temporal",
    )


def _invalid_state(status: OrderStatus, what: str) -> Problem:
    return Problem(
        409,
        f"order is {status}; it can no longer be {what}",
        kind="invalid-state",
        order_status=status.value,
    )


def allowed(action: str, status: str) -> bool:
    """Whether the order's status lets the action be asked at all (the workflow decides
    the rest: a decision needs a hold, a change needs the order not yet dispatched)."""
    current = OrderStatus(status)
    if current in TERMINAL:
        return False
    if action == "cancel":
        return current in CANCELLABLE
    if action in ("approve", "reject"):
        return current is OrderStatus.ON_HOLD
    if action == "hold":
        return current in CANCELLABLE and current is not OrderStatus.ON_HOLD
    if action == "address":
        return current in CANCELLABLE
    if action == "edit":  # a backordered order keeps its lines (docs/edits.md)
        return current in CANCELLABLE and current is not OrderStatus.BACKORDERED
    return True


# Approve, reject, cancel ---------------------------------------------------------------


async def act(
    action: str, row: Any, request: OperatorAction, client: Client, settings: Settings
) -> Taken:
    """Approve, reject or cancel the order of ``row`` (``action``), as ``request.by``."""
    status = OrderStatus(row.status)
    if status in TERMINAL or (action == "cancel" and status not in CANCELLABLE):
        raise _invalid_state(status, PAST[action])
    handle = client.get_workflow_handle(order_workflow_id(row.id))
    try:
        # The SDK types an async update's result as its coroutine; it is the ActionResult.
        result = cast(
            ActionResult,
            await handle.execute_update(
                _UPDATES[action], request, rpc_timeout=timedelta(seconds=UPDATE_TIMEOUT_S)
            ),
        )
    except WorkflowUpdateFailedError as exc:
        raise refusal(exc, status) from exc
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        # Temporal took the request but no worker decided in time (a stalled or busy
        # worker). The update may still be applied when a worker picks it up; the signal
        # makes that certain and durable, so the honest answer is "accepted, pending".
        return await _pending(action, handle, request, row)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            if action == "cancel" and never_started(row.status, row.last_seq):
                return await _cancel_unstarted(client, settings, row, request)
            raise Problem(
                409, "the order's workflow is no longer running", kind="invalid-state"
            ) from exc
        raise not_taken(action) from exc
    return await _accepted(client, row, action, request.by, result.status)


async def _accepted(client: Client, row: Any, action: str, by: str, at_status: str) -> Taken:
    view = await live_view(client, row)
    return Taken({**view, "accepted_action": accepted_action(action, by, at_status)})


async def _pending(
    action: str, handle: WorkflowHandle[Any, Any], request: OperatorAction, row: Any
) -> Taken:
    try:
        await handle.signal(
            _SIGNALS[action], request, rpc_timeout=timedelta(seconds=UPDATE_TIMEOUT_S)
        )
    except RPCError as exc:
        raise not_taken(action) from exc
    body = {
        **dict(row.view),
        "pending_action": {
            "action": action,
            "by": request.by,
            "detail": f"the order's workflow has not answered yet; the {action} is recorded "
            "and takes effect when it does, if the order still allows it then "
            "(follow GET /v1/orders/{id} or its events)",
        },
    }
    return Taken(body, {"Retry-After": "5"})


async def _cancel_unstarted(
    client: Client, settings: Settings, row: Any, request: OperatorAction
) -> Taken:
    """Cancel an order recorded while Temporal was unreachable, whose workflow was never
    started: start it with the cancel already delivered, so it cancels before any step
    and a later start by the recovery sweep finds it existing."""
    view = value_to_type(OrderView, row.view, [])
    try:
        await start_order(client, settings, view, row.payment_token or "", cancel=request)
    except (RPCError, TimeoutError) as exc:
        raise not_taken("cancel") from exc
    return await _accepted(client, row, "cancel", request.by, row.status)


# A manual hold, a new address ----------------------------------------------------------


async def _update(client: Client, row: Any, update: Any, arg: Any, what: str) -> str:
    """Send the update (a method of the order workflow); the order's status when its
    workflow accepted it."""
    status = OrderStatus(row.status)
    if status in TERMINAL:
        raise Problem(409, f"order is {status}; it can no longer be {what}", kind="invalid-state")
    handle = client.get_workflow_handle(order_workflow_id(row.id))
    try:
        result: ActionResult = await handle.execute_update(
            update, arg, rpc_timeout=timedelta(seconds=UPDATE_TIMEOUT_S)
        )
    except WorkflowUpdateFailedError as exc:
        raise refusal(exc, status) from exc
    except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
        raise Problem(
            503,
            "the order did not answer in time; the change may still be applied when it does: "
            "read the order before sending it again",
            kind="temporal-unavailable",
            headers={"Retry-After": "5"},
            dependency="temporal",
        ) from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise Problem(409, "the order's workflow is not running", kind="invalid-state") from exc
        raise
    return result.status


async def hold(client: Client, row: Any, action: OperatorAction) -> Taken:
    """Hold the order for a decision (reason ``manual``; ``action.reason`` is the hold's
    note) while it can still be cancelled."""
    at = await _update(client, row, OrderWorkflow.request_hold, action, PAST["hold"])
    return await _accepted(client, row, "hold", action.by, at)


async def change_address(client: Client, row: Any, change: AddressChange) -> Taken:
    """A new shipping address until dispatch; the hold rules run again on it."""
    update = OrderWorkflow.request_address_change
    at = await _update(client, row, update, change, PAST["address"])
    return await _accepted(client, row, "address", change.by, at)


# An edit of the lines ---------------------------------------------------------------------

# An edit waits for its payment and stock steps (each bounded to about ten seconds).
EDIT_TIMEOUT_S = 30.0


async def edit(client: Client, row: Any, change: OrderEdit) -> Taken:
    """The order's complete new lines until dispatch, with its stock and payment, all or
    nothing. Refused: 409 with the workflow's reason (``out_of_stock`` with the SKUs),
    or 503 with ``Retry-After`` when the gateway or the database gave no answer in time;
    in every case nothing changed."""
    status = OrderStatus(row.status)
    if status in TERMINAL:
        raise Problem(
            409,
            f"order is {status}; it is closed and can no longer be edited",
            kind="invalid-state",
            order_status=status.value,
            reason=edits.CANCELLED if status is OrderStatus.CANCELLED else edits.CLOSED,
        )
    handle = client.get_workflow_handle(order_workflow_id(row.id))
    try:
        # The SDK types an async update's result as its coroutine; it is the ActionResult.
        result = cast(
            ActionResult,
            await handle.execute_update(
                OrderWorkflow.request_edit, change, rpc_timeout=timedelta(seconds=EDIT_TIMEOUT_S)
            ),
        )
    except WorkflowUpdateFailedError as exc:
        raise edit_refusal(exc, status) from exc
    except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
        raise Problem(
            503,
            "the order did not answer in time; the edit may still be applied when it does: "
            "read the order before sending it again",
            kind="temporal-unavailable",
            headers={"Retry-After": "5"},
            dependency="temporal",
        ) from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise Problem(409, "the order's workflow is not running", kind="invalid-state") from exc
        raise not_taken("edit") from exc
    return await _accepted(client, row, "edit", change.by, result.status)


def edit_refusal(exc: WorkflowUpdateFailedError, status: OrderStatus) -> Problem:
    """The workflow refused the edit: its reason code and words, 409 (503 with
    ``Retry-After`` when a dependency did not answer)."""
    cause = exc.cause
    if not isinstance(cause, ApplicationError) or cause.type != ErrorType.EDIT_REFUSED:
        return refusal(exc, status)
    details = list(cause.details)
    reason = str(details[0]) if details else "refused"
    extra: dict[str, Any] = {"reason": reason, "order_status": status.value}
    if reason in edits.UNAVAILABLE:
        dependency = "payment_gateway" if reason == edits.PAYMENT_UNAVAILABLE else "database"
        return Problem(
            503,
            cause.message,
            kind="dependency-unavailable",
            headers={"Retry-After": "5"},
            dependency=dependency,
            **extra,
        )
    if reason == edits.OUT_OF_STOCK:
        skus = [str(s) for s in details[1]] if len(details) > 1 else []
        return Problem(409, cause.message, kind="out-of-stock", skus=skus, **extra)
    return Problem(409, cause.message, kind="invalid-state", **extra)


# Steps that keep failing, and "retry now" ----------------------------------------------

# A step is "retrying" from its third attempt on (the operators' stuck list and the
# console's "retry now").
RETRYING_FROM_ATTEMPT = 3
# The one type whose shipments run as child workflows (``shipment-<id>-<n>``); orders of
# the later types follow their shipments themselves.
CHILD_SHIPMENTS_TYPE = ORDER_WITH_SHIPMENT_CHILDREN


@dataclass(frozen=True)
class RetryingStep:
    workflow_id: str
    activity_id: str
    activity: str
    attempt: int
    last_error: str
    # Waiting for its next attempt (None while an attempt runs).
    next_attempt_at: datetime | None
    # Paused through Temporal's activity API (by hand, or a "retry now" cut short).
    paused: bool = False


async def _describe(client: Client, workflow_id: str, timeout_s: float) -> Any:
    try:
        return await client.get_workflow_handle(workflow_id).describe(
            rpc_timeout=timedelta(seconds=timeout_s)
        )
    except Exception:  # gone, or Temporal slow: not stuck in a way we can tell here
        return None


async def retrying_steps(
    client: Client, row: Any, timeout_s: float = 3.0, strict: bool = False
) -> list[RetryingStep]:
    """Steps of this order (and, for orders with child shipments, of its open shipments)
    at attempt 3 or more, with the last error. ``strict``: an order workflow Temporal
    could not describe raises the RPC error instead of counting as "none"."""
    workflow_id = order_workflow_id(row.id)
    if strict:
        try:
            order = await client.get_workflow_handle(workflow_id).describe(
                rpc_timeout=timedelta(seconds=timeout_s)
            )
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            return []
    else:
        order = await _describe(client, workflow_id, timeout_s)
        if order is None:
            return []
    described = [(workflow_id, order)]
    if order.workflow_type == CHILD_SHIPMENTS_TYPE:
        for s in row.view.get("shipments", []):
            if s.get("status") in ("pending", "dispatched"):
                child_id = shipment_workflow_id(s["id"])
                shipment = await _describe(client, child_id, timeout_s)
                if shipment is not None:
                    described.append((child_id, shipment))
    found = []
    for described_id, description in described:
        for pending in description.raw_description.pending_activities:
            if pending.attempt < RETRYING_FROM_ATTEMPT:
                continue
            error = await client.data_converter.decode_failure(pending.last_failure)
            waiting = pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED
            next_at = None
            if waiting and pending.HasField("next_attempt_schedule_time"):
                next_at = pending.next_attempt_schedule_time.ToDatetime(tzinfo=UTC)
            found.append(
                RetryingStep(
                    described_id,
                    pending.activity_id,
                    pending.activity_type.name,
                    pending.attempt,
                    str(error)[:500],
                    next_at,
                    pending.paused,
                )
            )
    return found


async def retry_now(
    client: Client, settings: Settings, row: Any, activity_id: str, by: str, note: str
) -> RetryingStep:
    """Make the next attempt of a retrying step of the order run now, keeping its attempt
    count, its retry policy and its limits, and leaving the workflow as it is: Temporal's
    activity API pauses the step and unpauses it at once, and an activity unpaused while
    it waited for its next attempt is scheduled at once. 409 when no step of the order
    with that activity id is retrying (any more); 503 when Temporal did not answer."""
    try:
        steps = await retrying_steps(client, row, strict=True)
    except RPCError as exc:
        raise not_taken("retry") from exc
    step = next((s for s in steps if s.activity_id == activity_id), None)
    if step is None:
        raise Problem(
            409,
            "no step of this order is retrying now; it may have succeeded or ended",
            kind="invalid-state",
            order_status=row.status,
        )
    execution = WorkflowExecution(workflow_id=step.workflow_id)
    identity = f"console:{by}"
    service = client.workflow_service
    timeout = timedelta(seconds=UPDATE_TIMEOUT_S)
    pause = PauseActivityRequest(
        namespace=settings.temporal_namespace,
        execution=execution,
        id=step.activity_id,
        identity=identity,
        reason=f"retry now, by {by}: {note}"[:1000],
    )
    unpause = UnpauseActivityRequest(
        namespace=settings.temporal_namespace,
        execution=execution,
        id=step.activity_id,
        identity=identity,
    )
    try:
        if not step.paused:
            await service.pause_activity(pause, timeout=timeout)
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise _gone(row) from exc
        raise not_taken("retry") from exc
    # Paused now: the unpause must follow, or the step waits for a person. It is tried
    # again for a few seconds; a step left paused shows as paused on the order's page,
    # where "retry now" unpauses it.
    for attempt in range(UNPAUSE_TRIES):
        try:
            await service.unpause_activity(unpause, timeout=timeout)
            return step
        except RPCError as exc:
            if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                raise _gone(row) from exc
            if attempt == UNPAUSE_TRIES - 1:
                raise Problem(
                    503,
                    "the workflow engine stopped answering: the step is paused; "
                    "retry shortly to resume it",
                    kind="temporal-unavailable",
                    headers={"Retry-After": "5"},
                    dependency="temporal",
                ) from exc
            await asyncio.sleep(0.5 * (attempt + 1))
    return step


UNPAUSE_TRIES = 4


def _gone(row: Any) -> Problem:
    return Problem(
        409,
        "the step is no longer pending; it may have succeeded or ended",
        kind="invalid-state",
        order_status=row.status,
    )
