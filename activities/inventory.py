"""Stock steps: reserve, release, commit. PostgreSQL is the only authority on stock.

Every step is one short transaction that locks the stock rows it touches in a fixed order
(warehouse, sku), so concurrent orders queue on the rows instead of deadlocking, and the
``reserved <= on_hand`` CHECK holds whatever happens. Reservations are unique per order,
warehouse and SKU, and each step only moves reservations in the state it expects, so a
retried step changes nothing the second time.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity

from activities.errors import ORDER_CLOSED, OUT_OF_STOCK, business_error
from oms.contract import StockSteps
from oms.domain.geo import destination
from oms.domain.ids import shipment_id_for
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
    Allocation,
    OutOfStock,
    WarehouseStock,
    allocate,
    allocate_available,
    hold_back,
    missing_units,
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
# Units that orders placed earlier wait for, per SKU, as one JSON object: a later order
# must leave them.
_AHEAD_OF = """(SELECT coalesce(jsonb_object_agg(sku, units), '{}'::jsonb) FROM (
        SELECT sku, sum(quantity) AS units FROM backorder_lines
        WHERE sku = ANY(:skus) AND (ordered_at, order_id) < (:ordered_at, :order_id)
        GROUP BY sku) AS earlier)"""
# The stock rows, locked, and (read in the same statement) the units held back for earlier
# backorders. That read's snapshot predates the lock, so the write checks it again.
_LOCK_STOCK = text(
    f"""
    SELECT s.warehouse_id, s.sku, s.on_hand - s.reserved AS available, w.priority,
           {_AHEAD_OF} AS ahead
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
    "updated_at, round, shipment_id) "
    "VALUES (:order_id, :w, :sku, :q, 'held', now(), now(), :round, :shipment_id)"
)
# A round's reservations in one statement: the stock counters, the reservation rows and
# the journal (one round trip while the stock rows are locked).
# Written only if the held-back units are still those the allocation assumed (a statement
# started under the lock sees every queue change made before it): else nothing, and the
# round is worked out again.
_RESERVE_ROWS = text(
    f"""
    WITH wanted AS (
        SELECT * FROM unnest(CAST(:ws AS text[]), CAST(:line_skus AS text[]),
                             CAST(:qs AS int[]), CAST(:sids AS text[])) AS t(w, sku, q, sid)
        WHERE CAST(:ahead_seen AS jsonb) IS NULL OR {_AHEAD_OF} = CAST(:ahead_seen AS jsonb)
    ), counted AS (
        UPDATE stock s SET reserved = s.reserved + wanted.q, updated_at = now()
        FROM wanted WHERE s.warehouse_id = wanted.w AND s.sku = wanted.sku
        RETURNING s.warehouse_id
    ), held AS (
        INSERT INTO reservations (order_id, warehouse_id, sku, quantity, status, created_at,
                                  updated_at, round, shipment_id)
        SELECT :order_id, w, sku, q, 'held', now(), now(), :round, sid FROM wanted
        RETURNING id
    )
    INSERT INTO stock_movements (warehouse_id, sku, kind, on_hand_delta, reserved_delta,
                                 reason, order_id, created_at)
    SELECT w, sku, 'reserve', 0, q, 'order', :order_id, now() FROM wanted
    RETURNING 1
    """
)
_ROUND_ROWS = text(
    "SELECT warehouse_id, sku, quantity, status, shipment_id FROM reservations "
    "WHERE order_id = :order_id AND round = :round ORDER BY shipment_id, warehouse_id, sku"
)
# Units that orders placed earlier wait for, per SKU: a later order must leave them.
_AHEAD = text(
    """
    SELECT sku, sum(quantity) AS units FROM backorder_lines
    WHERE sku = ANY(:skus) AND (ordered_at, order_id) < (:ordered_at, :order_id)
    GROUP BY sku
    """
)
_QUEUE = text(
    """
    INSERT INTO backorder_lines AS b (order_id, sku, quantity, ordered_at, created_at)
    VALUES (:order_id, :sku, :q, :ordered_at, now())
    ON CONFLICT (order_id, sku) DO UPDATE SET quantity = excluded.quantity
        WHERE b.quantity <> excluded.quantity
    """
)
_UNQUEUE = text("DELETE FROM backorder_lines WHERE order_id = :order_id AND NOT (sku = ANY(:keep))")
_MOVEMENT = text(
    "INSERT INTO stock_movements (warehouse_id, sku, kind, on_hand_delta, reserved_delta, "
    "reason, order_id, created_at) VALUES (:w, :sku, :kind, :dh, :dr, :reason, :order_id, now())"
)
# Which held rows a step moves: all of the order's, one warehouse's (orders from before
# rounds), or one shipment's. Rows from before rounds have no shipment id.
_WHICH = """
      AND (CAST(:w AS text) IS NULL OR warehouse_id = :w)
      AND (CAST(:sid AS text) IS NULL OR shipment_id = :sid OR shipment_id IS NULL)
"""
# Whether a step takes the units off on_hand: a commit does, unless the stock row holds a
# level synced from the source as of the time the goods left, or later (already without
# them); a release never does.
_FACTOR = """(CASE WHEN :on_hand_factor = 1 AND (CAST(:shipped_at AS timestamptz) IS NULL
              OR s.as_of IS NULL OR s.as_of < CAST(:shipped_at AS timestamptz))
         THEN 1 ELSE 0 END)"""
