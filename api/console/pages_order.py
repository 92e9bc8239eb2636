"""Order: everything about one order on one page, and the actions its state allows.

The page reads PostgreSQL only (the read model, the timeline, the ledger, the shipments,
the alerts and the console's audit rows, each by the order's id, on one connection): it
never waits on Temporal. The one question only Temporal answers, whether a step of the
order keeps failing, is a part of the page loaded after it (``/retrying``), which shows
"unknown" when Temporal does not answer.

Its returns and refunds are a part of their own, with their forms (``pages_returns``).

Actions (approve, reject, cancel, hold, change address, edit the lines, retry now) are form
posts with a note, taken under the person's name through the API's own functions
(``api.order_actions``) and written to ``console_audit``. An htmx post answers the actions
panel with the accepted (or pending) action, and the order's part, which then refreshes
itself every two seconds for twenty seconds; a refusal (409) or Temporal down (503) is a
message in the page's flash area, with nothing done.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from temporalio.client import Client, RPCTimeoutOrCancelledError
from temporalio.service import RPCError

from api import order_actions
from api.console.hold_words import risk_words
from api.console.pages_returns import part_context as returns_part
from api.console.sla import sla_state
from api.console.web import ActorDep, ConsoleUser, UserDep, flash, refusal_page, render, translate
from api.errors import Problem
from api.intake import check_skus, checked_total, priced_lines
from api.orders_read import ORDER_ID
from api.routes.ops import web_ui
from api.schemas import AddressIn, OrderEditIn
from oms.alerts import alert_view
from oms.domain.ids import order_workflow_id
from oms.domain.messages import Address, AddressChange, OperatorAction, OrderEdit, OrderLine
from oms.domain.status import TERMINAL, OrderStatus
from oms.settings import Settings
from oms.store import alerts, orders, payments, shipments
from oms.store import users as user_store

router = APIRouter(prefix="/console/orders", include_in_schema=False)

OrderId = Annotated[str, Path(max_length=40)]
# The timeline's latest events on the page (an order has a few dozen at most).
EVENTS_SHOWN = 300
# After an action, the order's part refreshes every POLL_S seconds, POLLS times.
POLLS = 10
POLL_S = 2
NOTE_MAX = 2000
EDIT_REASON_MAX = 500  # what of the note the edit's timeline entry keeps (as the API's)
ADDRESS_FIELDS = ("name", "line1", "line2", "city", "region", "postal_code", "country", "phone")


def audit_target(order_id: str) -> str:
    return f"order:{order_id}"


# Reading -------------------------------------------------------------------------------


def readable(data: dict[str, Any]) -> list[tuple[str, str]]:
    """An event's data as (key, text) pairs, ``by`` left out (it has its own column)."""
    shown = []
    for key, value in data.items():
        if key == "by" or value in (None, "", [], {}):
            continue
        if isinstance(value, dict | list):
            text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
        else:
            text = str(value)
        shown.append((key, text[:300]))
    return shown


async def _order(request: Request, order_id: str) -> dict[str, Any] | None:
    """Everything the page shows, read on one connection; None for an unknown order."""
    if not ORDER_ID.fullmatch(order_id):
        return None
    engine = request.app.state.engine
    async with engine.connect() as conn:
        row = await orders.page_row(conn, order_id)
        if row is None:
            return None
        events = await orders.latest_events(conn, order_id, EVENTS_SHOWN + 1)
        ledger = await payments.of_order(conn, order_id)
        parcels = await shipments.of_order(conn, order_id)
        found = await alerts.of_order(conn, order_id)
        audit = await user_store.audit_of(conn, audit_target(order_id))
    settings: Settings = request.app.state.settings
    view = dict(row.view)
    # Each shipment's lines, from the view (the table has the parcel, the view its content).
    lines_of = {s["id"]: s.get("lines", []) for s in view.get("shipments", [])}
    return {
        "row": row,
        "order": view,
        "status": row.status,
        "sla": sla_state(
            row.status,
            row.created_at,
            bool(view.get("late")),
            datetime.now(UTC),
            settings.sla_dispatch_s,
            settings.sla_delivery_s,
        ),
        "events": events[-EVENTS_SHOWN:],
        "events_cut": len(events) > EVENTS_SHOWN,
        "ledger": ledger,
        "parcels": parcels,
        "lines_of": lines_of,
        "alerts": [alert_view(a) for a in found],
        "audit": audit,
        "web_ui_link": web_ui(settings, order_workflow_id(order_id)),
        "terminal": OrderStatus(row.status) in TERMINAL,
        "can": {a: order_actions.allowed(a, row.status) for a in ACTIONS},
        "readable": readable,
        # The risk score, when the hold check gave the order one.
        "risk": risk_words(view.get("risk")),
        **WORDS,
    }


