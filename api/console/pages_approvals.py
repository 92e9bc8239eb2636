"""Approvals: the hold queue, the longest held first, each order with the rules that held it
in words; approve or reject one, or several at once with one note.

Each order gets its own workflow update through the API's own action path
(``api.routes.orders._act``), under the person's name, and its own audit row; the answer
says per order what happened: accepted, refused (already decided, or no longer held), or
not taken (Temporal down).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.console.hold_words import (
    RISK_SCORE,
    RULES,
    HeldOrder,
    reason_words,
    risk_words,
    rule_name,
)
from api.console.web import ActorDep, ConsoleUser, UserDep, flash, render, translate
from api.errors import Problem, dependency_down
from api.orders_read import ORDER_ID, decode_cursor, encode_cursor
from api.routes.orders import _act
from api.schemas import OperatorNote
from oms.logging import get_logger
from oms.settings import Settings
from oms.store import users as user_store
from oms.store import waiting

log = get_logger(__name__)
router = APIRouter(prefix="/console/approvals", include_in_schema=False)
PAGE = 50
# One submit decides at most this many orders, this many at a time.
MAX_BULK = 100
CONCURRENCY = 4
ACTIONS = ("approve", "reject")


@dataclass
class Outcome:
    """What happened to one order of a decision: ``accepted``, ``pending`` (recorded,
    the workflow has not answered yet), ``refused`` (409: already decided, or not on hold
    any more), ``not_found``, ``unavailable`` (Temporal or the database down: nothing
    done), ``failed``."""

    order_id: str
    action: str
    outcome: str
    detail: str = ""

    @property
    def done(self) -> bool:
        return self.outcome in ("accepted", "pending")


def _expires(view: dict[str, Any], settings: Settings) -> str | None:
    hold = view.get("hold") or {}
    if hold.get("expires_at"):
        return str(hold["expires_at"])
    if settings.hold_timeout_s > 0 and hold.get("since"):
        since = datetime.fromisoformat(str(hold["since"]))
        return (since + timedelta(seconds=settings.hold_timeout_s)).isoformat()
    return None


def queue_item(row: Any, user: ConsoleUser, settings: Settings, request: Request) -> dict[str, Any]:
    view = row.view
    hold = view.get("hold") or {}
    customer = view.get("customer") or {}
    held = HeldOrder(
        total=str((view.get("totals") or {}).get("total", "0")),
        currency=str(view.get("currency", "")),
        country=str((view.get("shipping_address") or {}).get("country", "")),
        customers_at_address=row.customers_at_address,
        held_by=row.held_by,
        note=hold.get("note"),
        risk=view.get("risk"),
    )
    tr = lambda text: translate(request, text)  # noqa: E731
    policy = settings.hold_policy()
    reasons = [
        {
            "code": reason,
            "name": rule_name(reason, tr),
            "words": reason_words(
                reason, held, policy, tr, sees_personal_data=user.sees_personal_data
            ),
            # The risk score's own reasons, told under it.
            "risk": risk_words(held.risk) if reason == RISK_SCORE else None,
        }
        for reason in hold.get("reasons", [])
    ]
    return {
        "id": row.id,
        "channel": row.channel,
        "external_id": row.external_id,
        "customer_id": row.customer_id,
        "customer_name": customer.get("name") if user.sees_personal_data else None,
        "customer_email": customer.get("email") if user.sees_personal_data else None,
        "total": held.total,
        "currency": held.currency,
        "since": row.since,
        "expires_at": _expires(view, settings),
        "reasons": reasons,
    }


async def _queue_context(
    request: Request,
    user: ConsoleUser,
    rule: str | None,
    channel: str | None,
    cursor: str | None,
) -> dict[str, Any]:
    engine = request.app.state.engine
    settings: Settings = request.app.state.settings
    after = None
    if cursor:
        since, order_id = decode_cursor(cursor, str, str)
        after = (datetime.fromisoformat(since), order_id)
    rows = await waiting.hold_queue(
        engine,
        rule=rule,
        channel=channel,
        limit=PAGE + 1,
        velocity_window_s=settings.hold_velocity_window_s,
        after=after,
    )
    page, more = rows[:PAGE], len(rows) > PAGE
    facets = await waiting.hold_queue_facets(engine)
    tr = lambda text: translate(request, text)  # noqa: E731
    known = [r for r in RULES if r in facets["rule"]] + sorted(
        r for r in facets["rule"] if r not in RULES
    )
    return {
        "items": [queue_item(r, user, settings, request) for r in page],
        "rule": rule or "",
        "channel": channel or "",
        "rules": [(r, rule_name(r, tr), facets["rule"].get(r, 0)) for r in known],
        "channels": sorted(facets["channel"].items()),
        "waiting": sum(facets["channel"].values()),
        "next_cursor": encode_cursor(page[-1].since.astimezone(UTC).isoformat(), page[-1].id)
        if more
        else None,
        "max_bulk": MAX_BULK,
        "now": datetime.now(UTC),
    }


_RULE = Query(max_length=64, pattern=r"^[a-z_]*$")
_CHANNEL = Query(max_length=64, pattern=r"^[\x21-\x7e]*$")


@router.get("")
async def approvals_page(
    request: Request,
    user: UserDep,
    rule: Annotated[str | None, _RULE] = None,
    channel: Annotated[str | None, _CHANNEL] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    all: Annotated[bool, Query(description="tick every order of the page")] = False,
) -> Response:
    context = await _queue_context(request, user, rule or None, channel or None, cursor)
    return render(
        request, user, "approvals.html", results=None, decided={}, select_all=all, **context
    )


async def _decide_one(
    request: Request, user: ConsoleUser, action: str, order_id: str, note: OperatorNote
) -> Outcome:
    engine = request.app.state.engine
    settings: Settings = request.app.state.settings
    client = await request.app.state.temporal.get()
    if client is None:
        return Outcome(order_id, action, "unavailable", "temporal")
    try:
        answer = await _act(action, order_id, user.principal, note, engine, client, settings)
    except Problem as problem:
        kind = {409: "refused", 404: "not_found", 503: "unavailable"}.get(problem.status, "failed")
        detail = str(problem.extra.get("dependency") or problem.detail)
        return Outcome(order_id, action, kind, detail)
    except Exception as exc:  # a dependency failing mid-way: this order, not the others
        down = dependency_down(exc)
        log.warning("console_decision_failed", order_id=order_id, error=type(exc).__name__)
        return Outcome(order_id, action, "unavailable" if down else "failed", down or "")
    pending = answer.headers.get("retry-after") is not None
    return Outcome(order_id, action, "pending" if pending else "accepted")


async def decide(
    request: Request, user: ConsoleUser, action: str, order_ids: list[str], note: OperatorNote
) -> list[Outcome]:
    """Each order its own update, at most ``CONCURRENCY`` at a time, each audited."""
    engine = request.app.state.engine
    gate = asyncio.Semaphore(CONCURRENCY)
    bulk = len(order_ids) > 1

    async def one(order_id: str) -> Outcome:
        async with gate:
            outcome = await _decide_one(request, user, action, order_id, note)
            try:
                await user_store.audit(
                    engine,
                    user.name,
                    f"order_{action}",
                    f"order:{order_id}",
                    outcome.outcome,
                    note.note,
                    {"bulk": bulk, **({"detail": outcome.detail} if outcome.detail else {})},
                )
            except Exception as exc:  # the decision stands; the page says the audit failed
                log.warning("console_audit_failed", order_id=order_id, error=type(exc).__name__)
                outcome.detail = (outcome.detail + " (not audited)").strip()
            return outcome

    return list(await asyncio.gather(*(one(order_id) for order_id in order_ids)))


@router.post("/decide")
async def decide_orders(request: Request, user: ActorDep) -> Response:
    form = await request.form()
    note_text = str(form.get("note") or "").strip()
    single = str(form.get("single") or "")
    if single:
        action, _, one = single.partition(":")
        order_ids = [one]
    else:
        action = str(form.get("action") or "")
        order_ids = [str(v) for v in form.getlist("order_id")]
    # The same order ticked twice is decided once, in the order given.
    order_ids = list(dict.fromkeys(o.strip() for o in order_ids if str(o).strip()))
    if action not in ACTIONS:
        return flash(request, "Choose approve or reject.", 422)
    if not note_text:
        return flash(request, "A note is required.", 422)
    if not order_ids:
        return flash(request, "Select at least one order.", 422)
    if len(order_ids) > MAX_BULK:
        return flash(request, "At most 100 orders at a time.", 422)
    if not all(ORDER_ID.fullmatch(o) for o in order_ids):
        return flash(request, "Not found", 404)
    try:
        fields = (
            {"note": note_text} if action == "approve" else {"reason": note_text, "note": note_text}
        )
        note = OperatorNote.model_validate(fields)
    except ValidationError:
        return flash(request, "The note is too long (500 characters at most) or unreadable.", 422)
    outcomes = await decide(request, user, action, order_ids, note)
    rule = str(form.get("rule") or "") or None
    channel = str(form.get("channel") or "") or None
    context = await _queue_context(request, user, rule, channel, None)
    decided = {o.order_id: o for o in outcomes if o.done}
    template = "_approvals_queue.html" if request.headers.get("hx-request") else "approvals.html"
    return render(
        request, user, template, results=outcomes, decided=decided, select_all=False, **context
    )
