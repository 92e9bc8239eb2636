"""Returns and refunds in the console (docs/returns.md): the order page's part that shows
an order's returns and refunds and opens a return, gives a refund, approves or rejects a
waiting return; and the Returns page, the queue of returns waiting for a decision.

Every action goes through the API's own functions (``api.routes.returns``: the same
checks under the order's lock, the same workflow start, the same answers), under the
person's name, with a note, and is written to ``console_audit`` against the order. Each
form carries a key made when it was drawn, sent as the API's ``Idempotency-Key``: a form
posted twice (a double click, a retried request) opens one return and pays one refund.
An htmx post answers the part with what was done, and the part then refreshes itself a
few times; a refusal (404, 409, 422) or Temporal down (503) is a message in the page's
flash area, with nothing done.
"""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from api.console.web import ActorDep, ConsoleUser, UserDep, flash, refusal_page, render, translate
from api.errors import Problem
from api.orders_read import ORDER_ID
from api.routes import returns as api
from api.schemas import OperatorNote
from api.schemas.returns import RESOLUTIONS, RefundCreate, ReturnCreate
from oms.domain.returns import RETURNABLE_STATUSES
from oms.store import orders
from oms.store import returns as store
from oms.store import users as user_store

router = APIRouter(prefix="/console", include_in_schema=False)

OrderId = Annotated[str, Path(max_length=40)]
ReturnId = Annotated[str, Path(max_length=64)]
NOTE_MAX = 2000
# After an action, the part refreshes every two seconds, POLLS times.
POLLS = 10
QUEUE_LIMIT = 100
STATUSES = ("requested", "approved", "rejected", "received", "closed")
DECISIONS = ("approve", "reject")
# A refund's status in words (the order statuses' words do not fit: "pending" is not
# "awaiting dispatch").
REFUND_LABELS = {"pending": "Pending", "succeeded": "Succeeded", "failed": "Failed"}
RESOLUTION_LABELS = {
    "refund": "Refund",
    "exchange": "Exchange",
    "store_credit": "Store credit",
    "none": "Nothing",
}


def audit_target(order_id: str) -> str:
    return f"order:{order_id}"  # as the order page's own actions


# Reading -------------------------------------------------------------------------------


async def part_context(
    engine: AsyncEngine, order_id: str, status: str, view: dict[str, Any]
) -> dict[str, Any]:
    """What the order page's returns part shows: the order's returns (with their lines'
    counts) and refunds, and which forms apply."""
    found = await store.of_order(engine, order_id)
    refunds = [api.refund_body(r) for r in await store.refunds_of_order(engine, order_id)]
    return {
        "oid": order_id,
        "order_status": status,
        "currency": view.get("currency", ""),
        "order_lines": view.get("lines") or [],
        "returns": [api.return_body(r) for r in found],
        "refunds": refunds,
        "can_return": status in RETURNABLE_STATUSES,
        # Only money taken through the gateway can be refunded.
        "can_refund": _captured(view) > 0,
        "refund_labels": REFUND_LABELS,
        # Sent back as the Idempotency-Key: the same form posted twice is one action.
        "form_key": uuid.uuid4().hex,
        "resolutions": [(r, RESOLUTION_LABELS[r]) for r in RESOLUTIONS],
    }


def _captured(view: dict[str, Any]) -> Decimal:
    try:
        return Decimal(str((view.get("payment") or {}).get("captured") or 0))
    except ArithmeticError:
        return Decimal(0)


async def _part(request: Request, order_id: str) -> dict[str, Any] | None:
    if not ORDER_ID.fullmatch(order_id):
        return None
    row = await orders.row(request.app.state.engine, order_id)
    if row is None:
        return None
    return await part_context(request.app.state.engine, order_id, row.status, dict(row.view))


@router.get("/orders/{order_id}/returns")
async def returns_part(
    request: Request,
    user: UserDep,
    order_id: OrderId,
    poll: Annotated[int, Query(ge=0, le=POLLS)] = 0,
) -> Response:
    """The order's returns part; with ``poll``, it asks for itself again ``poll`` times."""
    context = await _part(request, order_id)
    if context is None:
        return refusal_page(request, 404, "No such order.")
    return render(request, user, "_order_returns.html", poll=poll, **context)


