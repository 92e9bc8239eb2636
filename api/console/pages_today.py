"""Today, the console's home page: the KPI tiles against their targets (today, UTC, and the
last 7 days), and the orders waiting for a person in one list, the longest waiting first:
holds, steps that keep failing, late orders and open alerts.

Both parts refresh themselves (htmx, every 10 s). The list is read from PostgreSQL at
once; the steps that keep failing are found by asking Temporal about the orders without
progress (as ``GET /v1/ops/stuck`` does), only when the list part is asked for on its own,
so the page never waits on Temporal, and a Temporal down only hides those steps.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.exc import DBAPIError

from api.console.hold_words import rule_name
from api.console.today_tiles import kpi_tiles
from api.console.web import ConsoleUser, UserDep, render, translate
from api.errors import dependency_down
from api.routes.ops import CANDIDATES, _retrying
from oms.logging import get_logger
from oms.settings import Settings
from oms.store import orders, waiting

log = get_logger(__name__)
router = APIRouter(prefix="/console/today", include_in_schema=False)
# The waiting list shows this many items (each kind read up to this many, oldest first).
SHOWN = 100
# How long the list part waits for Temporal's answers about the orders without progress.
TEMPORAL_BUDGET_S = 4.0
# Alerts that repeat an item of the list already there (the order is late, the hold is
# old): the item says the alert is open instead of a second line.
_SAME_AS = {"order_late": "late", "hold_stale": "hold"}

_CHANNEL = Query(max_length=64, pattern=r"^[\x21-\x7e]*$")


@dataclass
class Waiting:
    """One line of the waiting list."""

    kind: str  # hold | retrying | late | alert
    order_id: str
    since: datetime
    what: str
    href: str
    alert: bool = False  # an open alert says the same thing
    alert_id: int | None = None


def _moment(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value))


async def _retrying_items(
    request: Request, settings: Settings, channel: str | None
) -> tuple[list[Waiting], str]:
    """Steps at attempt 3 or more, per order; ``ok``, or ``unavailable`` (Temporal down,
    or too slow to answer within the budget)."""
    client = await request.app.state.temporal.get()
    if client is None:
        return [], "unavailable"
    async with request.app.state.engine.connect() as conn:
        quiet, _, _ = await orders.needing_attention(conn, CANDIDATES, settings.hold_stale_s)
    if channel is not None:
        quiet = [row for row in quiet if row.view.get("channel") == channel]
    since = {row.id: _moment(row.updated_at) for row in quiet}
    try:
        found = await asyncio.wait_for(
            asyncio.gather(*(_retrying(client, settings, row) for row in quiet)),
            timeout=TEMPORAL_BUDGET_S,
        )
    except TimeoutError:
        return [], "unavailable"
    items = [
        Waiting(
            "retrying",
            item["order_id"],
            since[item["order_id"]],
            f"{item['activity']} · {item['attempt']} · {item['last_error']}",
            f"/console/orders/{item['order_id']}",
        )
        for per_order in found
        for item in per_order
    ]
    return items, "ok"


async def waiting_list(
    request: Request, with_temporal: bool, channel: str | None = None
) -> tuple[list[Waiting], dict[str, int], str]:
    """The list (oldest first, at most ``SHOWN``), how many of each kind were found, and
    what Temporal said: ``ok``, ``unavailable`` or ``not_asked``."""
    settings: Settings = request.app.state.settings
    holds, late, alerts = await waiting.waiting(request.app.state.engine, SHOWN, channel)
    tr = lambda text: translate(request, text)  # noqa: E731
    items = [
        Waiting(
            "hold",
            r.id,
            _moment(r.since),
            ", ".join(rule_name(reason, tr) for reason in (r.reasons or [])),
            "/console/approvals",
        )
        for r in holds
    ]
    items += [
        Waiting(
            "late",
            r.id,
            _moment(r.since),
            tr("not dispatched in time") if r.stage == "dispatch" else tr("not delivered in time"),
            f"/console/orders/{r.id}",
        )
        for r in late
    ]
    by_order = {(i.kind, i.order_id): i for i in items}
    for a in alerts:
        same = by_order.get((_SAME_AS.get(a.kind, ""), a.order_id))
        if same is not None:
            same.alert, same.alert_id = True, a.id
            continue
        items.append(
            Waiting(
                "alert", a.order_id, _moment(a.created_at), a.kind, "/console/alerts", True, a.id
            )
        )
    temporal = "not_asked"
    if with_temporal:
        stuck, temporal = await _retrying_items(request, settings, channel)
        items += stuck
    items.sort(key=lambda i: (i.since, i.order_id))
    counts: dict[str, int] = {}
    for i in items:
        counts[i.kind] = counts.get(i.kind, 0) + 1
    return items[:SHOWN], counts, temporal


async def _tiles_context(request: Request, channel: str | None) -> dict[str, Any]:
    engine = request.app.state.engine
    settings: Settings = request.app.state.settings
    async with engine.connect() as conn:
        _, holds, _ = await orders.counts(conn)
    return {
        "tiles": await kpi_tiles(engine, settings, channel, int(holds.n), holds.oldest),
        "channel": channel or "",
    }


async def _waiting_context(
    request: Request, with_temporal: bool, channel: str | None
) -> dict[str, Any]:
    items, counts, temporal = await waiting_list(request, with_temporal, channel)
    return {
        "items": items,
        "counts": counts,
        "temporal": temporal,
        "shown": SHOWN,
        "now": datetime.now(UTC),
        "channel": channel or "",
    }


def _down(exc: Exception) -> bool:
    return isinstance(exc, DBAPIError) or dependency_down(exc) == "database"


@router.get("")
async def today_page(
    request: Request, user: UserDep, channel: Annotated[str | None, _CHANNEL] = None
) -> Response:
    context = {
        **await _tiles_context(request, channel or None),
        **await _waiting_context(request, False, channel or None),
    }
    return render(request, user, "today.html", **context)


@router.get("/tiles")
async def today_tiles(
    request: Request, user: UserDep, channel: Annotated[str | None, _CHANNEL] = None
) -> Response:
    return await _part(request, user, "_today_tiles.html", _tiles_context(request, channel or None))


@router.get("/waiting")
async def today_waiting(
    request: Request, user: UserDep, channel: Annotated[str | None, _CHANNEL] = None
) -> Response:
    reading = _waiting_context(request, True, channel or None)
    return await _part(request, user, "_today_waiting.html", reading)


async def _part(request: Request, user: ConsoleUser, template: str, reading: Any) -> Response:
    """A part of the page refreshing itself: when the database is down it says so in
    place (the page stays, and the next refresh may find it back)."""
    try:
        context = await reading
    except Exception as exc:
        if not _down(exc):
            raise
        log.warning("console_part_unavailable", part=template, error=type(exc).__name__)
        return render(request, user, "_part_down.html", headers={"Retry-After": "5"})
    return render(request, user, template, **context)