# The rows a step moves, and (when the whole order is released) the SKUs it waited for:
# locked in one statement, in the same order every step uses.
_LOCK_HELD = text(
    f"""
    SELECT s.warehouse_id, s.sku FROM stock s
    WHERE (s.warehouse_id, s.sku) IN (
        SELECT warehouse_id, sku FROM reservations
        WHERE order_id = :order_id AND status = 'held' {_WHICH}
    ) OR (:everything AND s.sku IN (SELECT sku FROM backorder_lines WHERE order_id = :order_id))
    ORDER BY s.warehouse_id, s.sku
    FOR UPDATE OF s
    """
)
# One statement moves the held reservations and the stock counters together.
_SETTLE = text(
    f"""
    WITH moved AS (
        UPDATE reservations SET status = :new_status, updated_at = now()
        WHERE order_id = :order_id AND status = 'held' {_WHICH}
        RETURNING warehouse_id, sku, quantity
    ), changed AS (
        UPDATE stock s SET on_hand = s.on_hand - m.quantity * {_FACTOR},
                           reserved = s.reserved - m.quantity, updated_at = now()
        FROM moved m WHERE s.warehouse_id = m.warehouse_id AND s.sku = m.sku
        RETURNING s.warehouse_id, s.sku, m.quantity, {_FACTOR} AS factor
    )
    INSERT INTO stock_movements (warehouse_id, sku, kind, on_hand_delta, reserved_delta,
                                 reason, order_id, created_at)
    SELECT warehouse_id, sku, :kind, -quantity * factor, -quantity, :reason,
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


def _plan_round(
    req: ReserveRequest, demand: dict[str, int], usable: list[WarehouseStock], strategy: str
) -> tuple[list[tuple[str, str, int, str]], dict[str, int]]:
    """A round's reservation rows (warehouse, sku, units, shipment id) from the stock it
    may use, and the units short; or OutOfStock when the order fails fast."""
    short = missing_units(demand, usable)
    allocations: list[Allocation] = []
    if req.partial:
        allocations, _ = allocate_available(demand, usable, strategy)
    elif not short:
        allocations = allocate(demand, usable, strategy)
    elif not req.backorder:
        log.info("out_of_stock", order_id=req.order_id, skus=sorted(short))
        raise business_error(OUT_OF_STOCK, f"not enough stock for: {sorted(short)}", sorted(short))
    rows = [
        (a.warehouse_id, sku, q, shipment_id_for(req.order_id, req.first_shipment + n))
        for n, a in enumerate(allocations)
        for sku, q in a.lines.items()
    ]
    return rows, short


def _round_result(
    rows: list[tuple[str, str, int, str]],
    demand: dict[str, int],
    strategy: str = "",
    stocks: list[WarehouseStock] | None = None,
) -> ReserveResult:
    """A round's shipments (warehouse_id, sku, quantity, shipment_id rows, in shipment
    order) and what of ``demand`` they leave unreserved."""
    shipments: dict[str, WarehouseAllocation] = {}
    left = dict(demand)
    for warehouse_id, sku, quantity, shipment_id in rows:
        shipment = shipments.setdefault(
            shipment_id, WarehouseAllocation(warehouse_id, [], shipment_id)
        )
        shipment.lines.append(SkuQuantity(sku, quantity))
        left[sku] -= quantity
    weighed = [RouteCandidate(s.warehouse_id, s.priority, s.distance_km) for s in stocks or []]
    unreserved = [SkuQuantity(sku, q) for sku, q in sorted(left.items()) if q > 0]
    return ReserveResult(list(shipments.values()), strategy, weighed, unreserved)


_ORDER_FACTS = text(
    "SELECT channel, created_at, view->'shipping_address' AS address FROM orders WHERE id = :id"
)


def _moment(value: str | None) -> datetime | None:
    """A partner's timestamp, if it is a valid one with a time zone; else None."""
    try:
        moment = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


_QUEUED_AT = text("SELECT min(ordered_at) FROM backorder_lines WHERE order_id = :id")