@router.get("/returns")
async def returns_page(
    request: Request,
    user: UserDep,
    status: Annotated[str, Query(max_length=20)] = "requested",
) -> Response:
    """The returns in one status, newest first (``requested``: waiting for a decision)."""
    if status not in STATUSES:
        status = "requested"
    return render(request, user, "returns.html", **await _queue(request, status))


async def _queue(request: Request, status: str) -> dict[str, Any]:
    found = await store.by_status(request.app.state.engine, status, QUEUE_LIMIT, newest=True)
    return {
        "status": status,
        "statuses": STATUSES,
        "items": [api.return_body(r) for r in found],
        "limit": QUEUE_LIMIT,
    }


# Acting --------------------------------------------------------------------------------


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: str(v).strip() for k, v in form.items() if isinstance(v, str)}


def _lines(text: str) -> list[dict[str, Any]]:
    """``SKU quantity`` on each row (a bad row is left for the schema to refuse)."""
    rows = [r.split() for r in text.splitlines() if r.strip()]
    return [
        {"sku": r[0], "quantity": int(r[1]) if r[1].isdigit() else r[1]} if len(r) == 2 else {}
        for r in rows
    ]


def _invalid(request: Request, exc: ValidationError) -> Response:
    names = sorted({".".join(str(x) for x in e["loc"][:1]) for e in exc.errors() if e["loc"]})
    text = translate(request, "Check the form's fields:")
    return flash(request, f"{text} {', '.join(names) or '-'}", 422)


def _refused(request: Request, problem: Problem) -> Response:
    """A refusal as a message, with the system's own words (and each refused line)."""
    if problem.status == 503:
        message = translate(
            request, "The workflow engine did not answer: nothing was done. Try again shortly."
        )
    elif problem.status == 404:
        message = translate(request, "No such order or return.")
    else:
        errors = (problem.extra or {}).get("errors") or []
        said = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors)
        message = f"{translate(request, 'Refused')}: {problem.detail}" + (
            f" ({said})" if said else ""
        )
    headers = {k: v for k, v in (problem.headers or {}).items() if k.lower() == "retry-after"}
    return refusal_page(request, problem.status, message, headers=headers)


async def _client(request: Request, what: str) -> Client:
    client: Client | None = await request.app.state.temporal.get()
    if client is None:
        raise api.unavailable(what)
    return client


async def _audit(
    request: Request,
    user: ConsoleUser,
    action: str,
    order_id: str,
    outcome: str,
    note: str,
    detail: dict[str, Any],
    problem: Problem | None = None,
) -> None:
    if problem is not None:
        detail = {**detail, "http_status": problem.status, "detail": problem.detail}
    await user_store.audit(
        request.app.state.engine,
        user.name,
        action,
        audit_target(order_id),
        outcome,
        note,
        detail,
    )


def _body(answer: JSONResponse) -> dict[str, Any]:
    return json.loads(bytes(answer.body))  # type: ignore[no-any-return]


async def _done(
    request: Request,
    user: ConsoleUser,
    order_id: str,
    message: str,
    back: str = "order",
    shown: str = "requested",
    decision: tuple[str, str] | None = None,
) -> Response:
    """After an action: the page again (a plain post), or the part with what was done
    (the order's returns, or the queue the decision was taken from)."""
    if back == "queue":
        target = f"/console/returns?status={shown}"
    else:
        target = f"/console/orders/{order_id}"
    if not request.headers.get("hx-request"):
        return RedirectResponse(target, status_code=303)
    if back == "queue":
        # The decision is the workflow's: the return's row may not show it yet.
        queue = await _queue(request, shown)
        decided = {decision[0]: decision[1]} if decision else {}
        return render(request, user, "_returns_queue.html", done=message, decided=decided, **queue)
    context = await _part(request, order_id)
    if context is None:
        return flash(request, "No such order.", 404)
    return render(request, user, "_order_returns.html", poll=POLLS, done=message, **context)


