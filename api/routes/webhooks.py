"""Webhooks from warehouses and carriers, verified by their HMAC signatures.

Each event becomes a signal to the shipment's workflow; the workflow ignores events that
do not move the parcel forward. A redelivered event (same partner, same ``event_id``) gets
the first answer again without reaching the workflow.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, TypeVar

import structlog
from fastapi import APIRouter, Header, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.service import RPCError, RPCStatusCode

from api.deps import (
    EngineDep,
    JsonRoute,
    SettingsDep,
    TemporalDep,
    bearer_scheme,
    principal_for_key,
)
from api.errors import Problem
from api.partner_events import body_hash, earlier_answer, remember, shipment_by_tracking
from api.schemas import CarrierEventIn, WarehouseEventIn, problems
from oms.domain.ids import order_workflow_id
from oms.domain.messages import ShipmentEvent
from oms.logging import get_logger
from oms.settings import Settings
from oms.store import shipments
from oms.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from workflows.order import OrderWorkflow

router = APIRouter(prefix="/v1", tags=["webhooks"], route_class=JsonRoute)
_partner_signature = APIKeyHeader(
    name=SIGNATURE_HEADER,
    scheme_name="PartnerSignature",
    auto_error=False,
    description=f"`sha256=<hex>`: HMAC-SHA256 with the partner's shared secret over "
    f"`<{TIMESTAMP_HEADER}>.<raw body>`; needs `{TIMESTAMP_HEADER}`",
)
# A partner signs its request; an admin may post an event by hand with its bearer key
# instead (then without a signature header). The body is read raw, for the signature, so
# the document states it here rather than through a parameter.
Signature = Annotated[str | None, Security(_partner_signature)]
AdminKey = Annotated[Any, Security(bearer_scheme)]
Timestamp = Annotated[
    str | None,
    Header(
        alias=TIMESTAMP_HEADER,
        description="unix seconds when the partner signed the request (within the "
        "tolerance of the server's clock); anything else is a bad signature (401)",
    ),
]


def _event_route(model: type[BaseModel], what: str) -> dict[str, Any]:
    return {
        "status_code": 202,
        "openapi_extra": {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": model.model_json_schema()}},
            }
        },
        "responses": {
            202: {
                "description": "Accepted: ``{accepted: true}``, or ``{accepted: false}`` when "
                "the shipment has already finished. A redelivered event gets the first answer "
                "again, with ``Idempotent-Replayed: true``.",
                "content": {"application/json": {"schema": _ANSWER}},
                "headers": {
                    "Idempotent-Replayed": {
                        "description": "'true' when this answers a redelivered event",
                        "schema": {"type": "string", "enum": ["true"]},
                    }
                },
            },
            **problems(
                401,
                403,
                404,
                409,
                413,
                422,
                503,
                _401="A missing, stale or wrong signature (``invalid-signature``), or an "
                "unknown API key.",
                _403="Only an admin key may post events by hand (``forbidden``).",
                _404=f"No {what} (``not-found``).",
                _409="This event_id was received before with another body (``event-conflict``).",
                _422="The body is not such an event (``validation-error``).",
            ),
        },
    }


_ANSWER = {
    "type": "object",
    "properties": {"accepted": {"type": "boolean"}, "detail": {"type": "string"}},
    "required": ["accepted"],
}
log = get_logger(__name__)
M = TypeVar("M", bound=BaseModel)


async def _verified(
    request: Request, engine: AsyncEngine, settings: Settings, secret: str, model: type[M]
) -> M:
    """The event, from a partner's signed request or, by hand, from an admin's key."""
    body = await request.body()
    headers = request.headers
    scheme, _, key = headers.get("authorization", "").partition(" ")
    if SIGNATURE_HEADER not in headers and scheme.lower() == "bearer":
        # An admin may post an event by hand (a parcel the carrier never scanned).
        caller = await principal_for_key(key, engine, settings)
        if caller.role != "admin":
            raise Problem(403, "only an admin may post partner events by hand", kind="forbidden")
    elif not verify(
        secret,
        headers.get(TIMESTAMP_HEADER),
        headers.get(SIGNATURE_HEADER),
        body,
        settings.webhook_tolerance_s,
    ):
        raise Problem(401, "missing, stale or invalid request signature", kind="invalid-signature")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
            for e in exc.errors()
        ]
        raise Problem(422, "invalid event", kind="validation-error", errors=errors) from exc


async def _signal(client: Any, order_id: str, event: ShipmentEvent) -> dict[str, Any]:
    """To the order's workflow, which follows the shipment itself or hands the event to
    the shipment's own workflow (orders started before the lean order)."""
    handle = client.get_workflow_handle(order_workflow_id(order_id))
    try:
        await handle.signal(OrderWorkflow.shipment_event, event, rpc_timeout=timedelta(seconds=5))
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise  # Temporal down or slow: a 503, and the partner sends the event again
        # The order's workflow has finished: the event is a late duplicate.
        return {"accepted": False, "detail": "shipment already completed"}
    return {"accepted": True}


