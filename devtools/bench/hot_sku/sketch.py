"""Phase b' of the hot-SKU benchmark (``--what-if``): a sketch of a leaner reservation."""

from __future__ import annotations

from collections import Counter, defaultdict

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from devtools.bench.hot_sku.row import HotRow, Reserve, activity
from oms.domain.geo import destination
from oms.domain.routing import OutOfStock, WarehouseStock, allocate, strategy_for, with_distances

# --- what if (--what-if): a sketch of a leaner reservation, not the activity -------------------

_SKETCH_GUARD = text("SELECT pg_advisory_xact_lock(hashtext('order-stock:' || :order_id))")
_SKETCH_EXISTING = text("SELECT 1 FROM reservations WHERE order_id = :order_id LIMIT 1")
# Routing reads everything it needs before any stock row is locked.
_SKETCH_CANDIDATES = text(
    """
    SELECT s.warehouse_id, s.sku, s.on_hand - s.reserved AS available, w.priority, w.lat, w.lon
    FROM stock s JOIN warehouses w ON w.id = s.warehouse_id WHERE s.sku = ANY(:skus)
    """
)
_SKETCH_ORDER = text(
    "SELECT channel, view->'shipping_address' AS address FROM orders WHERE id = :id"
)
# One round trip locks the chosen rows (in key order, as the activity does), takes the units
# where they are still free, and writes the reservations and the journal.
_SKETCH_TAKE = text(
    """
    WITH wanted AS (
        SELECT * FROM unnest(CAST(:ws AS text[]), CAST(:skus AS text[]), CAST(:qs AS int[]))
            AS t(w, sku, q)
    ), locked AS (
        SELECT s.warehouse_id, s.sku FROM stock s
        JOIN wanted t ON s.warehouse_id = t.w AND s.sku = t.sku
        ORDER BY s.warehouse_id, s.sku FOR UPDATE OF s
    ), taken AS (
        UPDATE stock s SET reserved = s.reserved + t.q, updated_at = now()
        FROM wanted t, locked l
        WHERE s.warehouse_id = t.w AND s.sku = t.sku
          AND l.warehouse_id = s.warehouse_id AND l.sku = s.sku
          AND s.on_hand - s.reserved >= t.q
        RETURNING s.warehouse_id, s.sku, t.q
    ), held AS (
        INSERT INTO reservations (order_id, warehouse_id, sku, quantity, status, created_at,
                                  updated_at)
        SELECT :order_id, warehouse_id, sku, q, 'held', now(), now() FROM taken
        RETURNING warehouse_id, sku, quantity
    )
    INSERT INTO stock_movements (warehouse_id, sku, kind, on_hand_delta, reserved_delta,
                                 reason, order_id, created_at)
    SELECT warehouse_id, sku, 'reserve', 0, quantity, 'order', :order_id, now() FROM held
    RETURNING warehouse_id
    """
)


class _Moved(Exception):
    """Stock changed between the unlocked read and the write: roll back, take the slow path."""


def sketch(engine: AsyncEngine, row: HotRow, prefix: str, fallbacks: Counter[str]) -> Reserve:
    """Suggestions 1 to 3 of docs/performance.md: route on an unlocked read, then lock only
    the chosen rows in one fused conditional write; the activity itself when stock moved.
    Same guard, same routing code, the rows ``reserve_stock`` writes in round 0 (no round,
    no backorders: see the caveat there); a retry of an order that already holds stock is
    left to the activity (not exercised here)."""
    slow = activity(engine, row, prefix)

    async def reserve(n: int) -> bool:
        order_id, demand = f"{prefix}-{n}", {row.sku: 1}
        try:
            async with engine.begin() as conn:
                await conn.execute(_SKETCH_GUARD, {"order_id": order_id})
                if (await conn.execute(_SKETCH_EXISTING, {"order_id": order_id})).first():
                    raise _Moved("a retry")  # the activity answers it
                rows = (await conn.execute(_SKETCH_CANDIDATES, {"skus": sorted(demand)})).all()
                available: dict[str, dict[str, int]] = defaultdict(dict)
                priority, places = {}, {}
                for r in rows:
                    available[r.warehouse_id][r.sku] = max(0, r.available)
                    priority[r.warehouse_id] = r.priority
                    places[r.warehouse_id] = (r.lat, r.lon)
                order = (await conn.execute(_SKETCH_ORDER, {"id": order_id})).first()
                address = (order.address if order else None) or {}
                to = destination(
                    str(address.get("country", "")), address.get("lat"), address.get("lon")
                )
                stocks = [WarehouseStock(w, priority[w], a) for w, a in available.items()]
                strategy = strategy_for({}, order.channel if order else "default")
                try:
                    plan = allocate(demand, with_distances(stocks, places, to), strategy)
                except OutOfStock:
                    raise _Moved("out of stock") from None  # the activity decides, locked
                lines = [(a.warehouse_id, sku, q) for a in plan for sku, q in a.lines.items()]
                ws, skus, qs = (list(x) for x in zip(*lines, strict=True))
                params = {"order_id": order_id, "ws": ws, "skus": skus, "qs": qs}
                if len((await conn.execute(_SKETCH_TAKE, params)).all()) != len(lines):
                    raise _Moved("stock moved")
        except _Moved as why:
            fallbacks[str(why)] += 1
            return await slow(n)
        return True

    return reserve
