"""Orders: submit, read, list, timeline, and the operator actions."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, cast

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.converter import value_to_type
from temporalio.service import RPCError, RPCStatusCode

from api.deps import (
    CallerDep,
    EngineDep,
    JsonRoute,
    MaybeTemporalDep,
    Operator,
    Reader,
    SettingsDep,
    Submitter,
    TemporalDep,
)
from api.errors import Problem
from api.intake import submit_order
from api.orders_read import (
    EVENTS_CURSOR,
    ORDERS_CURSOR,
    decode_events_cursor,
    encode_events_cursor,
    list_orders,
    live_view,
    load_row,
)
from api.schemas import (
    PRINTABLE,
    OperatorNote,
    OrderActionAnswer,
    OrderCreate,
    OrderEventList,
    OrderList,
    answer,
    problems,
)
from api.updates import UPDATE_TIMEOUT_S, accepted_action, refusal
from oms.domain.ids import order_workflow_id
from oms.domain.messages import ActionResult, OperatorAction, OrderView
from oms.domain.status import CANCELLABLE, TERMINAL, OrderStatus, never_started
from oms.order_start import start_order
from oms.settings import Settings
from oms.store import orders
from workflows.order import OrderWorkflow

router = APIRouter(
    prefix="/v1/orders",
    tags=["orders"],
    responses=problems(401, 403, 422, 503),
    route_class=JsonRoute,
)

STATUSES = [s.value for s in OrderStatus]
_PAST = {"cancel": "cancelled", "approve": "approved", "reject": "rejected"}
# Each action as the order workflow's update, and as its signal for an update that no
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


_ORDER_ACCEPTED = {
    "model": OrderView,
    "description": "The order, as it stands (a replay answers the existing order).",
    "headers": {
        "Location": {"description": "the order's URL", "schema": {"type": "string"}},
        "Idempotent-Replayed": {
            "description": "'true' when this answers a replay of an earlier submission",
            "schema": {"type": "string", "enum": ["true"]},
        },
    },
}
_ORDER_422 = (
    "The body is invalid (``validation-error``, ``errors`` names each field), names SKUs "
    "that no warehouse stocks (``unknown-sku``, with ``skus``), or its total is 10^12 or more."
)


@router.post(
    "",
    status_code=202,
    responses={
        202: _ORDER_ACCEPTED,
        **problems(
            409,
            413,
            422,
            503,
            _409="The order reference or Idempotency-Key was used before with another body "
            "(``idempotency-conflict``).",
            _422=_ORDER_422,
            _503="The database or Temporal is not available. An order sent while Temporal is "
            "down is recorded first: sending the same request again is safe.",
        ),
    },
)
async def create_order(
    body: OrderCreate,
    caller: Submitter,
    engine: EngineDep,
    client: MaybeTemporalDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    if not caller.can_submit(body.channel):
        allowed = caller.channel or "the channels of its orders:write scopes"
        raise Problem(403, f"this key submits for {allowed} only", kind="forbidden")
    # An empty (or blank) Idempotency-Key is no key at all: the order is still deduplicated
    # by its (channel, external_id).
    key = (idempotency_key or "").strip() or None
    view, replayed = await submit_order(engine, client, settings, body, key)
    headers = {"Location": f"/v1/orders/{view['id']}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(view, status_code=202, headers=headers)


@router.get(
    "",
    response_model=None,
    responses={200: answer(OrderList, "Orders from the read model, newest first.")},
)
async def read_orders(
    caller: Reader,
    engine: EngineDep,
    status: Annotated[
        str | None,
        Query(
            description="an order status; empty: no filter",
            json_schema_extra={"enum": ["", *STATUSES]},
        ),
    ] = None,
    channel: Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)] = None,
    customer_id: Annotated[str | None, Query(max_length=128, pattern=PRINTABLE)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    late: Annotated[bool, Query(description="only orders flagged late")] = False,
    cursor: Annotated[
        str | None,
        Query(
            pattern=ORDERS_CURSOR,
            description="``next_cursor`` of the previous page, as it was given",
        ),
    ] = None,
) -> dict[str, Any]:
    # An empty parameter (``?status=``) means "no filter", as for any other filter.
    status, channel, customer_id = status or None, channel or None, customer_id or None
    if status is not None and status not in STATUSES:
        raise Problem(
            422,
            f"unknown status '{status}'",
            kind="validation-error",
            errors=[{"field": "status", "message": f"one of {', '.join(STATUSES)}"}],
        )
    readable = caller.readable_channels()
    if readable is not None and channel is not None and channel not in readable:
        return {"items": [], "next_cursor": None}
    filters = {"status": status, "channel": channel, "customer_id": customer_id}
    return await list_orders(
        engine,
        filters=filters,
        limit=limit,
        cursor=cursor,
        late=late,
        channels=readable if channel is None else None,
    )


@router.get(
    "/{order_id}",
    response_model=None,
    responses={200: answer(OrderView, "The order."), **problems(404)},
)
async def read_order(
    order_id: str, caller: Reader, engine: EngineDep, request: Request
) -> dict[str, Any]:
    row = await load_row(engine, order_id, caller)
    client = await request.app.state.temporal.get()
    return await live_view(client, row)


@router.get(
    "/{order_id}/events",
    response_model=None,
    responses={200: answer(OrderEventList, "The order's timeline, oldest first."), **problems(404)},
)
async def read_order_events(
    order_id: str,
    caller: Reader,
    engine: EngineDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[
        str | None,
        Query(
            pattern=EVENTS_CURSOR,
            description="``next_cursor`` of the previous page, as it was given",
        ),
    ] = None,
) -> dict[str, Any]:
    await load_row(engine, order_id, caller)
    after = decode_events_cursor(cursor) if cursor else -1
    rows = await orders.events(engine, order_id, after, limit + 1)
    page = rows[:limit]
    return {
        "items": [
            {
                "seq": r.seq,
                "type": r.type,
                "status": r.status,
                "data": r.data,
                "created_at": r.created_at.isoformat(),
            }
            for r in page
        ],
        "next_cursor": encode_events_cursor(page[-1].seq) if len(rows) > limit else None,
    }


async def _act(
    action: str,
    order_id: str,
    caller: CallerDep,
    note: OperatorNote | None,
    engine: EngineDep,
    client: TemporalDep,
    settings: Settings,
) -> JSONResponse:
    row = await load_row(engine, order_id, caller)
    status = OrderStatus(row.status)
    if status in TERMINAL or (action == "cancel" and status not in CANCELLABLE):
        raise Problem(
            409,
            f"order is {status}; it can no longer be {_PAST[action]}",
            kind="invalid-state",
            order_status=status.value,
        )
    note = note or OperatorNote()
    request = OperatorAction(acting(caller.name, note.by), note.reason, note.note)
    handle = client.get_workflow_handle(order_workflow_id(order_id))
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
        raise _not_taken(action) from exc
    return _accepted(await live_view(client, row), action, request.by, result.status)


def _accepted(view: dict[str, Any], action: str, by: str, at_status: str) -> JSONResponse:
    body = {**view, "accepted_action": accepted_action(action, by, at_status)}
    return JSONResponse(body, status_code=202)


def acting(key_name: str, by: str | None) -> str:
    """Who acted, as the timeline shows it: the person named in the request (``by``) and
    the key it came with, or the key's name alone."""
    return f"{by} (key {key_name})" if by and by != key_name else key_name