@router.post("/orders/{order_id}/return")
async def open_return(request: Request, user: ActorDep, order_id: OrderId) -> Response:
    form = await _form(request)
    note = form.get("note", "")[:NOTE_MAX]
    if not note:
        return flash(request, "A note is required.", 422)
    try:
        body = ReturnCreate.model_validate(
            {
                "lines": _lines(form.get("lines", "")),
                "reason": form.get("reason", ""),
                "resolution": form.get("resolution", ""),
                "note": note,
            }
        )
    except ValidationError as exc:
        return _invalid(request, exc)
    engine = request.app.state.engine
    detail: dict[str, Any] = {
        "lines": {x.sku: x.quantity for x in body.lines},
        "resolution": body.resolution,
    }
    try:
        client = await _client(request, "return")
        answer = await api.open_return(
            order_id,
            body,
            user.principal,
            engine,
            client,
            request.app.state.settings,
            idempotency_key=form.get("form_key") or None,
        )
    except Problem as refused:
        await _audit(request, user, "order_return", order_id, "refused", note, detail, refused)
        return _refused(request, refused)
    opened = _body(answer)
    detail |= {"return_id": opened["id"], "status": opened["status"]}
    await _audit(request, user, "order_return", order_id, "accepted", note, detail)
    text = translate(request, "Return opened:")
    return await _done(request, user, order_id, f"{text} {opened['id']} ({opened['status']})")


@router.post("/orders/{order_id}/refund")
async def give_refund(request: Request, user: ActorDep, order_id: OrderId) -> Response:
    form = await _form(request)
    note = form.get("note", "")[:NOTE_MAX]
    if not note:
        return flash(request, "A note is required.", 422)
    given: dict[str, Any] = {"reason": form.get("reason", ""), "note": note}
    if form.get("amount"):
        given["amount"] = form["amount"]
    if form.get("lines"):
        given["lines"] = _lines(form["lines"])
    try:
        body = RefundCreate.model_validate(given)
    except ValidationError as exc:
        return _invalid(request, exc)
    engine = request.app.state.engine
    detail: dict[str, Any] = {"amount": body.amount, "reason": body.reason}
    if body.lines:
        detail["lines"] = {x.sku: x.quantity for x in body.lines}
    try:
        client = await _client(request, "refund")
        answer = await api.create_refund(
            order_id,
            body,
            user.principal,
            engine,
            client,
            request.app.state.settings,
            idempotency_key=form.get("form_key") or None,
        )
    except Problem as refused:
        await _audit(request, user, "order_refund", order_id, "refused", note, detail, refused)
        return _refused(request, refused)
    refund = _body(answer)
    detail |= {"refund_id": refund["id"], "amount": refund["amount"]}
    await _audit(request, user, "order_refund", order_id, "accepted", note, detail)
    text = translate(request, "Refund recorded:")
    message = f"{text} {refund['id']} · {refund['amount']} {refund['currency']}"
    return await _done(request, user, order_id, message)


async def _decide(request: Request, user: ConsoleUser, return_id: str, decision: str) -> Response:
    form = await _form(request)
    note = form.get("note", "")[:NOTE_MAX]
    back = "queue" if form.get("back") == "queue" else "order"
    shown = form.get("shown", "requested")
    shown = shown if shown in STATUSES else "requested"
    if not note:
        return flash(request, "A note is required.", 422)
    if not re.fullmatch(api.RETURN_ID, return_id):
        return refusal_page(request, 404, "No such order or return.")
    engine = request.app.state.engine
    found = await store.get(engine, return_id)
    if found is None:
        return refusal_page(request, 404, "No such order or return.")
    order_id = found["order_id"]
    detail: dict[str, Any] = {"return_id": return_id, "status": found["status"]}
    action = f"return_{decision}"
    try:
        checked = OperatorNote(note=note)
    except ValidationError as exc:
        return _invalid(request, exc)
    try:
        client = await _client(request, "decision")
        answer = await api.decide(decision, return_id, user.principal, checked, engine, client)
    except Problem as refused:
        await _audit(request, user, action, order_id, "refused", note, detail, refused)
        return _refused(request, refused)
    await _audit(request, user, action, order_id, "accepted", note, detail)
    words = {"approve": "Return approved:", "reject": "Return rejected:"}
    text = translate(request, words[decision])
    status = _body(answer)["status"]
    message = f"{text} {return_id} ({status})"
    taken = (return_id, "approved" if decision == "approve" else "rejected")
    return await _done(request, user, order_id, message, back, shown, taken)


def _decision_route(decision: str) -> None:
    async def post(request: Request, user: ActorDep, return_id: ReturnId) -> Response:
        return await _decide(request, user, return_id, decision)

    router.add_api_route(
        f"/returns/{{return_id}}/{decision}",
        post,
        methods=["POST"],
        name=f"console_return_{decision}",
    )


for _decision in DECISIONS:
    _decision_route(_decision)
