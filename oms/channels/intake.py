"""Taking a sales platform's order into the OMS: the same path for a pushed webhook and a
pulled page.

``take`` maps the platform's payload with the channel's adapter and then either records a
new order (read model, the platform row with the raw payload sealed, the workflow started
with the channel's flags), or tells the order's workflow what changed on the platform
(paid, closed, a refund asked for or withdrawn, a platform hold), or does nothing when the
platform says nothing new. It is idempotent: the order id comes from (channel, platform
order id), the read-model row and the workflow id are unique, and the platform row only
moves forward, so taking one payload any number of times, in any order with its later
states, leaves one order in the latest state.

A payload the OMS cannot take (it does not map, a SKU nobody stocks) raises
``ChannelOrderInvalid`` with the fields at fault; the caller answers 422 (push) or raises
an alert and goes on (pull), so one bad order never stops a channel.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from oms.channels import gate
from oms.channels.canonical import ChannelOrder, PlatformState
from oms.channels.config import ChannelConfig, Mode
from oms.channels.errors import MappingError
from oms.channels.registry import adapter
from oms.codec import EncryptionCodec
from oms.contract import Signal
from oms.domain.buyer import client_ip, device_id, optional_created_at
from oms.domain.ids import order_id_for, order_workflow_id
from oms.domain.iso import is_country, is_currency
from oms.domain.messages import (
    Address,
    Adjustment,
    ChannelEvent,
    Customer,
    OrderLine,
    OrderView,
    PaymentView,
    PlatformView,
    Totals,
)
from oms.domain.messages import Client as BuyerClient
from oms.domain.money import format_amount, line_total, parse_amount, sum_amounts
from oms.domain.status import OrderStatus
from oms.logging import get_logger
from oms.order_start import start_order
from oms.settings import Settings
from oms.store import channel_orders, orders, stock

log = get_logger(__name__)
P = PlatformState
# A platform payload is sealed in a Temporal payload envelope: the same keys and format as
# the workflow histories' personal data.
_RAW = b"json/platform"


class ChannelOrderInvalid(Exception):
    """The payload cannot be taken: ``errors`` is a list of {field, message}."""

    def __init__(self, message: str, errors: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.errors = errors


class WorkflowUnreachable(Exception):
    """Temporal did not answer: the order is recorded (or its news kept for the next
    try); the caller retries later (503 for a push, a retried window for a pull)."""


@dataclass
class Taken:
    order_id: str
    # created | updated | unchanged | ignored (first seen closed or already shipped)
    outcome: str
    state: str = ""


def seal(settings: Settings, raw: bytes) -> bytes:
    """The raw payload sealed under the active payload key (plain when no keys are set,
    like the histories)."""
    payload = Payload(metadata={"encoding": _RAW}, data=raw)
    if settings.payload_keys:
        payload = EncryptionCodec.from_setting(settings.payload_keys).seal(payload)
    return bytes(payload.SerializeToString())


def unseal(settings: Settings, sealed: bytes) -> bytes:
    payload = Payload()
    payload.ParseFromString(sealed)
    if settings.payload_keys and payload.metadata.get("encoding") != _RAW:
        payload = EncryptionCodec.from_setting(settings.payload_keys).open(payload)
    return bytes(payload.data)


def map_payload(platform: str, payload: dict[str, Any]) -> ChannelOrder:
    try:
        return adapter(platform).to_order(payload)
    except MappingError as exc:
        field = getattr(exc, "field", "") or "payload"
        raise ChannelOrderInvalid(str(exc), [{"field": field, "message": str(exc)}]) from exc


async def take(
    engine: AsyncEngine,
    client: Client | None,
    settings: Settings,
    channel: ChannelConfig,
    payload: dict[str, Any],
    *,
    source: str = "pull",
    delivery_id: str | None = None,
    admit: Callable[[], None] | None = None,
) -> Taken:
    """Take one platform order (see the module's docstring). Raises ChannelOrderInvalid
    or WorkflowUnreachable. ``admit`` is asked before an order new to the OMS is created,
    and raises to refuse it (the API's backlog limit); what it raises goes to the caller
    and nothing is written."""
    order = map_payload(channel.platform, payload)
    order_id = order_id_for(channel.name, order.external_id)
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    at = _moment(order.updated_at)
    known = await channel_orders.get(engine, order_id)
    if known is None:
        existing = await orders.row(engine, order_id)
        if existing is None:
            if admit is not None:
                admit()
            return await _create(engine, client, settings, channel, order, raw, at, source, payload)
        # The read-model row exists without its platform row: the first take stopped in
        # between. Record the platform row now and treat this as news to the workflow.
        await channel_orders.insert(engine, _platform_row(settings, channel, order, raw, at))
        return Taken(order_id, "unchanged", order.state)
    if at <= known.platform_updated_at and order.state == known.state:
        return Taken(order_id, "unchanged", order.state)
    events = transition(known.state, order.state, order)
    if at <= known.platform_updated_at:
        events = []  # an older word than the one kept: nothing to tell
    for event in events:
        await _tell(engine, client, order_id, event)
    moved = await channel_orders.advance(
        engine,
        order_id,
        state=order.state,
        platform_status=order.platform_status,
        at=at,
        payload=seal(settings, raw),
    )
    log.info(
        "channel_order_taken",
        order_id=order_id,
        channel=channel.name,
        source=source,
        state=order.state,
        events=[e.kind for e in events],
        delivery_id=delivery_id,
    )
    return Taken(order_id, "updated" if moved and events else "unchanged", order.state)


def transition(before: str, after: str, order: ChannelOrder) -> list[ChannelEvent]:
    """What the order's workflow is told when its platform state moves from ``before`` to
    ``after``."""
    if before == after:
        return []
    now = datetime.now(UTC).isoformat()

    def event(kind: str) -> ChannelEvent:
        reference = order.payment_reference if kind == "paid" else None
        return ChannelEvent(kind, order.platform_status, reference, now)

    events: list[ChannelEvent] = []
    if before == P.UNPAID and after != P.CANCELLED:
        events.append(event("paid"))
    if after == P.CANCELLED:
        events.append(event("cancelled"))
    elif after == P.REFUND_REQUESTED:
        events.append(event("refund_requested"))
    elif after == P.ON_HOLD:
        events.append(event("on_hold"))
    if before == P.REFUND_REQUESTED and after in (P.PAID, P.ON_HOLD):
        events.append(event("refund_withdrawn"))
    if before == P.ON_HOLD and after in (P.PAID, P.REFUND_REQUESTED):
        events.append(event("released"))
    return events


async def _create(
    engine: AsyncEngine,
    client: Client | None,
    settings: Settings,
    channel: ChannelConfig,
    order: ChannelOrder,
    raw: bytes,
    at: datetime,
    source: str,
    raw_payload: dict[str, Any],
) -> Taken:
    order_id = order_id_for(channel.name, order.external_id)
    if order.state in (P.CANCELLED, P.SHIPPED, P.DELIVERED):
        # Closed, or shipped by someone else, before the OMS ever saw it: nothing to do.
        log.info("channel_order_ignored", order_id=order_id, state=order.state, source=source)
        return Taken(order_id, "ignored", order.state)
    view = build_view(channel, order, order_id, datetime.now(UTC))
    await _check_skus(engine, order)
    token = order.payment_token or ""
    record = {
        "id": order_id,
        "channel": channel.name,
        "external_id": order.external_id,
        "key": None,
        "hash": hashlib.sha256(raw).hexdigest(),
        "customer_id": view.customer.id,
        "token": token,
    }
    first = {
        "total": view.totals.total,
        "currency": view.currency,
        "lines": len(view.lines),
        "platform": channel.platform,
        "platform_status": order.platform_status,
        "source": source,
    }
    # The mode (and the moment) is decided with the row, under the channel's switch lock.
    if not await gate.insert_order(engine, settings, channel, view, record, first):
        # The same order taken at the same moment by another delivery (a duplicate push,
        # a push and a pull): that one records it; this one is news to it, if anything.
        await asyncio.sleep(0.2)
        return await take(engine, client, settings, channel, raw_payload, source=source)
    await channel_orders.insert(engine, _platform_row(settings, channel, order, raw, at))
    first_events = [e for e in transition(P.PAID, order.state, order) if e.kind != "paid"]
    try:
        if client is None:
            raise WorkflowUnreachable("no connection to Temporal")
        await start_order(
            client,
            settings,
            view,
            token,
            channel=channel,
            first_event=first_events[0] if first_events else None,
        )
    except (RPCError, TimeoutError) as exc:
        raise WorkflowUnreachable(str(exc) or type(exc).__name__) from exc
    log.info(
        "channel_order_created",
        order_id=order_id,
        channel=channel.name,
        source=source,
        state=order.state,
        mode=view.platform.mode if view.platform else channel.mode,
    )
    return Taken(order_id, "created", order.state)


async def _tell(
    engine: AsyncEngine, client: Client | None, order_id: str, event: ChannelEvent
) -> None:
    if client is None:
        raise WorkflowUnreachable("no connection to Temporal")
    handle = client.get_workflow_handle(order_workflow_id(order_id))
    try:
        await handle.signal(Signal.CHANNEL_EVENT, event)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise WorkflowUnreachable(str(exc)) from exc
        row = await orders.row(engine, order_id)
        if row is not None and row.status == OrderStatus.RECEIVED and row.last_seq == 0:
            # Recorded, its workflow not started yet (the recovery sweep starts it): keep
            # the news for the next try rather than lose it.
            raise WorkflowUnreachable("the order's workflow has not started yet") from exc
        # The order has ended: what the platform says now is after the fact.
        log.warning("channel_event_after_end", order_id=order_id, kind=event.kind)


def _platform_row(
    settings: Settings, channel: ChannelConfig, order: ChannelOrder, raw: bytes, at: datetime
) -> dict[str, Any]:
    return {
        "order_id": order_id_for(channel.name, order.external_id),
        "channel": channel.name,
        "external_id": order.external_id,
        "platform": channel.platform,
        "state": order.state,
        "platform_status": order.platform_status,
        "at": at,
        "payload": seal(settings, raw),
    }


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return datetime.now(UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def build_view(
    channel: ChannelConfig, order: ChannelOrder, order_id: str, now: datetime
) -> OrderView:
    """The order as the OMS keeps it, from the canonical channel order; validated."""
    errors = validate(order)
    if errors:
        raise ChannelOrderInvalid(
            "the platform's order cannot be taken: " + ", ".join(e["field"] for e in errors),
            errors,
        )
    currency = order.currency
    lines = [
        OrderLine(
            x.sku,
            x.quantity,
            format_amount(parse_amount(x.unit_price, currency), currency),
            x.line_id,
        )
        for x in order.lines
    ]
    subtotal = sum_amounts(line_total(x.quantity, Decimal(x.unit_price)) for x in lines)
    address = order.shipping_address
    customer = order.customer
    client = order.client
    ip = client_ip(client.ip) if client is not None else None
    device = device_id(client.device_id) if client is not None else None
    return OrderView(
        id=order_id,
        channel=channel.name,
        external_id=order.external_id,
        status=OrderStatus.RECEIVED.value,
        customer=Customer(
            customer.id,
            customer.email or f"{order.external_id}@{order.platform}.invalid",
            customer.name or address.name,
            optional_created_at(customer.created_at, now),
        ),
        shipping_address=Address(
            name=address.name,
            line1=address.line1,
            city=address.city,
            postal_code=address.postal_code,
            country=address.country,
            line2=address.line2,
            region=address.region,
            phone=address.phone,
        ),
        currency=currency,
        lines=lines,
        totals=Totals(
            format_amount(subtotal, currency),
            format_amount(parse_amount(order.total, currency), currency),
        ),
        payment=PaymentView(
            method=f"platform:{order.platform}" if order.prepaid else order.payment_method
        ),
        created_at=now.isoformat(),
        updated_at=now.isoformat(),
        adjustments=[Adjustment(a.kind, a.amount, a.label) for a in order.adjustments],
        platform=PlatformView(
            platform=order.platform,
            state=order.state,
            status=order.platform_status,
            prepaid=order.prepaid,
            payment_reference=order.payment_reference,
            mode=Mode.SHADOW if channel.mode == Mode.SHADOW else Mode.LIVE,
        ),
        client=BuyerClient(ip, device) if ip or device else None,
    )


def validate(order: ChannelOrder) -> list[dict[str, str]]:
    """Field errors of a mapped order: what the OMS needs to fulfil it."""
    errors: list[dict[str, str]] = []

    def bad(field: str, message: str) -> None:
        errors.append({"field": field, "message": message})

    if not is_currency(order.currency):
        bad("currency", f"unknown currency {order.currency!r}")
        return errors
    if not order.lines:
        bad("lines", "the order has no lines")
    amounts: list[Decimal] = []
    for i, line in enumerate(order.lines):
        if not line.sku:
            bad(f"lines.{i}.sku", "a line without a SKU")
        if line.quantity <= 0:
            bad(f"lines.{i}.quantity", "the quantity must be positive")
        try:
            price = parse_amount(line.unit_price, order.currency)
        except (ValueError, InvalidOperation):
            bad(f"lines.{i}.unit_price", f"not an amount in {order.currency}")
            continue
        amounts.append(line_total(line.quantity, price))
    for i, adj in enumerate(order.adjustments):
        try:
            amounts.append(Decimal(adj.amount))
        except InvalidOperation:
            bad(f"adjustments.{i}.amount", "not an amount")
    try:
        total = parse_amount(order.total, order.currency)
    except (ValueError, InvalidOperation):
        bad("total", f"not an amount in {order.currency}")
        return errors
    if not errors and sum(amounts, Decimal(0)) != total:
        bad("total", f"lines and adjustments add up to {sum(amounts)}, not {total}")
    if not is_country(order.shipping_address.country):
        bad("shipping_address.country", f"unknown country {order.shipping_address.country!r}")
    for name in ("name", "line1", "city"):
        if not getattr(order.shipping_address, name):
            bad(f"shipping_address.{name}", "missing")
    if not order.customer.id:
        bad("customer.id", "missing")
    if not order.prepaid and not order.payment_token:
        bad("payment.token", "a native order needs a payment token")
    return errors


async def _check_skus(engine: AsyncEngine, order: ChannelOrder) -> None:
    wanted = sorted({line.sku for line in order.lines})
    known = await stock.known_skus(engine, wanted)
    unknown = [sku for sku in wanted if sku not in known]
    if unknown:
        errors = [
            {"field": f"lines.{i}.sku", "message": f"unknown SKU {line.sku}"}
            for i, line in enumerate(order.lines)
            if line.sku in unknown
        ]
        raise ChannelOrderInvalid(f"unknown SKUs: {', '.join(unknown)}", errors)
