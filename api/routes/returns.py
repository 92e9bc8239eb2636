"""Returns and refunds (docs/returns.md): open a return of a delivered order's units,
read it, approve or reject it; the warehouse's count of each returned line (a signed
webhook); refunds without a return, and the list of an order's refunds.

A return and a refund are each written under the order's row lock together with the
checks that could race (units left to return, money left to refund), and their workflow
is started before that transaction commits: when Temporal does not answer, the answer is
503 with nothing written.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import EngineDep, JsonRoute, Operator, Reader, SettingsDep, TemporalDep
from api.errors import Problem
from api.order_actions import acting
from api.orders_read import load_row
from api.routes.webhooks import _event_route, _verified
from api.schemas import OperatorNote, answer, problems
from api.schemas.returns import (
    RefundCreate,
    RefundList,
    RefundOut,
    ReturnCreate,
    ReturnEventIn,
    ReturnList,
    ReturnOut,
)
from oms.contract import REFUND_WORKFLOW, RETURN_WORKFLOW
from oms.domain.messages import OperatorAction, SkuQuantity
from oms.domain.money import InvalidAmount, format_amount, parse_amount
from oms.domain.return_messages import RefundInput, ReturnInput, ReturnLineReceived
from oms.domain.returns import (
    delivered_units,
    receiving_warehouse,
    refund_value,
    return_refusals,
    returnable_refusal,
    window_for,
    within_window,
)
from oms.logging import get_logger
from oms.settings import Settings
from oms.store import returns as store
from workflows.returns import ReturnWorkflow

router = APIRouter(
    prefix="/v1", tags=["returns"], responses=problems(401, 403, 422, 503), route_class=JsonRoute
)
log = get_logger(__name__)

START_TIMEOUT_S = 5.0
RETURN_ID = r"^[0-9a-f]{20}-r(?:[0-9]{1,6}|k[0-9a-f]{12})$"
IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=200,
        description="the same request sent again with the same key answers the first "
        "result (``Idempotent-Replayed: true``) instead of opening another",
    ),
]
ReturnId = Annotated[str, Path(pattern=RETURN_ID, description="a return's id")]


def return_workflow_id(return_id: str) -> str:
    return f"return-{return_id}"


def refund_workflow_id(refund_id: str) -> str:
    return f"refund-{refund_id}"


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def return_body(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _iso(v) for k, v in data.items()}


def refund_body(row: Any) -> dict[str, Any]:
    data = row._asdict()
    for money in ("amount", "refunded"):
        data[money] = format_amount(Decimal(data[money]), row.currency)
    return {k: _iso(v) for k, v in data.items()}


def unavailable(what: str) -> Problem:
    return Problem(
        503,
        f"the workflow engine did not answer; no {what} was recorded, retry shortly",
        kind="temporal-unavailable",
        headers={"Retry-After": "5"},
        dependency="temporal",
    )


async def _start(client: Client, workflow: str, arg: Any, workflow_id: str, queue: str) -> None:
    try:
        await asyncio.wait_for(
            client.start_workflow(
                workflow,
                arg,
                id=workflow_id,
                task_queue=queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                rpc_timeout=timedelta(seconds=START_TIMEOUT_S),
            ),
            timeout=START_TIMEOUT_S + 1,
        )
    except WorkflowAlreadyStartedError:
        return


def keyed_id(order_id: str, kind: str, key: str | None) -> str | None:
    """The id a request with an Idempotency-Key gets (``<order>-rk<hex>`` for a return,
    ``<order>-fk<hex>`` for a refund), so that the same key finds the same row; None
    without a key (or a blank one)."""
    key = (key or "").strip()
    if not key:
        return None
    return f"{order_id}-{kind}k{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def _conflict() -> Problem:
    return Problem(
        409,
        "this Idempotency-Key was used before with another body",
        kind="idempotency-conflict",
    )


def _merged(lines: list[Any]) -> dict[str, int]:
    units: dict[str, int] = {}
    for line in lines:
        units[line.sku] = units.get(line.sku, 0) + line.quantity
    return units


# --- returns ---------------------------------------------------------------------------------


@router.post(
    "/orders/{order_id}/returns",
    status_code=201,
    responses={
        201: answer(
            ReturnOut,
            "The return, as opened (``requested``; approved at once inside the channel's "
            "return window).",
        ),
        **problems(
            404,
            409,
            413,
            _409="The order is not delivered (``invalid-state``), the lines ask back more "
            "units than are left to return (``return-exceeds-delivered``, with ``errors``), "
            "or the Idempotency-Key was used before with another body "
            "(``idempotency-conflict``).",
            _422="The body is invalid (``validation-error``), or names a SKU the order did "
            "not deliver (``not-returnable``, with ``errors``).",
        ),
    },
)
async def open_return(
    order_id: str,
    body: ReturnCreate,
    caller: Operator,
    engine: EngineDep,
    client: TemporalDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    row = await load_row(engine, order_id, caller)
    asked = _merged(body.lines)
    by = acting(caller.name, body.by)
    keyed = keyed_id(order_id, "r", idempotency_key)
    if keyed is not None and (earlier := await store.get(engine, keyed)) is not None:
        same = {x["sku"]: x["quantity"] for x in earlier["lines"]} == asked and (
            earlier["reason"],
            earlier["resolution"],
            earlier["note"],
        ) == (body.reason, body.resolution, body.note)
        if not same:
            raise _conflict()
        headers = {"Location": f"/v1/returns/{keyed}", "Idempotent-Replayed": "true"}
        return JSONResponse(return_body(earlier), status_code=201, headers=headers)
    async with engine.begin() as conn:
        order = await store.lock_order(conn, order_id)
        delivered = delivered_units(order.view)
        if (refusal := returnable_refusal(order.status, delivered)) is not None:
            raise Problem(409, refusal, kind="invalid-state", order_status=order.status)
        errors = return_refusals(delivered, await store.returned_units(conn, order_id), asked)
        unknown = [e for e in errors if e["message"].startswith("not delivered")]
        if unknown:
            raise Problem(
                422, "only delivered units can be returned", kind="not-returnable", errors=errors
            )
        if errors:
            raise Problem(
                409,
                "more units asked back than are left to return",
                kind="return-exceeds-delivered",
                errors=errors,
            )
        return_id = keyed or await store.next_return_id(conn, order_id)
        warehouse = receiving_warehouse(order.view, asked)
        window = window_for(settings.return_window_s, settings.return_windows, row.channel)
        delivered_at = await store.delivered_at(conn, order_id)
        auto = within_window(delivered_at, datetime.now(UTC), window)
        await store.insert_return(
            conn,
            return_id=return_id,
            order_id=order_id,
            reason=body.reason,
            resolution=body.resolution,
            by=by,
            note=body.note,
            warehouse_id=warehouse,
            lines=sorted(asked.items()),
        )
        inp = ReturnInput(
            return_id,
            order_id,
            [SkuQuantity(sku, n) for sku, n in sorted(asked.items())],
            body.resolution,
            warehouse,
            auto_approve=auto,
            requested_by=by,
            receive_timeout_s=settings.return_receive_timeout_s,
        )
        try:
            await _start(
                client, RETURN_WORKFLOW, inp, return_workflow_id(return_id), settings.task_queue
            )
        except (RPCError, TimeoutError) as exc:
            log.warning("return_not_started", order_id=order_id, error=str(exc)[:200])
            raise unavailable("return") from exc
    log.info("return_opened", order_id=order_id, return_id=return_id, auto_approved=auto)
    opened = await store.get(engine, return_id)
    assert opened is not None
    return JSONResponse(
        return_body(opened), status_code=201, headers={"Location": f"/v1/returns/{return_id}"}
    )


async def _visible_return(engine: Any, return_id: str, caller: Any) -> dict[str, Any]:
    found = await store.get(engine, return_id)
    if found is None:
        raise Problem(404, f"no return {return_id}", kind="not-found")
    try:
        await load_row(engine, found["order_id"], caller)
    except Problem as exc:
        raise Problem(404, f"no return {return_id}", kind="not-found") from exc
    return found


@router.get(
    "/returns/{return_id}",
    response_model=None,
    responses={200: answer(ReturnOut, "The return with its lines."), **problems(404)},
)
async def read_return(return_id: ReturnId, caller: Reader, engine: EngineDep) -> dict[str, Any]:
    return return_body(await _visible_return(engine, return_id, caller))


@router.get(
    "/returns",
    response_model=None,
    responses={200: answer(ReturnList, "Returns, oldest first: the operators' queue.")},
)
async def read_returns(
    caller: Operator,
    engine: EngineDep,
    status: Annotated[
        Literal["requested", "approved", "rejected", "received", "closed"] | None,
        Query(description="only returns in this status (``requested``: waiting for a decision)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    return {"items": [return_body(r) for r in await store.by_status(engine, status, limit)]}


@router.get(
    "/orders/{order_id}/returns",
    response_model=None,
    responses={200: answer(ReturnList, "The order's returns, oldest first."), **problems(404)},
)
async def read_order_returns(order_id: str, caller: Reader, engine: EngineDep) -> dict[str, Any]:
    await load_row(engine, order_id, caller)
    return {"items": [return_body(r) for r in await store.of_order(engine, order_id)]}


async def decide(
    decision: str,
    return_id: str,
    caller: Any,
    note: OperatorNote | None,
    engine: Any,
    client: Client,
) -> JSONResponse:
    await _visible_return(engine, return_id, caller)
    note = note or OperatorNote()
    action = OperatorAction(acting(caller.name, note.by), note.reason, note.note)
    handle = client.get_workflow_handle_for(ReturnWorkflow.run, return_workflow_id(return_id))
    wait = timedelta(seconds=5)
    try:
        if decision == "approve":
            _ = await handle.execute_update(ReturnWorkflow.approve, action, rpc_timeout=wait)
        else:
            _ = await handle.execute_update(ReturnWorkflow.reject, action, rpc_timeout=wait)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        detail = getattr(cause, "message", None) or str(cause or exc)
        raise Problem(409, detail, kind="invalid-state") from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:  # the workflow has ended: decided long ago
            raise Problem(409, "the return was decided already", kind="invalid-state") from exc
        raise unavailable("decision") from exc
    except (WorkflowUpdateRPCTimeoutOrCancelledError, TimeoutError) as exc:
        raise unavailable("decision") from exc
    found = await store.get(engine, return_id)
    assert found is not None
    body = return_body(found) | {"accepted_action": {"action": decision, "by": action.by}}
    return JSONResponse(body, status_code=202)


_DECISION = {
    202: answer(
        ReturnOut,
        "The return workflow took the decision; the return as it stands, with "
        "``accepted_action {action, by}`` (its status follows within moments).",
    ),
    **problems(
        404,
        409,
        413,
        _409="The return was approved or rejected already (``invalid-state``).",
    ),
}


@router.post("/returns/{return_id}/approve", status_code=202, responses=_DECISION)
async def approve_return(
    return_id: ReturnId,
    caller: Operator,
    engine: EngineDep,
    client: TemporalDep,
    note: OperatorNote | None = None,
) -> JSONResponse:
    return await decide("approve", return_id, caller, note, engine, client)


@router.post("/returns/{return_id}/reject", status_code=202, responses=_DECISION)
async def reject_return(
    return_id: ReturnId,
    caller: Operator,
    engine: EngineDep,
    client: TemporalDep,
    note: OperatorNote | None = None,
) -> JSONResponse:
    return await decide("reject", return_id, caller, note, engine, client)


@router.post("/return-events", **_event_route(ReturnEventIn, "return"))
async def return_event(
    request: Request, engine: EngineDep, settings: SettingsDep, client: TemporalDep
) -> JSONResponse:
    """The warehouse counted a returned SKU (signed like the WMS's other events)."""
    event = await _verified(request, engine, settings, settings.wms_webhook_secret, ReturnEventIn)
    line = ReturnLineReceived(
        event.sku, event.restockable, event.damaged, event.missing, event.event_id
    )
    handle = client.get_workflow_handle(return_workflow_id(event.return_id))
    try:
        await handle.signal(ReturnWorkflow.line_received, line, rpc_timeout=timedelta(seconds=5))
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            if await store.get(engine, event.return_id) is None:
                raise Problem(404, f"no return {event.return_id}", kind="not-found") from exc
            return JSONResponse({"accepted": False, "detail": "the return is closed"}, 202)
        raise unavailable("event") from exc
    return JSONResponse({"accepted": True}, status_code=202)


# --- refunds ---------------------------------------------------------------------------------


def _refund_amount(body: RefundCreate, view: dict[str, Any], settings: Settings) -> Decimal:
    currency = view["currency"]
    if (body.amount is None) == (body.lines is None):
        raise Problem(
            422,
            "give either an amount or lines",
            kind="refund-invalid",
            errors=[{"field": "amount", "message": "exactly one of amount and lines"}],
        )
    if body.amount is not None:
        try:
            amount = parse_amount(body.amount.strip(), currency)
        except InvalidAmount as exc:
            raise Problem(
                422,
                f"amount: {exc}",
                kind="refund-invalid",
                errors=[{"field": "amount", "message": str(exc)}],
            ) from exc
    else:
        assert body.lines is not None
        ordered: dict[str, int] = {}
        for x in view["lines"]:
            ordered[x["sku"]] = ordered.get(x["sku"], 0) + int(x["quantity"])
        units = _merged(body.lines)
        errors = [
            {"field": f"lines.{sku}", "message": f"{n} asked, {ordered.get(sku, 0)} ordered"}
            for sku, n in units.items()
            if n > ordered.get(sku, 0)
        ]
        if errors:
            raise Problem(
                422, "lines the order does not have", kind="refund-invalid", errors=errors
            )
        lines = [(x["sku"], int(x["quantity"]), Decimal(x["unit_price"])) for x in view["lines"]]
        adjustments = [(a["kind"], Decimal(a["amount"])) for a in view.get("adjustments") or []]
        amount = refund_value(
            lines, adjustments, units, currency, refund_shipping=settings.return_refund_shipping
        )
    if amount <= 0:
        raise Problem(
            422,
            "a refund is a positive amount",
            kind="refund-invalid",
            errors=[{"field": "amount", "message": "must be more than 0"}],
        )
    return amount


@router.post(
    "/orders/{order_id}/refunds",
    status_code=202,
    responses={
        202: answer(RefundOut, "The refund, recorded and on its way (``pending``)."),
        **problems(
            404,
            409,
            413,
            _422="The body is invalid (``validation-error``), or its amount is not one the "
            "order can take: neither or both of ``amount`` and ``lines``, not more than 0, more "
            "decimals than the order's currency has, or lines the order does not have "
            "(``refund-invalid``, with ``errors``).",
            _409="More than the order's captures have left to refund "
            "(``refund-exceeds-captured``, with ``refundable``), or the Idempotency-Key was "
            "used before with another body (``idempotency-conflict``).",
        ),
    },
)
async def create_refund(
    order_id: str,
    body: RefundCreate,
    caller: Operator,
    engine: EngineDep,
    client: TemporalDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    await load_row(engine, order_id, caller)
    keyed = keyed_id(order_id, "f", idempotency_key)
    async with engine.begin() as conn:
        order = await store.lock_order(conn, order_id)
        view = dict(order.view)
        amount = _refund_amount(body, view, settings)
        earlier = await store.get_refund(engine, keyed) if keyed else None
        if earlier is not None:
            if (Decimal(earlier.amount), earlier.reason, earlier.note) != (
                amount,
                body.reason,
                body.note,
            ):
                raise _conflict()
            headers = {
                "Location": f"/v1/orders/{order_id}/refunds",
                "Idempotent-Replayed": "true",
            }
            return JSONResponse(refund_body(earlier), status_code=202, headers=headers)
        left = await store.refundable(conn, order_id)
        if amount > left:
            currency = view["currency"]
            raise Problem(
                409,
                f"{format_amount(amount, currency)} is more than the order has left to refund "
                f"({format_amount(max(left, Decimal(0)), currency)})",
                kind="refund-exceeds-captured",
                refundable=format_amount(max(left, Decimal(0)), currency),
            )
        refund_id = keyed or await store.next_refund_id(conn, order_id)
        await store.insert_refund(
            conn,
            refund_id=refund_id,
            order_id=order_id,
            return_id=None,
            amount=amount,
            currency=view["currency"],
            reason=body.reason,
            note=body.note,
            by=acting(caller.name, body.by),
        )
        try:
            await _start(
                client,
                REFUND_WORKFLOW,
                RefundInput(refund_id, order_id),
                refund_workflow_id(refund_id),
                settings.task_queue,
            )
        except (RPCError, TimeoutError) as exc:
            log.warning("refund_not_started", order_id=order_id, error=str(exc)[:200])
            raise unavailable("refund") from exc
    log.info("refund_requested", order_id=order_id, refund_id=refund_id)
    row = await store.get_refund(engine, refund_id)
    return JSONResponse(
        refund_body(row), status_code=202, headers={"Location": f"/v1/orders/{order_id}/refunds"}
    )


@router.get(
    "/orders/{order_id}/refunds",
    response_model=None,
    responses={200: answer(RefundList, "The order's refunds, oldest first."), **problems(404)},
)
async def read_order_refunds(order_id: str, caller: Reader, engine: EngineDep) -> dict[str, Any]:
    await load_row(engine, order_id, caller)
    return {"items": [refund_body(r) for r in await store.refunds_of_order(engine, order_id)]}


async def after_sales(engine: Any, order_id: str, currency: str) -> dict[str, Any]:
    """What the order view adds once returns or refunds exist: ``returns`` (id, status,
    resolution, lines) and ``refunded`` (what the gateway gave back)."""
    found = await store.of_order(engine, order_id)
    refunded = await store.refunded_total(engine, order_id)
    return {
        "returns": [
            {
                "id": r["id"],
                "status": r["status"],
                "resolution": r["resolution"],
                "lines": [{"sku": x["sku"], "quantity": x["quantity"]} for x in r["lines"]],
            }
            for r in found
        ],
        "refunded": format_amount(refunded, currency),
    }
