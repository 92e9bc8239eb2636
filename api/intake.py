"""Order intake: validate, deduplicate, record, start the workflow.

The order id is derived from (channel, external_id), the read-model row is written with
a unique constraint on that pair, and the workflow id is ``order-<id>`` with duplicates
rejected by Temporal, so a resubmitted order can never run twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.converter import value_to_type
from temporalio.service import RPCError

from api.errors import Problem
from api.schemas import LineIn, OrderCreate, price_errors
from oms import channel_registry
from oms.channels import gate
from oms.channels.config import ChannelConfig
from oms.domain.ids import order_id_for
from oms.domain.messages import (
    Address,
    Customer,
    OrderLine,
    OrderView,
    PaymentView,
    Totals,
)
from oms.domain.messages import Client as BuyerClient
from oms.domain.money import format_amount, line_total, parse_amount, sum_amounts
from oms.domain.status import OrderStatus, never_started
from oms.logging import get_logger
from oms.order_start import start_order
from oms.settings import Settings
from oms.store import orders, stock

log = get_logger(__name__)
# Money columns are NUMERIC(20, 4): totals stay well inside them.
MAX_TOTAL = Decimal("1000000000000")


# Optional fields added after orders were first hashed (the part of the body that holds
# each, and its name): left out of the hash when absent, so a body sent again after they
# were added still matches its first submission.
_LATER_FIELDS: tuple[tuple[str | None, str], ...] = (
    (None, "client"),
    ("customer", "created_at"),
    ("shipping_address", "phone"),
)


def request_hash(body: OrderCreate) -> str:
    data = body.model_dump(mode="json")
    for part, name in _LATER_FIELDS:
        holder = data if part is None else data[part]
        if holder.get(name) is None:
            holder.pop(name, None)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _priced_lines(body: OrderCreate) -> list[OrderLine]:
    return priced_lines(body.currency, body.lines)


def priced_lines(currency: str, given: Sequence[LineIn]) -> list[OrderLine]:
    """The lines with their prices in the currency's minor units, or 422."""
    errors = price_errors(currency, [line.model_dump() for line in given])
    if errors:
        raise Problem(
            422,
            "invalid request: " + ", ".join(e["field"] for e in errors),
            kind="validation-error",
            title="Request validation failed",
            errors=errors,
        )
    return [
        OrderLine(x.sku, x.quantity, format_amount(parse_amount(x.unit_price, currency), currency))
        for x in given
    ]


def checked_total(lines: Sequence[OrderLine], currency: str) -> str:
    """What the lines come to, or 422 when it is 10^12 or more."""
    subtotal = sum_amounts(
        line_total(x.quantity, parse_amount(x.unit_price, currency)) for x in lines
    )
    if subtotal >= MAX_TOTAL:
        raise Problem(
            422,
            f"the order total must be below {MAX_TOTAL}",
            kind="validation-error",
            title="Request validation failed",
            errors=[{"field": "lines", "message": "order total too large"}],
        )
    return format_amount(subtotal, currency)


def build_view(body: OrderCreate, order_id: str, now: datetime) -> OrderView:
    lines = _priced_lines(body)
    amount = checked_total(lines, body.currency)
    zero = format_amount(Decimal(0), body.currency)
    return OrderView(
        id=order_id,
        channel=body.channel,
        external_id=body.external_id,
        status=OrderStatus.RECEIVED.value,
        customer=Customer(**body.customer.model_dump()),
        shipping_address=Address(**body.shipping_address.model_dump()),
        currency=body.currency,
        lines=lines,
        totals=Totals(amount, amount),
        payment=PaymentView(method=body.payment.method, authorized=zero, captured=zero),
        created_at=now.isoformat(),
        updated_at=now.isoformat(),
        client=_client(body),
    )


def _client(body: OrderCreate) -> BuyerClient | None:
    given = body.client
    if given is None or (given.ip is None and given.device_id is None):
        return None
    return BuyerClient(given.ip, given.device_id)


async def _check_skus(engine: AsyncEngine, body: OrderCreate) -> None:
    await check_skus(engine, body.lines)


