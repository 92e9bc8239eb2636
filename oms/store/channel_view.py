"""Read-only: what the console's channels page shows of ``orders`` and ``alerts`` per
channel (owned by ``oms.store.orders`` and ``oms.store.alerts``): the last order each
channel gave, its shadow decisions of the last day, and its open alerts (those a pull
raises name their channel in ``detail``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

# One index range per channel (orders (channel, created_at)).
_LAST_ORDERS = text(
    """
    SELECT c.name AS channel, o.created_at
    FROM unnest(CAST(:names AS text[])) AS c(name)
    CROSS JOIN LATERAL (
        SELECT created_at FROM orders WHERE channel = c.name
        ORDER BY created_at DESC LIMIT 1
    ) o
    """
)
_SHADOWED = text(
    """
    SELECT channel, count(*) AS n FROM orders
    WHERE channel = ANY(CAST(:names AS text[])) AND created_at >= :since
      AND jsonb_typeof(view->'shadow') = 'object'
    GROUP BY channel
    """
)
_OPEN_ALERTS = text(
    """
    SELECT detail->>'channel' AS channel, kind, count(*) AS n, max(created_at) AS newest
    FROM alerts
    WHERE status = 'open' AND detail->>'channel' IS NOT NULL
    GROUP BY 1, 2 ORDER BY 1, 2
    """
)


async def last_orders(engine: AsyncEngine, names: Sequence[str]) -> dict[str, datetime]:
    async with engine.connect() as conn:
        rows = await conn.execute(_LAST_ORDERS, {"names": list(names)})
        return {r.channel: r.created_at for r in rows}


async def shadowed_since(
    engine: AsyncEngine, names: Sequence[str], since: datetime
) -> dict[str, int]:
    """Orders of each channel since ``since`` whose decisions were recorded in shadow."""
    async with engine.connect() as conn:
        rows = await conn.execute(_SHADOWED, {"names": list(names), "since": since})
        return {r.channel: int(r.n) for r in rows}


async def open_alerts(engine: AsyncEngine) -> dict[str, list[Any]]:
    """Open alerts that name a channel: per channel, each kind with its count."""
    found: dict[str, list[Any]] = {}
    async with engine.connect() as conn:
        for r in await conn.execute(_OPEN_ALERTS):
            found.setdefault(r.channel, []).append(r)
    return found