def _not_taken(action: str) -> Problem:
    # Temporal is down or unreachable: the action was not taken.
    return Problem(
        503,
        f"the workflow engine did not answer; nothing was {_PAST[action]}, retry shortly",
        kind="temporal-unavailable",
        headers={"Retry-After": "5"},
        dependency="temporal",
    )


async def _pending(
    action: str, handle: WorkflowHandle[Any, Any], request: OperatorAction, row: Any
) -> JSONResponse:
    try:
        await handle.signal(
            _SIGNALS[action], request, rpc_timeout=timedelta(seconds=UPDATE_TIMEOUT_S)
        )
    except RPCError as exc:
        raise _not_taken(action) from exc
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
    return JSONResponse(body, status_code=202, headers={"Retry-After": "5"})


async def _cancel_unstarted(
    client: Client, settings: Settings, row: Any, request: OperatorAction
) -> JSONResponse:
    """Cancel an order recorded while Temporal was unreachable, whose workflow was never
    started: start it with the cancel already delivered, so it cancels before any step
    and a later start by the recovery sweep finds it existing."""
    view = value_to_type(OrderView, row.view, [])
    try:
        await start_order(client, settings, view, row.payment_token or "", cancel=request)
    except (RPCError, TimeoutError) as exc:
        raise _not_taken("cancel") from exc
    return _accepted(await live_view(client, row), "cancel", request.by, row.status)


_ACTION_ACCEPTED = {
    "model": OrderActionAnswer,
    "description": "The workflow accepted the action; the order as it is at that moment "
    "(most often still in the status it was in), with ``accepted_action {action, by, "
    "at_status, outcome, next}``: the status the order reaches once the workflow has "
    "carried the action out, and what it does on the way. When no worker answered in time, "
    "the action is recorded as a signal and the answer has ``pending_action {action, by, "
    "detail}`` and ``Retry-After`` instead.",
    "headers": {
        "Retry-After": {
            "description": "only with ``pending_action``: when to look again",
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    },
}


def _action_route(action: str) -> None:
    """``POST /v1/orders/{id}/<action>`` for cancel, approve and reject (operator, admin)."""

    async def act(
        order_id: str,
        caller: Operator,
        engine: EngineDep,
        client: TemporalDep,
        settings: SettingsDep,
        note: OperatorNote | None = None,
    ) -> JSONResponse:
        return await _act(action, order_id, caller, note, engine, client, settings)

    router.add_api_route(
        f"/{{order_id}}/{action}",
        act,
        responses={
            202: _ACTION_ACCEPTED,
            **problems(
                404,
                409,
                413,
                503,
                _409="The order is past the point where this action applies "
                "(``invalid-state``, with ``order_status``).",
                _503="The database or Temporal is not available; nothing was done.",
            ),
        },
        methods=["POST"],
        status_code=202,
        name=f"{action}_order",
        summary=f"{action.capitalize()} an order",
    )


for _action in ("cancel", "approve", "reject"):
    _action_route(_action)
