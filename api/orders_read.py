"""Reading orders: the live view from the workflow while it runs, the read model after."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.service import RPCError

from api.deps import Principal
from api.errors import Problem
from oms.domain.ids import order_workflow_id
from oms.domain.status import TERMINAL, OrderStatus
from oms.logging import get_logger
from oms.store import orders
from workflows.order import OrderWorkflow

log = get_logger(__name__)
ORDER_ID = re.compile(r"[0-9a-f]{20}")


async def load_row(engine: AsyncEngine, order_id: str, caller: Principal) -> Any:
    """The read-model row, or 404 (also for a channel asking about another's order)."""
    if not ORDER_ID.fullmatch(order_id):
        raise Problem(404, f"no order {order_id}", kind="not-found")
    structlog.contextvars.bind_contextvars(order_id=order_id)
    row = await orders.row(engine, order_id)
    if row is None or not caller.can_see(row.channel):
        raise Problem(404, f"no order {order_id}", kind="not-found")
    return row


async def live_view(client: Client | None, row: Any) -> dict[str, Any]:
    if client is None or OrderStatus(row.status) in TERMINAL:
        return dict(row.view)
    try:
        handle = client.get_workflow_handle(order_workflow_id(row.id))
        view = await handle.query(OrderWorkflow.status, rpc_timeout=timedelta(seconds=3))
    except (RPCError, Exception) as exc:  # worker down, query timed out: the read model answers
        log.info("live_view_unavailable", order_id=row.id, error=type(exc).__name__)
        return dict(row.view)
    return asdict(view) if view is not None else dict(row.view)


# Cursors are opaque to clients (pass ``next_cursor`` back as it was given), but their
# form is a pattern the OpenAPI document states, so that any string it allows is one the
# server takes: the position of the last item seen. A list: its creation time in
# microseconds since the epoch and its id; a timeline: the sequence number of its event.
ORDERS_CURSOR = r"^[0-9]{1,16}-[0-9a-f]{20}$"
# A position in a list ordered by an integer key (a sequence number, an id): the key.
SEQ_CURSOR = r"^[0-9]{1,9}$"
EVENTS_CURSOR = SEQ_CURSOR
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def encode_orders_cursor(created_at: datetime, order_id: str) -> str:
    return f"{(created_at - _EPOCH) // _MICROSECOND}-{order_id}"


def decode_orders_cursor(cursor: str) -> tuple[datetime, str]:
    if not re.fullmatch(ORDERS_CURSOR, cursor):
        raise _bad_cursor()
    micros, order_id = cursor.split("-")
    return _EPOCH + int(micros) * _MICROSECOND, order_id


def encode_seq_cursor(key: int) -> str:
    return str(key)


def decode_seq_cursor(cursor: str) -> int:
    """The key a ``SEQ_CURSOR`` holds; declare the parameter with ``pattern=SEQ_CURSOR``."""
    if not re.fullmatch(SEQ_CURSOR, cursor):
        raise _bad_cursor()
    return int(cursor)


encode_events_cursor = encode_seq_cursor
decode_events_cursor = decode_seq_cursor


def encode_cursor(*position: str | int) -> str:
    """An opaque cursor for any position (base64 of JSON). Its form cannot be stated in
    the OpenAPI document, so a list whose position is one integer key should rather use
    ``SEQ_CURSOR`` and its helpers; kept for the lists that use it."""
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *types: type) -> tuple[Any, ...]:
    """The position an ``encode_cursor`` cursor holds, checked against the types its list
    expects."""
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(position, list) or len(position) != len(types):
            raise ValueError(cursor)
        if not all(isinstance(value, kind) for value, kind in zip(position, types, strict=True)):
            raise ValueError(cursor)
        return tuple(position)
    except (ValueError, TypeError) as exc:
        raise _bad_cursor() from exc


def _bad_cursor() -> Problem:
    return Problem(
        422,
        "cursor is not one this API issued",
        kind="validation-error",
        title="Request validation failed",
        errors=[{"field": "cursor", "message": "invalid cursor"}],
    )


async def list_orders(
    engine: AsyncEngine,
    *,
    filters: dict[str, str | None],
    limit: int,
    cursor: str | None,
    late: bool = False,
    channels: list[str] | None = None,
) -> dict[str, Any]:
    equal = {c: v for c, v in filters.items() if v}
    before = decode_orders_cursor(cursor) if cursor else None
    rows = await orders.page(
        engine, equal=equal, late=late, before=before, limit=limit + 1, channels=channels
    )
    page = rows[:limit]
    next_cursor = None
    if page and len(rows) > limit:
        next_cursor = encode_orders_cursor(page[-1].created_at, page[-1].id)
    return {"items": [dict(r.view) for r in page], "next_cursor": next_cursor}
