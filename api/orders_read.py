"""Reading orders: the live view from the workflow while it runs, the read model after."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.service import RPCError

from api.deps import Principal
from api.errors import Problem
from oms.domain.ids import order_workflow_id
from oms.domain.messages import OrderView
from oms.domain.status import TERMINAL, OrderStatus
from oms.logging import get_logger

log = get_logger(__name__)
ORDER_ID = re.compile(r"[0-9a-f]{20}")

_ROW = text("SELECT id, channel, status, view, last_seq, payment_token FROM orders WHERE id = :id")


async def load_row(engine: AsyncEngine, order_id: str, caller: Principal) -> Any:
    """The read-model row, or 404 (also for a channel asking about another's order)."""
    if not ORDER_ID.fullmatch(order_id):
        raise Problem(404, f"no order {order_id}", kind="not-found")
    structlog.contextvars.bind_contextvars(order_id=order_id)
    async with engine.connect() as conn:
        row = (await conn.execute(_ROW, {"id": order_id})).first()
    if row is None or not caller.can_see(row.channel):
        raise Problem(404, f"no order {order_id}", kind="not-found")
    return row


async def live_view(client: Client | None, row: Any) -> dict[str, Any]:
    if client is None or OrderStatus(row.status) in TERMINAL:
        return dict(row.view)
    try:
        handle = client.get_workflow_handle(order_workflow_id(row.id))
        view = await handle.query("status", result_type=OrderView, rpc_timeout=timedelta(seconds=3))
    except (RPCError, Exception) as exc:  # worker down, query timed out: the read model answers
        log.info("live_view_unavailable", order_id=row.id, error=type(exc).__name__)
        return dict(row.view)
    return asdict(view) if view is not None else dict(row.view)


def encode_cursor(*position: str | int) -> str:
    """An opaque cursor for a position in a list (the sort key of its last item)."""
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *types: type) -> tuple[Any, ...]:
    """The position a cursor holds, checked against the types its list expects."""
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
        errors=[{"field": "cursor", "message": "invalid cursor"}],
    )


async def list_orders(
    engine: AsyncEngine, *, filters: dict[str, str | None], limit: int, cursor: str | None
) -> dict[str, Any]:
    clauses = []
    params: dict[str, Any] = {"limit": limit + 1}
    for column in ("status", "channel", "customer_id"):
        if filters.get(column):
            clauses.append(f"{column} = :{column}")
            params[column] = filters[column]
    if cursor:
        created_at, params["c_id"] = decode_cursor(cursor, str, str)
        try:
            params["c_at"] = datetime.fromisoformat(created_at)
        except ValueError as exc:
            raise _bad_cursor() from exc
        clauses.append("(created_at, id) < (:c_at, :c_id)")
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    query = text(
        f"SELECT id, created_at, view FROM orders {where} "
        "ORDER BY created_at DESC, id DESC LIMIT :limit"
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query, params)).all()
    page = rows[:limit]
    next_cursor = None
    if page and len(rows) > limit:
        next_cursor = encode_cursor(page[-1].created_at.isoformat(), page[-1].id)
    return {"items": [dict(r.view) for r in page], "next_cursor": next_cursor}