ACTIONS = ("approve", "reject", "cancel", "hold", "address", "edit")
# What the templates write for each action, SLA state and address field (English; the
# templates translate them).
WORDS: dict[str, Any] = {
    "action_labels": {
        "approve": "Approve",
        "reject": "Reject",
        "cancel": "Cancel the order",
        "hold": "Hold",
        "address": "Change address",
        "edit": "Edit the lines",
    },
    "follows": {
        "approve": "The hold ends: the order goes on from where it was held.",
        "reject": "The hold ends: stock is released, the payment voided, the order cancelled.",
        "cancel": "The order is cancelled at its next step: stock released, payment voided.",
        "hold": "The order is held for a decision at its next step, before dispatch.",
        "address": "The order ships to the new address; the hold rules run on it again.",
        "edit": "The order has its new lines: stock and payment followed them, and the hold "
        "rules run on the new total again.",
    },
    "sla_labels": {"late": "late", "due": "due by", "on_time": "on time", "none": "none"},
    "address_fields": (
        ("name", "Name"),
        ("line1", "Address line 1"),
        ("line2", "Address line 2"),
        ("city", "City"),
        ("region", "Region"),
        ("postal_code", "Postal code"),
        ("country", "Country (2 letters)"),
        ("phone", "Phone"),
    ),
}


def _not_found(request: Request, user: ConsoleUser) -> Response:
    return refusal_page(request, 404, "No such order.")


@router.get("/{order_id}")
async def order_page(request: Request, user: UserDep, order_id: OrderId) -> Response:
    context = await _order(request, order_id)
    if context is None:
        return _not_found(request, user)
    # Its returns and refunds: a part of its own (``pages_returns``), drawn with the page.
    after_sales = await returns_part(
        request.app.state.engine, order_id, context["status"], context["order"]
    )
    return render(request, user, "order.html", poll=0, **after_sales, **context)


