"""Channels and webhooks: each sales channel's state (its last order, a pull channel's
cursor, lag and errors, its open alerts, its shadow decisions), "pull now" for a pull
channel; each webhook endpoint with its failing deliveries and last deliveries, and
"redeliver" for one. Secrets (a channel's, an endpoint's) are never shown."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response
from temporalio.service import RPCError

from api.console.web import (
    ActorDep,
    ConsoleRefusal,
    ConsoleUser,
    FormUserDep,
    UserDep,
    flash,
    render,
)
from api.schemas.channels import NAME_PATTERN
from oms import channel_registry, pull_schedules
from oms.store import channel_view, outbox, pull_cursors, webhook_endpoints
from oms.store import users as user_store

router = APIRouter(prefix="/console/channels", include_in_schema=False)
LAST_DELIVERIES = 5
PULL_TIMEOUT_S = 5.0
FAILING = ("failed", "exhausted")

ChannelName = Annotated[str, Path(pattern=NAME_PATTERN)]
EndpointId = Annotated[str, Path(pattern=r"^ep_[0-9a-f]{24}$")]
DeliveryId = Annotated[int, Path(ge=1, le=2**62)]


def shown_url(url: str) -> str:
    """An endpoint's address without what may be a secret in it (user, password, query)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


async def _channels(engine: Any, now: datetime) -> list[dict[str, Any]]:
    records = await channel_registry.channel_records(engine)
    names = [r.config.name for r in records]
    last = await channel_view.last_orders(engine, names)
    shadowed = await channel_view.shadowed_since(engine, names, now - timedelta(days=1))
    alerts = await channel_view.open_alerts(engine)
    channels = []
    for record in records:
        cfg = record.config
        pull = await pull_cursors.pull_status(engine, cfg.name) if cfg.pulls else None
        lag = None
        if pull and pull["cursor"]:
            lag = (now - datetime.fromisoformat(pull["cursor"])).total_seconds()
        channels.append(
            {
                "name": cfg.name,
                "platform": cfg.platform,
                "intake": str(cfg.intake),
                "mode": str(cfg.mode),
                "enabled": cfg.enabled,
                "pulls": cfg.pulls,
                "pull_interval_s": cfg.pull_interval_s,
                "last_order_at": last.get(cfg.name),
                "pull": pull,
                "lag_s": lag,
                "alerts": alerts.get(cfg.name, []),
                "shadowed": shadowed.get(cfg.name, 0),
                "mode_changed_at": record.mode_changed_at,
                "mode_changed_by": record.mode_changed_by,
            }
        )
    return channels


async def _endpoints(engine: Any) -> list[dict[str, Any]]:
    endpoints = []
    for row in await webhook_endpoints.all_endpoints(engine):
        counts = await outbox.counts(engine, row.id)
        deliveries, attempts = await outbox.page(engine, row.id, None, LAST_DELIVERIES, None)
        endpoints.append(
            {
                "id": row.id,
                "url": shown_url(row.url),
                "events": list(row.events),
                "description": row.description,
                "enabled": row.enabled,
                "failing_since": row.failing_since,
                "disabled_reason": row.disabled_reason,
                "counts": counts,
                "failing": sum(counts.get(s, 0) for s in FAILING),
                "deliveries": [_delivery(d, attempts[d.id]) for d in deliveries],
            }
        )
    return endpoints


def _delivery(row: Any, attempts: list[Any]) -> dict[str, Any]:
    last = attempts[-1] if attempts else None
    return {
        "id": row.id,
        "event_id": row.event_id,
        "type": row.type,
        "order_id": row.order_id,
        "status": row.status,
        "attempts": row.attempts,
        "tried": len(attempts),
        "status_code": last.status_code if last else None,
        "last_error": row.last_error,
        "last_at": last.at if last else None,
        "next_attempt_at": row.next_attempt_at if row.status in ("pending", "failed") else None,
        "delivered_at": row.delivered_at,
        "created_at": row.created_at,
    }


@router.get("")
async def channels_page(request: Request, user: UserDep) -> Response:
    engine = request.app.state.engine
    now = datetime.now(UTC)
    return render(
        request,
        user,
        "channels.html",
        channels=await _channels(engine, now),
        endpoints=await _endpoints(engine),
        now=now,
    )


def _note(form: Any) -> str:
    return str(form.get("note") or "").strip()[:2000]


@router.post("/{name}/pull")
async def pull_now(request: Request, user: ActorDep, name: ChannelName) -> Response:
    """Start the channel's pull now (skipped if one is under way)."""
    engine = request.app.state.engine
    note = _note(await request.form())
    if not note:
        return flash(request, "A note is required.", 422)
    client = await request.app.state.temporal.get()
    outcome, answer = "ok", None
    if client is None:
        outcome = "unavailable"
    else:
        try:
            await asyncio.wait_for(pull_schedules.pull_now(client, name), PULL_TIMEOUT_S)
        except pull_schedules.NoPullSchedule:
            outcome = "no_schedule"
        except (RPCError, TimeoutError):
            outcome = "unavailable"
    await user_store.audit(engine, user.name, "channel_pull_now", f"channel:{name}", outcome, note)
    if outcome == "unavailable":
        answer = flash(
            request,
            "Temporal did not answer: the pull was not started. Try again in a few seconds.",
            503,
            headers={"Retry-After": "5"},
        )
    elif outcome == "no_schedule":
        answer = flash(
            request, "This channel has no pull schedule (not a pull channel, or disabled).", 409
        )
    if answer is not None:
        return answer
    if not request.headers.get("hx-request"):
        return RedirectResponse("/console/channels", status_code=303)
    return flash(request, "The pull was started.", kind="ok")


def _admin(user: ConsoleUser) -> None:
    if user.role != "admin":
        raise ConsoleRefusal(403, "You may not do this with your role.")


@router.post("/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver")
async def redeliver(
    request: Request,
    user: FormUserDep,
    endpoint_id: EndpointId,
    delivery_id: DeliveryId,
) -> Response:
    """Send a delivery again now, with a fresh schedule and the same event id (as
    ``POST /v1/webhook-endpoints/{id}/deliveries/{id}/redeliver``); admins only."""
    _admin(user)
    engine = request.app.state.engine
    note = _note(await request.form())
    if not note:
        return flash(request, "A note is required.", 422)
    found = await outbox.redeliver(engine, endpoint_id, delivery_id)
    await user_store.audit(
        engine,
        user.name,
        "webhook_redeliver",
        f"delivery:{delivery_id}",
        "ok" if found else "not_found",
        note,
        {"endpoint_id": endpoint_id},
    )
    if not found:
        return flash(request, "Not found", 404)
    if not request.headers.get("hx-request"):
        return RedirectResponse("/console/channels", status_code=303)
    rows, attempts = await outbox.page(engine, endpoint_id, None, 1, delivery_id + 1)
    return render(
        request,
        user,
        "_delivery_row.html",
        endpoint={"id": endpoint_id},
        delivery=_delivery(rows[0], attempts[rows[0].id]),
    )
