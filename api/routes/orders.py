"""Orders: submit, read, list, timeline, and the operator actions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse

from api import order_actions
from api.backlog import BacklogFull, BacklogSampler
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
from api.order_actions import acting
from api.orders_read import (
    EVENTS_CURSOR,
    ORDERS_CURSOR,
    decode_events_cursor,
    encode_events_cursor,
    list_orders,
    live_view,
    load_row,
)
from api.routes.returns import after_sales
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
from oms.domain.messages import OperatorAction, OrderView
from oms.domain.status import OrderStatus
from oms.settings import Settings
from oms.store import orders

router = APIRouter(
    prefix="/v1/orders",
    tags=["orders"],
    responses=problems(401, 403, 422, 503),
    route_class=JsonRoute,
)

STATUSES = [s.value for s in OrderStatus]

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
_ORDER_429 = (
    "The system's backlog is at its limit (``backlog-full``, with ``backlog`` and "
    "``limit``): a new order is refused and nothing is recorded; send it again after "
    "``Retry-After`` seconds. A replay of an order already accepted is answered as always. "
    "(A key over its own rate limit gets 429 ``rate-limited``.)"
)
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
            429,
            503,
            _409="The order reference or Idempotency-Key was used before with another body "
            "(``idempotency-conflict``).",
            _422=_ORDER_422,
            _429=_ORDER_429,
            _503="The database or Temporal is not available. An order sent while Temporal is "
            "down is recorded first: sending the same request again is safe.",
        ),
    },
)
async def create_order(
    body: OrderCreate,
    request: Request,
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
    backlog: BacklogSampler = request.app.state.backlog
    try:
        view, replayed = await submit_order(
            engine, client, settings, body, key, admit=lambda: backlog.admit("orders")
        )
    except BacklogFull as exc:
        raise exc.problem() from None
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
    mode: Annotated[
        Literal["", "live", "shadow"] | None,
        Query(
            description="the mode the order got at intake: live (the OMS handles it) or "
            "shadow (its channel's current system does); empty: no filter"
        ),
    ] = None,
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
    filters = {"status": status, "channel": channel, "customer_id": customer_id, "mode": mode}
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
    view = await live_view(client, row)
    # Returns and refunds come after delivery, from their own tables (docs/returns.md).
    return view | await after_sales(engine, order_id, view.get("currency") or "EUR")


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
    note = note or OperatorNote()
    request = OperatorAction(acting(caller.name, note.by), note.reason, note.note)
    taken = await order_actions.act(action, row, request, client, settings)
    return JSONResponse(taken.body, status_code=202, headers=taken.headers or None)


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
