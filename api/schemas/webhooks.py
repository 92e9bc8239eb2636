"""Webhook endpoints (events out): the bodies that create and change one, the answers that
show them and their deliveries, and the event bodies the OpenAPI document lists under
``webhooks`` (what a partner's endpoint receives)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model

from oms.domain.text import Strict, Text
from oms.events_out import catalogue

EventType = Literal[
    "*",
    "order.received",
    "order.on_hold",
    "order.payment_authorized",
    "order.reserved",
    "order.backordered",
    "order.dispatched",
    "order.shipped",
    "order.delivered",
    "order.cancelled",
    "order.failed",
    "order.late",
    "order.edited",
    "return.opened",
    "return.approved",
    "return.rejected",
    "return.received",
    "return.closed",
    "refund.succeeded",
    "refund.failed",
    "alert.raised",
    "stock.changed",
    "webhook.test",
]
# http(s), printable ASCII without spaces; the address is checked beyond that (SSRF).
EndpointUrl = Annotated[str, Field(min_length=10, max_length=2048, pattern=r"^https?://[!-~]+$")]
Events = Annotated[list[EventType], Field(min_length=1, max_length=20)]
DeliveryStatus = Literal["pending", "failed", "delivered", "exhausted"]


class EndpointCreate(Strict):
    """An endpoint: where events go (``url``) and which (``events``, ``*`` for all)."""

    url: EndpointUrl
    events: Events
    description: Text | None = None


class EndpointChange(Strict):
    """What to change; a field left out stays as it is."""

    url: EndpointUrl | None = None
    events: Events | None = None
    description: Text | None = None
    enabled: bool | None = None


class SecretRotation(Strict):
    """How long the old secret keeps signing beside the new one (default 24 h)."""

    grace_s: Annotated[float, Field(ge=0, le=604_800)] | None = None


class RedeliverSince(Strict):
    since: AwareDatetime


class Endpoint(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None
    # Until when the secret before the last rotation still signs (None: no second secret).
    previous_secret_until: datetime | None
    created_at: datetime
    updated_at: datetime


class EndpointCreated(Endpoint):
    """A new endpoint, or a rotated secret: ``secret`` is shown this once."""

    secret: str


class EndpointList(BaseModel):
    items: list[Endpoint]


class Attempt(BaseModel):
    at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None
    next_attempt_at: datetime | None


class Delivery(BaseModel):
    id: int
    event_id: str
    type: str
    order_id: str | None
    seq: int | None
    status: DeliveryStatus
    next_attempt_at: datetime | None
    last_error: str | None
    delivered_at: datetime | None
    occurred_at: datetime
    created_at: datetime
    attempts: list[Attempt]


class DeliveryList(BaseModel):
    items: list[Delivery]
    next_cursor: str | None


class Redelivered(BaseModel):
    redelivered: int


class TestSent(BaseModel):
    event_id: str
    delivery_id: int


# --- the event bodies (OpenAPI ``webhooks``) ----------------------------------------------


class OrderEventData(BaseModel):
    """Ids and statuses, plus the timeline entry's own data (a shipment's id and tracking
    number, a hold's reasons, a failure's reason, ...). Never personal data."""

    model_config = ConfigDict(extra="allow")

    order_id: str
    channel: str
    external_id: str
    status: str
    seq: int


class AlertEventData(BaseModel):
    alert_id: int
    order_id: str | None
    kind: str
    subject: str | None


class StockEventData(BaseModel):
    warehouse_id: str
    sku: str
    on_hand: int
    reserved: int
    available: int


class TestEventData(BaseModel):
    endpoint_id: str


def _data_model(event_type: str) -> type[BaseModel]:
    if event_type == catalogue.ALERT_RAISED:
        return AlertEventData
    if event_type == catalogue.STOCK_CHANGED:
        return StockEventData
    if event_type == catalogue.WEBHOOK_TEST:
        return TestEventData
    return OrderEventData


def event_body_model(event_type: str) -> type[BaseModel]:
    name = "Event_" + event_type.replace(".", "_")
    model: type[BaseModel] = create_model(
        name,
        type=(Literal[event_type], ...),  # type: ignore[valid-type,arg-type]
        timestamp=(datetime, ...),
        data=(_data_model(event_type), ...),
    )
    model.__doc__ = catalogue.DESCRIPTIONS[event_type]
    return model


def document_webhooks(app: FastAPI) -> None:
    """List every event type under the OpenAPI document's ``webhooks``, with its body."""
    headers_note = (
        "Signed per Standard Webhooks: headers webhook-id (the event id, the same on every "
        "retry), webhook-timestamp and webhook-signature (see docs/events-out.md). Answer "
        "2xx within 15 s; anything else is retried on the published schedule."
    )
    for event_type in catalogue.EVENT_TYPES:
        model = event_body_model(event_type)

        def receive(body: Any) -> None:  # documented only; never served
            return None

        receive.__annotations__ = {"body": model, "return": None}
        app.webhooks.post(event_type, summary=event_type, description=headers_note)(receive)
