"""Stock steps: reserve, release, commit. PostgreSQL is the only authority on stock.

Every step is one short transaction that locks the stock rows it touches in a fixed order
(warehouse, sku), so concurrent orders queue on the rows instead of deadlocking, and the
``reserved <= on_hand`` CHECK holds whatever happens. Reservations are unique per order,
warehouse and SKU, and each step only moves reservations in the state it expects, so a
retried step changes nothing the second time.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity

from activities.errors import ORDER_CLOSED, OUT_OF_STOCK, business_error
from oms.domain.geo import destination
from oms.domain.messages import (
    CommitRequest,
    ReleaseRequest,
    ReserveRequest,
    ReserveResult,
    RouteCandidate,
    SkuQuantity,
    StockChangeResult,
    WarehouseAllocation,
)
from oms.domain.routing import (
    OutOfStock,
    WarehouseStock,
    allocate,
    strategy_for,
    with_distances,
)
from oms.logging import get_logger

log = get_logger(__name__)

_ORDER_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('order-stock:' || :order_id))")
_EXISTING = text(
    "SELECT warehouse_id, sku, quantity, status FROM reservations WHERE order_id = :order_id "
    "ORDER BY warehouse_id, sku"
)
_LOCK_STOCK = text(
    """
    SELECT s.warehouse_id, s.sku, s.on_hand - s.reserved AS available, w.priority
    FROM stock s JOIN warehouses w ON w.id = s.warehouse_id
    WHERE s.sku = ANY(:skus)
    ORDER BY s.warehouse_id, s.sku
    FOR UPDATE OF s
    """
)
_RESERVE = text(
    "UPDATE stock SET reserved = reserved + :q, updated_at = now() "
    "WHERE warehouse_id = :w AND sku = :sku"
)
_INSERT_RESERVATION = text(
    "INSERT INTO reservations (order_id, warehouse_id, sku, quantity, status, created_at, "
    "updated_at) VALUES (:order_id, :w, :sku, :q, 'held', now(), now())"
)
_MOVEMENT = text(
    "INSERT INTO stock_movements (warehouse_id, sku, kind, on_hand_delta, reserved_delta, "
    "reason, order_id, created_at) VALUES (:w, :sku, :kind, :dh, :dr, :reason, :order_id, now())"
)
_LOCK_HELD = text(
    """
    SELECT s.warehouse_id, s.sku FROM stock s
    JOIN reservations r ON r.warehouse_id = s.warehouse_id AND r.sku = s.sku
    WHERE r.order_id = :order_id AND r.status = 'held'
      AND (CAST(:w AS text) IS NULL OR r.warehouse_id = :w)
    ORDER BY s.warehouse_id, s.sku
    FOR UPDATE OF s
    """
)
# One statement moves the held reservations and the stock counters together.
_SETTLE = text(
    """
    WITH moved AS (
        UPDATE reservations SET status = :new_status, updated_at = now()
        WHERE order_id = :order_id AND status = 'held'
          AND (CAST(:w AS text) IS NULL OR warehouse_id = :w)
        RETURNING warehouse_id, sku, quantity
    ), changed AS (
        UPDATE stock s SET on_hand = s.on_hand - m.quantity * :on_hand_factor,
                           reserved = s.reserved - m.quantity, updated_at = now()
        FROM moved m WHERE s.warehouse_id = m.warehouse_id AND s.sku = m.sku
        RETURNING s.warehouse_id, s.sku, m.quantity
    )
    INSERT INTO stock_movements (warehouse_id, sku, kind, on_hand_delta, reserved_delta,
                                 reason, order_id, created_at)
    SELECT warehouse_id, sku, :kind, -quantity * :on_hand_factor, -quantity, :reason,
           :order_id, now()
    FROM changed
    RETURNING on_hand_delta, reserved_delta
    """
)


def _group(rows: list[tuple[str, str, int]]) -> list[WarehouseAllocation]:
    by_warehouse: dict[str, list[SkuQuantity]] = defaultdict(list)
    for warehouse_id, sku, quantity in rows:
        by_warehouse[warehouse_id].append(SkuQuantity(sku, quantity))
    return [WarehouseAllocation(w, lines) for w, lines in by_warehouse.items()]


_ORDER_FACTS = text(
    "SELECT channel, view->'shipping_address' AS address FROM orders WHERE id = :id"
)
_PLACES = text("SELECT id, lat, lon FROM warehouses WHERE id = ANY(:ids)")


class InventoryActivities:
    def __init__(self, engine: AsyncEngine, routing: dict[str, str] | None = None) -> None:
        self._engine = engine
        self._routing = routing or {}

    @activity.defn(name="reserve_stock")
    async def reserve_stock(self, req: ReserveRequest) -> ReserveResult:
        demand: dict[str, int] = defaultdict(int)
        for line in req.lines:
            demand[line.sku] += line.quantity
        async with self._engine.begin() as conn:
            await conn.execute(_ORDER_LOCK, {"order_id": req.order_id})
            existing = (await conn.execute(_EXISTING, {"order_id": req.order_id})).all()
            held = [(r.warehouse_id, r.sku, r.quantity) for r in existing if r.status != "released"]
            if held:
                # A retry after a committed first attempt: answer with what is held.
                return ReserveResult(_group(held))
            if existing:
                # Everything was released: the order was compensated and must not take
                # stock again (a second run of the same order).
                raise business_error(ORDER_CLOSED, "the order's reservations were released")
            strategy, stocks = await self._candidates(conn, dict(demand), req.order_id)
            try:
                allocations = allocate(dict(demand), stocks, strategy)
            except OutOfStock as exc:
                log.info("out_of_stock", order_id=req.order_id, skus=exc.skus)
                raise business_error(OUT_OF_STOCK, str(exc), exc.skus) from exc
            rows = [(a.warehouse_id, sku, q) for a in allocations for sku, q in a.lines.items()]
            params = [{"order_id": req.order_id, "w": w, "sku": s, "q": q} for w, s, q in rows]
            await conn.execute(_RESERVE, params)
            await conn.execute(_INSERT_RESERVATION, params)
            await conn.execute(
                _MOVEMENT,
                [
                    {**p, "kind": "reserve", "dh": 0, "dr": p["q"], "reason": "order"}
                    for p in params
                ],
            )
        log.info(
            "stock_reserved",
            order_id=req.order_id,
            strategy=strategy,
            warehouses=[a.warehouse_id for a in allocations],
        )
        weighed = [RouteCandidate(s.warehouse_id, s.priority, s.distance_km) for s in stocks]
        return ReserveResult(_group(rows), strategy, weighed)

    async def _candidates(
        self, conn: AsyncConnection, demand: dict[str, int], order_id: str
    ) -> tuple[str, list[WarehouseStock]]:
        """The routing strategy of the order's channel, and the stock of every warehouse
        holding a demanded SKU (locked), with its distance to the shipping address."""
        rows = (await conn.execute(_LOCK_STOCK, {"skus": sorted(demand)})).all()
        available: dict[str, dict[str, int]] = defaultdict(dict)
        priority: dict[str, int] = {}
        for row in rows:
            available[row.warehouse_id][row.sku] = max(0, row.available)
            priority[row.warehouse_id] = row.priority
        stocks = [WarehouseStock(w, priority[w], avail) for w, avail in available.items()]
        order = (await conn.execute(_ORDER_FACTS, {"id": order_id})).first()
        channel = order.channel if order else "default"
        address = (order.address if order else None) or {}
        to = destination(str(address.get("country", "")), address.get("lat"), address.get("lon"))
        places = {
            r.id: (r.lat, r.lon) for r in await conn.execute(_PLACES, {"ids": sorted(available)})
        }
        return strategy_for(self._routing, channel), with_distances(stocks, places, to)

    async def _settle(self, order_id: str, warehouse: str | None, *, kind: str, reason: str) -> int:
        committed = kind == "commit"
        async with self._engine.begin() as conn:
            await conn.execute(_ORDER_LOCK, {"order_id": order_id})
            await conn.execute(_LOCK_HELD, {"order_id": order_id, "w": warehouse})
            rows = (
                await conn.execute(
                    _SETTLE,
                    {
                        "order_id": order_id,
                        "w": warehouse,
                        "kind": kind,
                        "reason": reason,
                        "new_status": "committed" if committed else "released",
                        "on_hand_factor": 1 if committed else 0,
                    },
                )
            ).all()
        units = -sum(r.reserved_delta for r in rows)
        log.info(f"stock_{kind}", order_id=order_id, warehouse=warehouse, units=units)
        return units

    @activity.defn(name="release_stock")
    async def release_stock(self, req: ReleaseRequest) -> StockChangeResult:
        units = await self._settle(
            req.order_id, req.warehouse_id, kind="release", reason=req.reason
        )
        return StockChangeResult(units)

    @activity.defn(name="commit_stock")
    async def commit_stock(self, req: CommitRequest) -> StockChangeResult:
        units = await self._settle(
            req.order_id, req.warehouse_id, kind="commit", reason=f"shipment {req.shipment_id}"
        )
        return StockChangeResult(units)
