"""``payments``: the OMS's payment ledger. One settled row (succeeded or declined) per
idempotency key (a unique partial index), and a ``failed`` row for every attempt that
reached no verdict."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oms.store import orders

_INSERT = text(
    """
    INSERT INTO payments (order_id, kind, status, amount, currency, idempotency_key,
                          gateway_reference, error, created_at)
    VALUES (:order_id, :kind, :status, :amount, :currency, :key, :reference, :error, now())
    ON CONFLICT (idempotency_key) WHERE status <> 'failed' DO NOTHING
    """
)
_FIND = text(
    "SELECT status, amount, gateway_reference FROM payments "
    "WHERE idempotency_key = :key AND status <> 'failed'"
)
_OF_ORDER = text(
    "SELECT kind, status, amount, currency, idempotency_key, gateway_reference, "
    "error, created_at FROM payments WHERE order_id = :id "
    "ORDER BY created_at, id"
)


async def of_order(conn: AsyncConnection, order_id: str) -> list[Any]:
    """The order's entries, oldest first, in the caller's connection."""
    return list((await conn.execute(_OF_ORDER, {"id": order_id})).all())


async def settled(engine: AsyncEngine, key: str) -> Any:
    """The settled entry of an idempotency key (status, amount, gateway_reference), or None."""
    async with engine.connect() as conn:
        return (await conn.execute(_FIND, {"key": key})).first()


async def record(
    engine: AsyncEngine,
    *,
    order_id: str,
    kind: str,
    status: str,
    amount: Decimal,
    currency: str,
    key: str,
    reference: str | None,
    error: str | None,
) -> None:
    """Add an entry; a second settled entry for the key is not written."""
    async with engine.begin() as conn:
        await conn.execute(
            _INSERT,
            {
                "order_id": order_id,
                "kind": kind,
                "status": status,
                "amount": amount,
                "currency": currency,
                "key": key,
                "reference": reference,
                "error": error,
            },
        )


async def ledger(engine: AsyncEngine, order_id: str) -> list[Any] | None:
    """The order's entries, oldest first; None when there is no such order."""
    async with engine.connect() as conn:
        if not await orders.exists(conn, order_id):
            return None
        return list((await conn.execute(_OF_ORDER, {"id": order_id})).all())