@router.get("/{order_id}/live")
async def order_live(
    request: Request,
    user: UserDep,
    order_id: OrderId,
    poll: Annotated[int, Query(ge=0, le=POLLS)] = 0,
    shown: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """The order's part (status, hold, shipments, ledger, timeline, alerts, audit); with
    ``poll``, it asks for itself again ``poll`` more times. ``shown``: the status the
    actions panel was drawn for; when the order moved on, the panel comes along."""
    context = await _order(request, order_id)
    if context is None:
        return _not_found(request, user)
    panel = bool(shown) and shown != context["status"]
    return render(request, user, "_order_live.html", poll=poll, with_panel=panel, **context)


@router.get("/{order_id}/retrying")
async def order_retrying(request: Request, user: UserDep, order_id: OrderId) -> Response:
    """The order's steps that keep failing, from Temporal (loaded after the page)."""
    row = (
        await orders.row(request.app.state.engine, order_id)
        if ORDER_ID.fullmatch(order_id)
        else None
    )
    if row is None:
        return _not_found(request, user)
    steps, known = await _retrying(request, row)
    return render(
        request, user, "_order_retrying.html", order_id=order_id, steps=steps, known=known
    )


async def _row(request: Request, order_id: str) -> Any:
    """The order's read-model row (what the actions need), or None."""
    if not ORDER_ID.fullmatch(order_id):
        return None
    return await orders.row(request.app.state.engine, order_id)


async def _retrying(request: Request, row: Any) -> tuple[list[Any], bool]:
    """(the retrying steps, whether Temporal answered)."""
    if OrderStatus(row.status) in TERMINAL:
        return [], True
    client: Client | None = await request.app.state.temporal.get()
    if client is None:
        return [], False
    try:
        return await order_actions.retrying_steps(client, row, timeout_s=2, strict=True), True
    except Exception:  # Temporal down or slow: the page says "unknown"
        return [], False


# Acting --------------------------------------------------------------------------------


async def _note(request: Request) -> str:
    form = await request.form()
    return str(form.get("note") or "").strip()[:NOTE_MAX]


def _refused(request: Request, problem: Problem) -> Response:
    """A refusal as a message in the user's language, with the system's own words."""
    detail = problem.detail
    if problem.status == 409:
        text = translate(request, "Refused: the order's state does not allow this now.")
        message = f"{text} ({detail})" if detail else text
    elif problem.status == 503:
        message = translate(
            request, "The workflow engine did not answer: nothing was done. Try again shortly."
        )
    elif problem.status == 404:
        message = translate(request, "No such order.")
    else:
        message = f"{translate(request, 'Refused')}: {detail}"
    headers = {k: v for k, v in (problem.headers or {}).items() if k.lower() == "retry-after"}
    if not request.headers.get("hx-request"):
        return refusal_page(request, problem.status, message, headers=headers)
    return flash(request, message, problem.status, headers=headers)


async def _client(request: Request, action: str) -> Client:
    client: Client | None = await request.app.state.temporal.get()
    if client is None:
        raise order_actions.not_taken(action)
    return client


async def _take(request: Request, user: ConsoleUser, order_id: str, action: str) -> Response:
    engine = request.app.state.engine
    note = await _note(request)
    if not note:
        return flash(request, "A note is required.", 422)
    row = await _row(request, order_id)
    if row is None:
        return _refused(request, Problem(404, f"no order {order_id}", kind="not-found"))
    settings: Settings = request.app.state.settings
    detail: dict[str, Any] = {"status": row.status}
    try:
        if action == "address":
            address = await _address(request, user)
            if isinstance(address, Response):
                return address
            client = await _client(request, action)
            taken = await order_actions.change_address(
                client, row, AddressChange(user.principal.name, address)
            )
        elif action == "edit":
            lines = await _lines(request, row)
            if isinstance(lines, Response):
                return lines
            client = await _client(request, action)
            change = OrderEdit(user.principal.name, lines, note[:EDIT_REASON_MAX])
            taken = await order_actions.edit(client, row, change)
        elif action == "hold":
            client = await _client(request, action)
            # The hold's reason is ``manual``; the note is the hold's note.
            request_ = OperatorAction(user.principal.name, note)
            taken = await order_actions.hold(client, row, request_)
        else:
            client = await _client(request, action)
            request_ = OperatorAction(user.principal.name, note, note)
            taken = await order_actions.act(action, row, request_, client, settings)
    except Problem as refused:
        await _audit(engine, user, action, order_id, "refused", note, detail, refused)
        return _refused(request, refused)
    except (RPCError, RPCTimeoutOrCancelledError):
        down = order_actions.not_taken(action)
        await _audit(engine, user, action, order_id, "refused", note, detail, down)
        return _refused(request, down)
    outcome = "pending" if "pending_action" in taken.body else "accepted"
    await _audit(engine, user, action, order_id, outcome, note, detail)
    if not request.headers.get("hx-request"):
        return RedirectResponse(f"/console/orders/{order_id}", status_code=303)
    return await _after_action(request, user, order_id, taken.body)


async def _audit(
    engine: Any,
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
        engine, user.name, f"order_{action}", audit_target(order_id), outcome, note, detail
    )


async def _after_action(
    request: Request, user: ConsoleUser, order_id: str, body: dict[str, Any]
) -> Response:
    """The actions panel with the action's answer, and the order's part, polling."""
    context = await _order(request, order_id)
    if context is None:  # it was there a moment ago
        return flash(request, "No such order.", 404)
    result = body.get("accepted_action") or body.get("pending_action")
    return render(
        request,
        user,
        "_order_after_action.html",
        result=result,
        pending="pending_action" in body,
        poll=POLLS,
        **context,
    )


async def _address(request: Request, user: ConsoleUser) -> Address | Response:
    if not user.sees_personal_data:
        return flash(request, "You may not do this with your role.", 403)
    form = await request.form()
    fields = {k: str(form.get(k) or "").strip() for k in ADDRESS_FIELDS}
    given = {k: v for k, v in fields.items() if v}
    try:
        checked = AddressIn.model_validate(given)
    except ValidationError as exc:
        names = ", ".join(sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]}))
        text = translate(request, "Check the address fields:")
        return flash(request, f"{text} {names}", 422)
    return Address(**checked.model_dump())


