"""Read-only: what the console's stock page shows of ``stock``, ``stock_movements`` and
``backorder_lines`` (owned by ``oms.store.stock`` and ``oms.store.reservations``).

A row is a warehouse and SKU: its counters, the last level a source applied (``as_of``,
``source``), and its SKU's backordered demand (the units waiting in ``backorder_lines``,
over every warehouse, since a backorder is filled from any) beside what the SKU has
available over every warehouse. A SKU is short when that demand is above it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

# Pages run in (sku, warehouse_id) order; ``after`` is the last row of the page before.
_LEVELS = text(
    """
    WITH demand AS (
        SELECT sku, sum(quantity) AS units, count(*) AS orders
        FROM backorder_lines GROUP BY sku
    ), short AS (
        SELECT d.sku FROM demand d
        WHERE d.units > (SELECT COALESCE(sum(s.on_hand - s.reserved), 0)
                         FROM stock s WHERE s.sku = d.sku)
    ), page AS (
        SELECT s.warehouse_id, s.sku, s.on_hand, s.reserved, s.as_of, s.source, s.updated_at
        FROM stock s
        WHERE (CAST(:warehouse AS text) IS NULL OR s.warehouse_id = CAST(:warehouse AS text))
          AND (CAST(:prefix AS text) IS NULL OR starts_with(s.sku, CAST(:prefix AS text)))
          AND (NOT :short OR s.sku IN (SELECT sku FROM short))
          AND (CAST(:after_sku AS text) IS NULL
               OR (s.sku, s.warehouse_id) > (CAST(:after_sku AS text),
                                             CAST(:after_warehouse AS text)))
        ORDER BY s.sku, s.warehouse_id
        LIMIT :limit
    )
    SELECT p.*, p.on_hand - p.reserved AS available,
           COALESCE(d.units, 0) AS backordered, COALESCE(d.orders, 0) AS backordered_orders,
           (SELECT COALESCE(sum(t.on_hand - t.reserved), 0) FROM stock t WHERE t.sku = p.sku)
               AS sku_available
    FROM page p LEFT JOIN demand d ON d.sku = p.sku
    ORDER BY p.sku, p.warehouse_id
    """
)
# The last level each source applied that still stands, and how many rows hold one.
_SOURCES = text(
    """
    SELECT source, max(as_of) AS last_as_of, count(*) AS rows
    FROM stock WHERE source IS NOT NULL
    GROUP BY source ORDER BY max(as_of) DESC
    """
)
_MOVEMENTS = text(
    """
    SELECT id, kind, on_hand_delta, reserved_delta, reason, order_id, created_at
    FROM stock_movements
    WHERE warehouse_id = :warehouse AND sku = :sku
    ORDER BY id DESC LIMIT :limit
    """
)


async def levels(
    engine: AsyncEngine,
    warehouse: str | None,
    prefix: str | None,
    short: bool,
    after: tuple[str, str] | None,
    limit: int,
) -> list[Any]:
    """A page of stock rows, in (sku, warehouse) order after ``after`` (sku, warehouse)."""
    params = {
        "warehouse": warehouse,
        "prefix": prefix,
        "short": short,
        "after_sku": after[0] if after else None,
        "after_warehouse": after[1] if after else None,
        "limit": limit,
    }
    async with engine.connect() as conn:
        return list((await conn.execute(_LEVELS, params)).all())


async def sources(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(_SOURCES)).all())


async def movements(engine: AsyncEngine, warehouse: str, sku: str, limit: int = 20) -> list[Any]:
    """The pair's last movements, newest first."""
    params = {"warehouse": warehouse, "sku": sku, "limit": limit}
    async with engine.connect() as conn:
        return list((await conn.execute(_MOVEMENTS, params)).all())