async def check_skus(engine: AsyncEngine, given: Sequence[LineIn]) -> None:
    """422 (``unknown-sku``) for SKUs that no warehouse stocks."""
    wanted = sorted({line.sku for line in given})
    known = await stock.known_skus(engine, wanted)
    unknown = [sku for sku in wanted if sku not in known]
    if unknown:
        errors = [
            {"field": f"lines.{i}.sku", "message": f"unknown SKU {line.sku}"}
            for i, line in enumerate(given)
            if line.sku in unknown
        ]
        raise Problem(
            422,
            f"unknown SKUs (not stocked in any warehouse): {', '.join(unknown)}",
            kind="unknown-sku",
            title="Unknown SKU",
            skus=unknown,
            errors=errors,
        )


async def _existing(engine: AsyncEngine, body: OrderCreate, key: str | None, digest: str) -> Any:
    rows = await orders.find(engine, body.channel, body.external_id, key)
    if not rows:
        return None
    if any(r.request_hash != digest for r in rows) or len(rows) > 1:
        raise Problem(
            409,
            "this order reference or Idempotency-Key was already used with a different body",
            kind="idempotency-conflict",
            order_id=rows[0].id,
        )
    return rows[0]


async def start_order_workflow(
    client: Client | None,
    settings: Settings,
    view: OrderView,
    token: str,
    channel: ChannelConfig | None = None,
) -> None:
    try:
        if client is None:
            raise TimeoutError("no connection to Temporal")
        await start_order(client, settings, view, token, channel=channel)
    except (RPCError, TimeoutError) as exc:
        log.warning(
            "workflow_start_failed", order_id=view.id, error=str(exc)[:200] or type(exc).__name__
        )
        raise Problem(
            503,
            "the order was recorded but its workflow could not be started yet; it will be "
            "started shortly, and sending the same request again is safe",
            kind="temporal-unavailable",
            headers={"Retry-After": "5"},
            dependency="temporal",
        ) from exc


async def submit_order(
    engine: AsyncEngine,
    client: Client | None,
    settings: Settings,
    body: OrderCreate,
    key: str | None,
    admit: Callable[[], None] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Returns the order as the client should see it, and whether this was a replay.

    ``admit`` is asked before a new order (not a replay) is recorded, and raises to refuse
    it (``api.backlog``: 429 while the backlog is full); nothing is written then."""
    digest = request_hash(body)
    order_id = order_id_for(body.channel, body.external_id)
    structlog.contextvars.bind_contextvars(order_id=order_id)
    view = build_view(body, order_id, datetime.now(UTC))
    existing = await _existing(engine, body, key, digest)
    # The channel's own shortage and split, where it is configured (cached briefly).
    channel = await channel_registry.load_channel(engine, body.channel)
    if existing is None:
        if admit is not None:
            admit()
        await _check_skus(engine, body)
        created = await _insert(engine, settings, channel, body, view, key, digest)
        if not created:  # lost a race with an identical submission
            existing = await _existing(engine, body, key, digest)
    if existing is None:
        await start_order_workflow(client, settings, view, body.payment.token, channel)
    elif never_started(existing.status, existing.last_seq):
        # A replay of a submission whose first attempt stopped between the insert and
        # the start: the replay completes it. Past that point the workflow has recorded
        # steps, and starting it again (say, after Temporal's retention dropped the
        # closed run) would run a finished order twice.
        await start_order_workflow(
            client, settings, _view_from_json(existing.view), body.payment.token, channel
        )
    log.info("order_submitted", order_id=order_id, replay=existing is not None)
    return (dict(existing.view) if existing is not None else asdict(view)), existing is not None


async def _insert(
    engine: AsyncEngine,
    settings: Settings,
    channel: ChannelConfig | None,
    body: OrderCreate,
    view: OrderView,
    key: str | None,
    digest: str,
) -> bool:
    order = {
        "id": view.id,
        "channel": body.channel,
        "external_id": body.external_id,
        "key": key,
        "hash": digest,
        "customer_id": body.customer.id,
        "token": body.payment.token,
    }
    first = {"total": view.totals.total, "currency": view.currency, "lines": len(view.lines)}
    if channel is None:
        now = datetime.fromisoformat(view.created_at)
        plain = {**order, "view": json.dumps(asdict(view)), "now": now}
        return await orders.insert(engine, plain, json.dumps(first))
    # A configured channel: its mode (live, shadow, a pilot's country) decided with the
    # row, under the channel's switch lock (oms.channels.gate).
    return await gate.insert_order(engine, settings, channel, view, order, first)


def _view_from_json(data: dict[str, Any]) -> OrderView:
    """Rebuild the dataclass view from its JSON form (the read model's ``view`` column)."""
    return value_to_type(OrderView, data, [])  # type: ignore[no-any-return]