async def _lines(request: Request, row: Any) -> list[OrderLine] | Response:
    """The edit form's lines, one a row (SKU, quantity, unit price), checked as the API
    checks an edit's (a Problem for prices, unknown SKUs, a total too large)."""
    form = await request.form()
    rows = [r.split() for r in str(form.get("lines") or "").splitlines() if r.strip()]
    given = [
        {"sku": r[0], "quantity": int(r[1]) if r[1].isdigit() else r[1], "unit_price": r[2]}
        if len(r) == 3
        else {}
        for r in rows
    ]
    try:
        checked = OrderEditIn.model_validate({"lines": given})
    except ValidationError as exc:
        rows_wrong = sorted({int(e["loc"][1]) + 1 for e in exc.errors() if len(e["loc"]) > 1})
        text = translate(request, "Check the lines (SKU, quantity, unit price on each):")
        return flash(request, f"{text} {', '.join(map(str, rows_wrong)) or '-'}", 422)
    currency = str(row.view["currency"])
    lines = priced_lines(currency, checked.lines)
    checked_total(lines, currency)
    await check_skus(request.app.state.engine, checked.lines)
    return lines


def _action_route(action: str) -> None:
    async def post(request: Request, user: ActorDep, order_id: OrderId) -> Response:
        return await _take(request, user, order_id, action)

    router.add_api_route(
        f"/{{order_id}}/{action}", post, methods=["POST"], name=f"console_{action}"
    )


for _action in ACTIONS:
    _action_route(_action)


@router.post("/{order_id}/retry")
async def retry_step(request: Request, user: ActorDep, order_id: OrderId) -> Response:
    """Run the next attempt of a step that keeps failing now (see ``retry_now``)."""
    engine = request.app.state.engine
    form = await request.form()
    note = str(form.get("note") or "").strip()[:NOTE_MAX]
    activity_id = str(form.get("activity_id") or "")[:200]
    if not note:
        return flash(request, "A note is required.", 422)
    row = await _row(request, order_id)
    if row is None:
        return _refused(request, Problem(404, f"no order {order_id}", kind="not-found"))
    detail: dict[str, Any] = {"status": row.status, "activity_id": activity_id}
    settings: Settings = request.app.state.settings
    try:
        client = await _client(request, "retry")
        step = await order_actions.retry_now(
            client, settings, row, activity_id, user.principal.name, note
        )
    except Problem as problem:
        await _audit(engine, user, "retry", order_id, "refused", note, detail, problem)
        return _refused(request, problem)
    detail |= {"activity": step.activity, "attempt": step.attempt, "workflow_id": step.workflow_id}
    await _audit(engine, user, "retry", order_id, "accepted", note, detail)
    if not request.headers.get("hx-request"):
        return RedirectResponse(f"/console/orders/{order_id}", status_code=303)
    return render(
        request, user, "_order_retrying.html", order_id=order_id, steps=[], known=True, retried=step
    )
