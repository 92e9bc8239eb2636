"""``channel_orders`` and ``channel_receipts``: what each channel order's platform last
said of it (state, status, time, the raw payload sealed), and the platform webhooks taken.

A platform's newer word moves the row forward only (``platform_updated_at`` rises), so a
late or replayed payload never rolls an order's platform state back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from oms.db.engine import one_statement

_GET = text(
    "SELECT order_id, channel, external_id, platform, state, platform_status, "
    "platform_updated_at, payload FROM channel_orders WHERE order_id = :id"
)
_INSERT = text(
    """
    INSERT INTO channel_orders (order_id, channel, external_id, platform, state,
                                platform_status, platform_updated_at, payload, created_at,
                                updated_at)
    VALUES (:order_id, :channel, :external_id, :platform, :state, :platform_status, :at,
            :payload, now(), now())
    ON CONFLICT DO NOTHING
    """
)
# Forward only: a payload no newer than the one kept changes nothing.
_ADVANCE = text(
    """
    UPDATE channel_orders SET state = :state, platform_status = :platform_status,
                              platform_updated_at = :at, payload = :payload, updated_at = now()
    WHERE order_id = :order_id AND platform_updated_at < :at
    RETURNING order_id
    """
)
_RECEIPT = text(
    "SELECT outcome, order_id FROM channel_receipts WHERE channel = :channel AND delivery_id = :d"
)
_KEEP_RECEIPT = text(
    """
    INSERT INTO channel_receipts (channel, delivery_id, order_id, outcome, received_at)
    VALUES (:channel, :d, :order_id, :outcome, now())
    ON CONFLICT (channel, delivery_id) DO NOTHING
    """
)


async def get(engine: AsyncEngine, order_id: str) -> Any:
    """The order's platform row (state, platform_status, platform_updated_at, payload ...),
    or None."""
    async with one_statement(engine) as conn:
        return (await conn.execute(_GET, {"id": order_id})).first()


async def insert(engine: AsyncEngine, row: dict[str, Any]) -> None:
    """The first platform row of an order (kept if one exists): order_id, channel,
    external_id, platform, state, platform_status, at, payload."""
    async with engine.begin() as conn:
        await conn.execute(_INSERT, row)


async def advance(
    engine: AsyncEngine,
    order_id: str,
    *,
    state: str,
    platform_status: str,
    at: datetime,
    payload: bytes,
) -> bool:
    """Move the row to a newer platform state; False if what is kept is as new or newer."""
    params = {
        "order_id": order_id,
        "state": state,
        "platform_status": platform_status,
        "at": at,
        "payload": payload,
    }
    async with engine.begin() as conn:
        return (await conn.execute(_ADVANCE, params)).first() is not None


async def receipt(engine: AsyncEngine, channel: str, delivery_id: str) -> Any:
    """A webhook delivery taken before (outcome, order_id), or None."""
    async with one_statement(engine) as conn:
        return (await conn.execute(_RECEIPT, {"channel": channel, "d": delivery_id})).first()


async def keep_receipt(
    engine: AsyncEngine, channel: str, delivery_id: str, order_id: str | None, outcome: str
) -> None:
    params = {"channel": channel, "d": delivery_id, "order_id": order_id, "outcome": outcome}
    async with engine.begin() as conn:
        await conn.execute(_KEEP_RECEIPT, params)
