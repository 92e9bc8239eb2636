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

# Pages run in (sku, warehouse_id) order, byte-wise (COLLATE "C", whatever the database's
# collation), on the indexes of migration 0014; ``after`` is the last row of the page before.
# A statement per combination of filters, so that each gets a plan using its index.
_C = 'COLLATE "C"'
_DEMAND = """
    WITH demand AS (
        SELECT sku, sum(quantity) AS units, count(*) AS orders
        FROM backorder_lines GROUP BY sku
    )"""
# The SKUs whose backordered demand is above what they have available over every
# warehouse: few, read first, so that the page reads their rows by SKU.
_SHORT_SKUS = text(
    """
    SELECT d.sku FROM (SELECT sku, sum(quantity) AS units FROM backorder_lines GROUP BY sku) d
    WHERE d.units > (SELECT COALESCE(sum(t.on_hand - t.reserved), 0)
                     FROM stock t WHERE t.sku = d.sku)
    """
)
_FILTERS = {
    "warehouse": f"s.warehouse_id {_C} = CAST(:warehouse AS text) {_C}",
    # SKUs are ASCII letters, digits and ._- only: every one starting with the prefix sorts
    # below the prefix followed by "~".
    "prefix": f"s.sku {_C} >= :prefix AND s.sku {_C} < :prefix_end AND starts_with(s.sku, :prefix)",
    "short": "true",  # the rows of the short SKUs are the FROM (below)
    "after": f"(s.sku {_C}, s.warehouse_id {_C}) "
    f"> (CAST(:after_sku AS text) {_C}, CAST(:after_warehouse AS text) {_C})",
}


def _levels_statement(filters: tuple[str, ...]) -> Any:
    where = " AND ".join(_FILTERS[f] for f in filters) or "true"
    # The short SKUs' rows read by SKU, apart (OFFSET 0): not the whole table in page
    # order, which a plan made without the array's length may prefer.
    rows = (
        "(SELECT * FROM stock WHERE sku = ANY(CAST(:short_skus AS text[])) OFFSET 0) s"
        if "short" in filters
        else "stock s"
    )
    return text(
        f"""
        {_DEMAND}, page AS (
            SELECT s.warehouse_id, s.sku, s.on_hand, s.reserved, s.as_of, s.source,
                   s.updated_at
            FROM {rows}
            WHERE {where}
            ORDER BY s.sku {_C}, s.warehouse_id {_C}
            LIMIT :limit
        )
        SELECT p.*, p.on_hand - p.reserved AS available,
               COALESCE(d.units, 0) AS backordered,
               COALESCE(d.orders, 0) AS backordered_orders,
               (SELECT COALESCE(sum(t.on_hand - t.reserved), 0) FROM stock t
                WHERE t.sku = p.sku) AS sku_available
        FROM page p LEFT JOIN demand d ON d.sku = p.sku
        ORDER BY p.sku {_C}, p.warehouse_id {_C}
        """
    )


_LEVELS = {
    combo: _levels_statement(combo)
    for combo in (
        tuple(f for f, on in zip(_FILTERS, mask, strict=True) if on)
        for mask in [[bool(n >> i & 1) for i in range(len(_FILTERS))] for n in range(16)]
    )
}
# The newest level each source applied that still stands: the sources walked one by one
# on the (source, as_of) index, not the whole table grouped.
_SOURCES = text(
    """
    WITH RECURSIVE sources AS (
        (SELECT source FROM stock WHERE source IS NOT NULL ORDER BY source LIMIT 1)
        UNION ALL
        SELECT (SELECT s.source FROM stock s WHERE s.source > sources.source
                ORDER BY s.source LIMIT 1)
        FROM sources WHERE sources.source IS NOT NULL
    )
    SELECT source,
           (SELECT max(as_of) FROM stock s WHERE s.source = sources.source) AS last_as_of
    FROM sources WHERE source IS NOT NULL
    ORDER BY last_as_of DESC NULLS LAST
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
    on = {
        "warehouse": bool(warehouse),
        "prefix": bool(prefix),
        "short": short,
        "after": bool(after),
    }
    statement = _LEVELS[tuple(f for f in _FILTERS if on[f])]
    params: dict[str, Any] = {"limit": limit}
    if warehouse:
        params["warehouse"] = warehouse
    if prefix:
        params["prefix"], params["prefix_end"] = prefix, prefix + "~"
    if after:
        params["after_sku"], params["after_warehouse"] = after
    async with engine.connect() as conn:
        if short:
            params["short_skus"] = [r.sku for r in await conn.execute(_SHORT_SKUS)]
            if not params["short_skus"]:
                return []
        return list((await conn.execute(statement, params)).all())


async def sources(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(_SOURCES)).all())


async def movements(engine: AsyncEngine, warehouse: str, sku: str, limit: int = 20) -> list[Any]:
    """The pair's last movements, newest first."""
    params = {"warehouse": warehouse, "sku": sku, "limit": limit}
    async with engine.connect() as conn:
        return list((await conn.execute(_MOVEMENTS, params)).all())