async def _queued_at(conn: AsyncConnection, order_id: str) -> datetime:
    """An order with no read-model row (a direct call): its place in the queue, if any."""
    queued = (await conn.execute(_QUEUED_AT, {"id": order_id})).scalar()
    return queued if queued is not None else datetime.now(UTC)


_PLACES = text("SELECT id, lat, lon FROM warehouses WHERE id = ANY(:ids)")
_PLACES_OF = text(
    "SELECT id, lat, lon FROM warehouses "
    "WHERE id IN (SELECT warehouse_id FROM stock WHERE sku = ANY(:skus))"
)


class InventoryActivities(StockSteps):
    def __init__(self, engine: AsyncEngine, routing: dict[str, str] | None = None) -> None:
        self._engine = engine
        self._routing = routing or {}

    @activity.defn
    async def reserve_stock(self, req: ReserveRequest) -> ReserveResult:
        demand: dict[str, int] = defaultdict(int)
        for line in req.lines:
            demand[line.sku] += line.quantity
        if req.round > 0:
            return await self._reserve_round(req, dict(demand))
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
            strategy, stocks, _, _ = await self._candidates(conn, dict(demand), req.order_id)
            try:
                allocations = allocate(dict(demand), stocks, strategy)
            except OutOfStock as exc:
                log.info("out_of_stock", order_id=req.order_id, skus=exc.skus)
                raise business_error(OUT_OF_STOCK, str(exc), exc.skus) from exc
            rows = [(a.warehouse_id, sku, q) for a in allocations for sku, q in a.lines.items()]
            # Round 0: an order started before rounds; its rows belong to no one shipment.
            params = [
                {
                    "order_id": req.order_id,
                    "w": w,
                    "sku": s,
                    "q": q,
                    "round": 0,
                    "shipment_id": None,
                }
                for w, s, q in rows
            ]
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

    async def _reserve_round(self, req: ReserveRequest, demand: dict[str, int]) -> ReserveResult:
        """One round: reserve what the order still needs, leaving what earlier backorders
        wait for, in new shipments numbered from ``first_shipment``; with ``backorder``,
        queue what stays unreserved. A retried round answers what it reserved the first
        time."""
        async with self._engine.begin() as conn:
            await conn.execute(_ORDER_LOCK, {"order_id": req.order_id})
            params = {"order_id": req.order_id, "round": req.round}
            existing = (await conn.execute(_ROUND_ROWS, params)).all()
            if existing and all(r.status == "released" for r in existing):
                raise business_error(ORDER_CLOSED, "the order's reservations were released")
            if existing:
                held = [
                    (r.warehouse_id, r.sku, r.quantity, r.shipment_id)
                    for r in existing
                    if r.status != "released"
                ]
                again = _round_result(held, demand)
                again.short = again.unreserved
                return again
            found = await self._candidates(conn, demand, req.order_id)
            strategy, stocks, ordered_at, ahead = found
            stocks = [s for s in stocks if s.warehouse_id not in req.exclude]
            rows, short = _plan_round(req, demand, hold_back(stocks, ahead), strategy)
            written = await self._write_round(conn, params, rows, ordered_at, ahead)
            if not written:
                # The queue changed while this round waited for the lock: read it again,
                # now under the lock, and plan again.
                queue = {"skus": sorted(demand), "ordered_at": ordered_at, **params}
                ahead = {r.sku: int(r.units) for r in await conn.execute(_AHEAD, queue)}
                rows, short = _plan_round(req, demand, hold_back(stocks, ahead), strategy)
                await self._write_round(conn, params, rows, ordered_at, None)
            result = _round_result(rows, demand, strategy, stocks)
            if req.backorder:
                waiting = {line.sku: line.quantity for line in result.unreserved}
                await conn.execute(_UNQUEUE, {"order_id": req.order_id, "keep": sorted(waiting)})
                if waiting:
                    await conn.execute(
                        _QUEUE,
                        [
                            {**params, "sku": sku, "q": q, "ordered_at": ordered_at}
                            for sku, q in sorted(waiting.items())
                        ],
                    )
        result.short = [SkuQuantity(sku, q) for sku, q in sorted(short.items())]
        log.info(
            "stock_reserved" if rows else "stock_short",
            order_id=req.order_id,
            round=req.round,
            strategy=strategy,
            warehouses=[a.warehouse_id for a in result.allocations],
            unreserved={line.sku: line.quantity for line in result.unreserved},
        )
        return result

    async def _write_round(
        self,
        conn: AsyncConnection,
        params: dict[str, Any],
        rows: list[tuple[str, str, int, str]],
        ordered_at: datetime,
        ahead: dict[str, int] | None,
    ) -> bool:
        """Write a round's reservations, if the held-back units are still ``ahead``
        (None: no check). False if they were not."""
        if not rows:
            return True
        columns = list(zip(*rows, strict=True))
        written = (
            await conn.execute(
                _RESERVE_ROWS,
                {
                    **params,
                    "ws": list(columns[0]),
                    "line_skus": list(columns[1]),
                    "skus": sorted(set(columns[1])),
                    "qs": list(columns[2]),
                    "sids": list(columns[3]),
                    "ordered_at": ordered_at,
                    "ahead_seen": None if ahead is None else json.dumps(ahead),
                },
            )
        ).all()
        return len(written) == len(rows)

    async def _candidates(
        self, conn: AsyncConnection, demand: dict[str, int], order_id: str
    ) -> tuple[str, list[WarehouseStock], datetime, dict[str, int]]:
        """The routing strategy of the order's channel, the stock of every warehouse
        holding a demanded SKU (locked), with its distance to the shipping address, when
        the order was placed (its place in the backorder queue), and the units held back
        for earlier backorders as seen by the locking read.

        What needs no lock is read first: a hot SKU's rows stay locked only from the
        locking read to the commit."""
        skus = sorted(demand)
        order = (await conn.execute(_ORDER_FACTS, {"id": order_id})).first()
        channel = order.channel if order else "default"
        address = (order.address if order else None) or {}
        to = destination(str(address.get("country", "")), address.get("lat"), address.get("lon"))
        places = {r.id: (r.lat, r.lon) for r in await conn.execute(_PLACES_OF, {"skus": skus})}
        ordered_at = order.created_at if order else await _queued_at(conn, order_id)
        rows = (
            await conn.execute(
                _LOCK_STOCK, {"skus": skus, "ordered_at": ordered_at, "order_id": order_id}
            )
        ).all()
        ahead = {sku: int(units) for sku, units in (rows[0].ahead if rows else {}).items()}
        available: dict[str, dict[str, int]] = defaultdict(dict)
        priority: dict[str, int] = {}
        for row in rows:
            available[row.warehouse_id][row.sku] = max(0, row.available)
            priority[row.warehouse_id] = row.priority
        if to is not None and (unplaced := sorted(set(available) - set(places))):
            # Stock rows created since the first read: their warehouses' places too.
            places |= {r.id: (r.lat, r.lon) for r in await conn.execute(_PLACES, {"ids": unplaced})}
        stocks = [WarehouseStock(w, priority[w], avail) for w, avail in available.items()]
        strategy = strategy_for(self._routing, channel)
        return strategy, with_distances(stocks, places, to), ordered_at, ahead

    async def _settle(
        self,
        order_id: str,
        warehouse: str | None,
        *,
        kind: str,
        reason: str,
        shipment: str | None = None,
        shipped_at: datetime | None = None,
    ) -> int:
        committed = kind == "commit"
        # Releasing the whole order (it ended) also takes it out of the backorder queue.
        everything = not committed and warehouse is None and shipment is None
        which = {"order_id": order_id, "w": warehouse, "sid": shipment}
        async with self._engine.begin() as conn:
            await conn.execute(_ORDER_LOCK, {"order_id": order_id})
            await conn.execute(_LOCK_HELD, {**which, "everything": everything})
            rows = (
                await conn.execute(
                    _SETTLE,
                    {
                        **which,
                        "kind": kind,
                        "reason": reason,
                        "new_status": "committed" if committed else "released",
                        "on_hand_factor": 1 if committed else 0,
                        "shipped_at": shipped_at,
                    },
                )
            ).all()
            if everything:
                await conn.execute(_UNQUEUE, {"order_id": order_id, "keep": []})
        units = -sum(r.reserved_delta for r in rows)
        log.info(f"stock_{kind}", order_id=order_id, warehouse=warehouse, units=units)
        return units

    @activity.defn
    async def release_stock(self, req: ReleaseRequest) -> StockChangeResult:
        if req.queue_only:  # a backorder given up while the rest of the order goes on
            async with self._engine.begin() as conn:
                await conn.execute(_UNQUEUE, {"order_id": req.order_id, "keep": []})
            return StockChangeResult(0)
        units = await self._settle(
            req.order_id,
            req.warehouse_id,
            kind="release",
            reason=req.reason,
            shipment=req.shipment_id,
        )
        return StockChangeResult(units)

    @activity.defn
    async def commit_stock(self, req: CommitRequest) -> StockChangeResult:
        units = await self._settle(
            req.order_id,
            req.warehouse_id,
            kind="commit",
            reason=f"shipment {req.shipment_id}",
            shipment=req.shipment_id,
            shipped_at=_moment(req.shipped_at),
        )
        return StockChangeResult(units)