async def _replayed(engine: AsyncEngine, partner: str, event: Any) -> JSONResponse | None:
    """The first answer to an event delivered before, or None for a new event."""
    earlier = await earlier_answer(engine, partner, event.event_id)
    if earlier is None:
        return None
    digest, answer = earlier
    if digest != body_hash(event):
        raise Problem(
            409,
            f"event {event.event_id} was already received with a different body",
            kind="event-conflict",
        )
    return JSONResponse(answer, status_code=202, headers={"Idempotent-Replayed": "true"})


async def _forward(
    engine: AsyncEngine,
    client: Any,
    partner: str,
    event: Any,
    order_id: str,
    shipment: ShipmentEvent,
) -> dict[str, Any]:
    # The API only looks up and forwards: the order's workflow alone decides what the
    # event changes (status, tracking number), and records it.
    answer = await _signal(client, order_id, shipment)
    await remember(engine, partner, event, shipment.shipment_id, answer)
    return answer


@router.post("/warehouse-events", **_event_route(WarehouseEventIn, "shipment with this id"))
async def receive_warehouse_event(
    request: Request,
    engine: EngineDep,
    client: TemporalDep,
    settings: SettingsDep,
    admin_key: AdminKey = None,
    signature: Signature = None,
    timestamp: Timestamp = None,
) -> Any:
    event = await _verified(
        request, engine, settings, settings.wms_webhook_secret, WarehouseEventIn
    )
    replayed = await _replayed(engine, "warehouse", event)
    if replayed is not None:
        return replayed
    order_id = await shipments.order_of(engine, event.shipment_id)
    if order_id is None:
        raise Problem(404, f"no shipment {event.shipment_id}", kind="not-found")
    structlog.contextvars.bind_contextvars(order_id=order_id)
    log.info("warehouse_event", order_id=order_id, shipment_id=event.shipment_id, type=event.type)
    shipment = ShipmentEvent(
        event.shipment_id,
        event.type,
        event.event_id,
        event.tracking_number,
        event.carrier,
        event.occurred_at,
    )
    return await _forward(engine, client, "warehouse", event, order_id, shipment)


@router.post(
    "/carrier-events", **_event_route(CarrierEventIn, "shipment with this tracking number")
)
async def receive_carrier_event(
    request: Request,
    engine: EngineDep,
    client: TemporalDep,
    settings: SettingsDep,
    admin_key: AdminKey = None,
    signature: Signature = None,
    timestamp: Timestamp = None,
) -> Any:
    event = await _verified(
        request, engine, settings, settings.carrier_webhook_secret, CarrierEventIn
    )
    replayed = await _replayed(engine, "carrier", event)
    if replayed is not None:
        return replayed
    row = await shipment_by_tracking(engine, event.tracking_number)
    if row is None:
        raise Problem(
            404, f"no shipment with tracking number {event.tracking_number}", kind="not-found"
        )
    structlog.contextvars.bind_contextvars(order_id=row.order_id)
    log.info("carrier_event", order_id=row.order_id, shipment_id=row.id, status=event.status)
    shipment = ShipmentEvent(
        row.id,
        event.status,
        event.event_id,
        event.tracking_number,
        event.carrier,
        event.occurred_at,
    )
    return await _forward(engine, client, "carrier", event, row.order_id, shipment)
