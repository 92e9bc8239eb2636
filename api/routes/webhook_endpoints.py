"""Webhook endpoints: partners subscribe to events, and operators see and redo deliveries.

An admin, or a partner key with the ``webhooks:manage`` scope. A new endpoint's secret
(and a rotated one) is shown once, in the answer that made it; it is stored sealed. The
URL is checked against SSRF at creation and change (422 "address not allowed"), and again
at every delivery. Creating or enabling an endpoint starts its delivery workflow; if
Temporal cannot be reached then, the worker starts it within its next sweep (the endpoint
and its events are kept in PostgreSQL meanwhile).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from temporalio.client import Client

from api.deps import EngineDep, JsonRoute, MaybeTemporalDep, SettingsDep, WebhookManager
from api.errors import Problem
from api.orders_read import SEQ_CURSOR, decode_seq_cursor, encode_seq_cursor
from api.schemas import problems
from api.schemas.webhooks import (
    Attempt,
    Delivery,
    DeliveryList,
    DeliveryStatus,
    Endpoint,
    EndpointChange,
    EndpointCreate,
    EndpointCreated,
    EndpointList,
    Redelivered,
    RedeliverSince,
    SecretRotation,
    TestSent,
)
from oms.events_out import signing
from oms.events_out.sealing import seal
from oms.events_out.ssrf import AddressNotAllowed, check_url
from oms.events_out.starter import ensure_endpoint_workflow
from oms.logging import get_logger
from oms.settings import Settings
from oms.store import outbox, webhook_endpoints

log = get_logger(__name__)

router = APIRouter(
    prefix="/v1/webhook-endpoints",
    tags=["webhook endpoints"],
    route_class=JsonRoute,
    responses=problems(401, 403, 422, 503),
)

EndpointId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^ep_[0-9a-f]{24}$")]
DeliveryId = Annotated[int, Path(ge=1, le=2**62)]


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        id=row.id,
        url=row.url,
        events=list(row.events),
        description=row.description,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        previous_secret_until=row.previous_secret_until if row.previous_secret else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _check_address(url: str, settings: Settings) -> None:
    try:
        await check_url(url, settings.webhook_allow_private, settings.webhook_loopback_only)
    except AddressNotAllowed as exc:
        raise Problem(
            422,
            f"url: {exc}",
            kind="address-not-allowed",
            errors=[{"field": "url", "message": str(exc)}],
        ) from exc


async def _start(client: Client | None, settings: Settings, endpoint_id: str) -> None:
    if client is None:
        return  # the worker's sweep starts it
    try:
        await ensure_endpoint_workflow(client, settings.task_queue, endpoint_id)
    except Exception as exc:  # Temporal gone mid-call: the worker's sweep starts it
        log.warning("webhook_workflow_not_started", endpoint_id=endpoint_id, error=str(exc)[:200])


async def _found(engine: Any, endpoint_id: str) -> Any:
    row = await webhook_endpoints.one(engine, endpoint_id)
    if row is None:
        raise Problem(404, f"no webhook endpoint {endpoint_id}", kind="not-found")
    return row


def _dedupe(events: list[str]) -> list[str]:
    return list(dict.fromkeys(events))


@router.post("", status_code=201, responses=problems(422))
async def create_endpoint(
    body: EndpointCreate,
    caller: WebhookManager,
    engine: EngineDep,
    settings: SettingsDep,
    temporal: MaybeTemporalDep,
) -> EndpointCreated:
    """Subscribe an endpoint to event types (``*``: all). The answer holds the signing
    secret, shown this once."""
    await _check_address(body.url, settings)
    secret = signing.new_secret()
    endpoint_id = "ep_" + uuid.uuid4().hex[:24]
    row = await webhook_endpoints.create(
        engine,
        endpoint_id,
        body.url,
        _dedupe(list(body.events)),
        body.description,
        seal(secret, settings.payload_keys),
    )
    log.info("webhook_endpoint_created", endpoint_id=endpoint_id, by=caller.name)
    await _start(temporal, settings, endpoint_id)
    return EndpointCreated(**_endpoint(row).model_dump(), secret=secret)


@router.get("")
async def list_endpoints(caller: WebhookManager, engine: EngineDep) -> EndpointList:
    return EndpointList(items=[_endpoint(r) for r in await webhook_endpoints.all_endpoints(engine)])


@router.get("/{endpoint_id}", responses=problems(404))
async def read_endpoint(
    endpoint_id: EndpointId, caller: WebhookManager, engine: EngineDep
) -> Endpoint:
    return _endpoint(await _found(engine, endpoint_id))


@router.patch("/{endpoint_id}", responses=problems(404))
async def change_endpoint(
    endpoint_id: EndpointId,
    body: EndpointChange,
    caller: WebhookManager,
    engine: EngineDep,
    settings: SettingsDep,
    temporal: MaybeTemporalDep,
) -> Endpoint:
    """Change the URL, the events, the description, or enable or disable it. Enabling
    starts delivering again, from where it stopped."""
    changes = body.model_dump(exclude_unset=True)
    for name in ("url", "events", "enabled"):
        if name in changes and changes[name] is None:
            del changes[name]  # null for these means "unchanged"
    if changes.get("url"):
        await _check_address(changes["url"], settings)
    if changes.get("events"):
        changes["events"] = _dedupe(changes["events"])
    row = await webhook_endpoints.update(engine, endpoint_id, changes)
    if row is None:
        raise Problem(404, f"no webhook endpoint {endpoint_id}", kind="not-found")
    if row.enabled:
        await _start(temporal, settings, endpoint_id)
    return _endpoint(row)


@router.delete("/{endpoint_id}", status_code=204, responses=problems(404))
async def delete_endpoint(
    endpoint_id: EndpointId, caller: WebhookManager, engine: EngineDep
) -> Response:
    """Disable the endpoint and forget its secrets, deliveries and attempts."""
    if not await webhook_endpoints.delete(engine, endpoint_id):
        raise Problem(404, f"no webhook endpoint {endpoint_id}", kind="not-found")
    log.info("webhook_endpoint_deleted", endpoint_id=endpoint_id, by=caller.name)
    return Response(status_code=204)


@router.post("/{endpoint_id}/rotate-secret", responses=problems(404))
async def rotate_secret(
    endpoint_id: EndpointId,
    caller: WebhookManager,
    engine: EngineDep,
    settings: SettingsDep,
    body: SecretRotation | None = None,
) -> EndpointCreated:
    """A new secret, shown this once; the old one keeps signing beside it (two signatures
    in ``webhook-signature``) for ``grace_s`` (default 24 h)."""
    grace = body.grace_s if body and body.grace_s is not None else None
    secret = signing.new_secret()
    row = await webhook_endpoints.rotate(
        engine,
        endpoint_id,
        seal(secret, settings.payload_keys),
        settings.webhook_rotation_grace_s if grace is None else grace,
    )
    if row is None:
        raise Problem(404, f"no webhook endpoint {endpoint_id}", kind="not-found")
    log.info("webhook_secret_rotated", endpoint_id=endpoint_id, by=caller.name)
    return EndpointCreated(**_endpoint(row).model_dump(), secret=secret)


@router.get("/{endpoint_id}/deliveries", responses=problems(404))
async def list_deliveries(
    endpoint_id: EndpointId,
    caller: WebhookManager,
    engine: EngineDep,
    status: DeliveryStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20, pattern=SEQ_CURSOR)] = None,
) -> DeliveryList:
    """Every delivery, newest first, with each attempt (when, the answer's code, how long,
    the error, when the next one is due)."""
    await _found(engine, endpoint_id)
    before = decode_seq_cursor(cursor) if cursor else None
    rows, attempts = await outbox.page(engine, endpoint_id, status, limit + 1, before)
    page = rows[:limit]
    items = [
        Delivery(
            id=r.id,
            event_id=r.event_id,
            type=r.type,
            order_id=r.order_id,
            seq=r.seq,
            status=r.status,
            next_attempt_at=r.next_attempt_at if r.status in ("pending", "failed") else None,
            last_error=r.last_error,
            delivered_at=r.delivered_at,
            occurred_at=r.occurred_at,
            created_at=r.created_at,
            attempts=[
                Attempt(
                    at=a.at,
                    status_code=a.status_code,
                    duration_ms=a.duration_ms,
                    error=a.error,
                    next_attempt_at=a.next_attempt_at,
                )
                for a in attempts[r.id]
            ],
        )
        for r in page
    ]
    more = len(rows) > limit
    return DeliveryList(items=items, next_cursor=encode_seq_cursor(page[-1].id) if more else None)


@router.post("/{endpoint_id}/deliveries/{delivery_id}/redeliver", responses=problems(404))
async def redeliver_one(
    endpoint_id: EndpointId, delivery_id: DeliveryId, caller: WebhookManager, engine: EngineDep
) -> Redelivered:
    """Send the delivery again now, with a fresh schedule and the same event id."""
    if not await outbox.redeliver(engine, endpoint_id, delivery_id):
        raise Problem(404, f"no delivery {delivery_id} to {endpoint_id}", kind="not-found")
    return Redelivered(redelivered=1)


@router.post("/{endpoint_id}/redeliver", responses=problems(404))
async def redeliver_since(
    endpoint_id: EndpointId, body: RedeliverSince, caller: WebhookManager, engine: EngineDep
) -> Redelivered:
    """Send again every event that occurred since ``since`` (same event ids, in order per
    order), whatever became of it."""
    await _found(engine, endpoint_id)
    return Redelivered(redelivered=await outbox.redeliver_since(engine, endpoint_id, body.since))


@router.post("/{endpoint_id}/test", status_code=202, responses=problems(404))
async def send_test(endpoint_id: EndpointId, caller: WebhookManager, engine: EngineDep) -> TestSent:
    """Send a ``webhook.test`` event to this endpoint (its delivery shows in the list)."""
    await _found(engine, endpoint_id)
    event_id = "evt_" + uuid.uuid4().hex
    delivery_id = await outbox.add_test_event(engine, endpoint_id, event_id)
    return TestSent(event_id=event_id, delivery_id=delivery_id)
