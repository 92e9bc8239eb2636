"""Stock steps: reserve, release, commit. PostgreSQL is the only authority on stock.

Every step is one short transaction that locks the stock rows it touches in a fixed order
(warehouse, sku), so concurrent orders queue on the rows instead of deadlocking, and the
``reserved <= on_hand`` CHECK holds whatever happens. Reservations are unique per order,
warehouse and SKU, and each step only moves reservations in the state it expects, so a
retried step changes nothing the second time.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity

from activities.errors import ORDER_CLOSED, OUT_OF_STOCK, business_error
from oms import channel_registry
from oms.contract import StockSteps
from oms.domain.delivery import MIN_SAMPLES, region_of, with_expectations
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
    StockEdit,
    WarehouseAllocation,
)
from oms.domain.routing import (
    DAY_VALUE,
    Allocation,
    OutOfStock,
    WarehouseStock,
    allocate,
    allocate_available,
    compare,
    hold_back,
    missing_units,
    outcome,
    strategy_for,
    with_distances,
)
from oms.domain.status import ReservationStatus
from oms.logging import get_logger
from oms.store import orders, reservations, warehouses
from oms.store import routing as routing_store

log = get_logger(__name__)
RELEASED = ReservationStatus.RELEASED


def _group(rows: list[tuple[str, str, int]]) -> list[WarehouseAllocation]:
    by_warehouse: dict[str, list[SkuQuantity]] = defaultdict(list)
    for warehouse_id, sku, quantity in rows:
        by_warehouse[warehouse_id].append(SkuQuantity(sku, quantity))
    return [WarehouseAllocation(w, lines) for w, lines in by_warehouse.items()]


@dataclass
class Route:
    """What the allocation of one order reads before it chooses: the strategy, the
    stock (locked) with distances, delivery days and costs, the order's place in the
    backorder queue and what earlier backorders wait for, its channel and region."""

    strategy: str
    stocks: list[WarehouseStock]
    ordered_at: datetime
    ahead: dict[str, int]
    channel: str
    region: tuple[str, str]


def _plan_round(
    req: ReserveRequest,
    demand: dict[str, int],
    usable: list[WarehouseStock],
    strategy: str,
    day_value: float = DAY_VALUE,
) -> tuple[list[tuple[str, str, int, str]], dict[str, int]]:
    """A round's reservation rows (warehouse, sku, units, shipment id) from the stock it
    may use, and the units short; or OutOfStock when the order fails fast."""
    short = missing_units(demand, usable)
    allocations: list[Allocation] = []
    if req.partial:
        allocations, _ = allocate_available(demand, usable, strategy, day_value)
    elif not short:
        allocations = allocate(demand, usable, strategy, day_value)
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
    unreserved = [SkuQuantity(sku, q) for sku, q in sorted(left.items()) if q > 0]
    result = ReserveResult(list(shipments.values()), strategy, _weighed(stocks), unreserved)
    if stocks and shipments:
        expected = _expected(
            [
                Allocation(a.warehouse_id, {x.sku: x.quantity for x in a.lines})
                for a in shipments.values()
            ],
            stocks,
        )
        result.expected_days, result.expected_cost = expected
    return result


def _weighed(stocks: list[WarehouseStock] | None) -> list[RouteCandidate]:
    return [
        RouteCandidate(s.warehouse_id, s.priority, s.distance_km, s.days, s.base_cost, s.unit_cost)
        for s in stocks or []
    ]


def _expected(allocations: list[Allocation], stocks: list[WarehouseStock]) -> tuple[float, float]:
    """The expected days and cost of ``allocations`` (a warehouse may appear in several
    shipments of a round: each is a parcel)."""
    known = {s.warehouse_id for s in stocks}
    placed = [a for a in allocations if a.warehouse_id in known]
    result = outcome(placed, stocks)
    return result.days, result.cost


def _moment(value: str | None) -> datetime | None:
    """A partner's timestamp, if it is a valid one with a time zone; else None."""
    try:
        moment = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


async def _queued_at(conn: AsyncConnection, order_id: str) -> datetime:
    """An order with no read-model row (a direct call): its place in the queue, if any."""
    queued = await reservations.queued_at(conn, order_id)
    return queued if queued is not None else datetime.now(UTC)


class InventoryActivities(StockSteps):
    def __init__(
        self,
        engine: AsyncEngine,
        routing: dict[str, str] | None = None,
        day_value: float = DAY_VALUE,
        min_samples: int = MIN_SAMPLES,
    ) -> None:
        self._engine = engine
        self._routing = routing or {}
        self._day_value = day_value
        self._min_samples = min_samples

    async def _decide(
        self, order_id: str, route: Route, demand: dict[str, int], usable: list[WarehouseStock]
    ) -> None:
        """The order's first allocation, next to what every strategy would have chosen
        from the same stock (oms routing compare). After the reservation's commit, so the
        stock rows are not held while the strategies are weighed; an insight, so a row
        that cannot be written is logged and left out, never a failed reservation."""
        options = compare(demand, usable, day_value=self._day_value)
        if route.strategy not in options:
            return
        chosen = options[route.strategy].outcome
        answer = {
            name: {
                "warehouses": list(o.warehouses),
                "shipments": o.outcome.shipments,
                "days": o.outcome.days,
                "cost": o.outcome.cost,
            }
            for name, o in options.items()
        }
        try:
            async with self._engine.begin() as conn:
                await routing_store.record_decision(
                    conn,
                    order_id,
                    route.channel,
                    route.strategy,
                    route.region,
                    (chosen.shipments, chosen.days, chosen.cost),
                    answer,
                )
        except Exception as exc:  # the database gone away after the commit
            log.warning("routing_decision_not_recorded", order_id=order_id, error=str(exc)[:200])

    @activity.defn
    async def reserve_stock(self, req: ReserveRequest) -> ReserveResult:
        demand: dict[str, int] = defaultdict(int)
        for line in req.lines:
            demand[line.sku] += line.quantity
        if req.round > 0:
            return await self._reserve_round(req, dict(demand))
        async with self._engine.begin() as conn:
            await reservations.lock_order(conn, req.order_id)
            existing = await reservations.of_order(conn, req.order_id)
            held = [(r.warehouse_id, r.sku, r.quantity) for r in existing if r.status != RELEASED]
            if held:
                # A retry after a committed first attempt: answer with what is held.
                return ReserveResult(_group(held))
            if existing:
                # Everything was released: the order was compensated and must not take
                # stock again (a second run of the same order).
                raise business_error(ORDER_CLOSED, "the order's reservations were released")
            route = await self._candidates(conn, dict(demand), req.order_id)
            strategy, stocks, ordered_at = route.strategy, route.stocks, route.ordered_at
            try:
                allocations = allocate(dict(demand), stocks, strategy, self._day_value)
            except OutOfStock as exc:
                log.info("out_of_stock", order_id=req.order_id, skus=exc.skus)
                raise business_error(OUT_OF_STOCK, str(exc), exc.skus) from exc
            rows = [(a.warehouse_id, sku, q) for a in allocations for sku, q in a.lines.items()]
            # Round 0: an order started before rounds; its rows belong to no one shipment,
            # and it leaves nothing for earlier backorders (no check of the queue).
            unshipped: list[reservations.Row] = [(w, s, q, None) for w, s, q in rows]
            await reservations.write_round(conn, req.order_id, 0, unshipped, ordered_at, None)
        await self._decide(req.order_id, route, dict(demand), stocks)
        log.info(
            "stock_reserved",
            order_id=req.order_id,
            strategy=strategy,
            warehouses=[a.warehouse_id for a in allocations],
        )
        days, cost = _expected(allocations, stocks)
        return ReserveResult(_group(rows), strategy, _weighed(stocks), [], [], days, cost)

    async def _reserve_round(self, req: ReserveRequest, demand: dict[str, int]) -> ReserveResult:
        """One round: reserve what the order still needs, leaving what earlier backorders
        wait for, in new shipments numbered from ``first_shipment``; with ``backorder``,
        queue what stays unreserved. A retried round answers what it reserved the first
        time."""
        async with self._engine.begin() as conn:
            await reservations.lock_order(conn, req.order_id)
            existing = await reservations.of_round(conn, req.order_id, req.round)
            if existing and all(r.status == RELEASED for r in existing):
                raise business_error(ORDER_CLOSED, "the order's reservations were released")
            if existing:
                held = [
                    (r.warehouse_id, r.sku, r.quantity, r.shipment_id)
                    for r in existing
                    if r.status != RELEASED
                ]
                again = _round_result(held, demand)
                again.short = again.unreserved
                return again
            route = await self._candidates(conn, demand, req.order_id)
            strategy, ordered_at, ahead = route.strategy, route.ordered_at, route.ahead
            stocks = [s for s in route.stocks if s.warehouse_id not in req.exclude]
            if req.only:  # an imported order reserved at its warehouse: there alone
                stocks = [s for s in stocks if s.warehouse_id in req.only]
            usable = hold_back(stocks, ahead)
            rows, short = _plan_round(req, demand, usable, strategy, self._day_value)
            written = await reservations.write_round(
                conn, req.order_id, req.round, rows, ordered_at, ahead
            )
            if not written:
                # The queue changed while this round waited for the lock: read it again,
                # now under the lock, and plan again.
                ahead = await reservations.ahead_of(conn, sorted(demand), ordered_at, req.order_id)
                usable = hold_back(stocks, ahead)
                rows, short = _plan_round(req, demand, usable, strategy, self._day_value)
                await reservations.write_round(
                    conn, req.order_id, req.round, rows, ordered_at, None
                )
            result = _round_result(rows, demand, strategy, stocks)
            if req.backorder:
                waiting = {line.sku: line.quantity for line in result.unreserved}
                await reservations.queue(conn, req.order_id, waiting, ordered_at)
        if rows and not req.only and not req.exclude:
            await self._decide(req.order_id, route, demand, usable)
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

    async def _candidates(
        self, conn: AsyncConnection, demand: dict[str, int], order_id: str
    ) -> Route:
        """The routing strategy of the order's channel, the stock of every warehouse
        holding a demanded SKU (locked), with its distance to the shipping address and its
        expected delivery days and parcel cost (the learned table and the cost table, a
        few rows by key), when the order was placed (its place in the backorder queue),
        and the units held back for earlier backorders as seen by the locking read.

        What needs no lock is read first: a hot SKU's rows stay locked only from the
        locking read to the commit."""
        skus = sorted(demand)
        order = await orders.reserve_facts(conn, order_id)
        channel = order.channel if order else "default"
        address = (order.address if order else None) or {}
        to = destination(str(address.get("country", "")), address.get("lat"), address.get("lon"))
        region = region_of(
            address.get("country"), address.get("postal_code"), address.get("region")
        )
        places = await warehouses.places_stocking(conn, skus)
        times, rates = await routing_store.facts_for(conn, sorted(places), *region)
        ordered_at = order.created_at if order else await _queued_at(conn, order_id)
        rows = await reservations.lock_stock(conn, skus, ordered_at, order_id)
        ahead = {sku: int(units) for sku, units in (rows[0].ahead if rows else {}).items()}
        available: dict[str, dict[str, int]] = defaultdict(dict)
        priority: dict[str, int] = {}
        for row in rows:
            available[row.warehouse_id][row.sku] = max(0, row.available)
            priority[row.warehouse_id] = row.priority
        if unplaced := sorted(set(available) - set(places)):
            # Stock rows created since the first read: their warehouses' places and facts.
            if to is not None:
                places |= await warehouses.places(conn, unplaced)
            more_times, more_rates = await routing_store.facts_for(conn, unplaced, *region)
            times |= more_times
            rates |= more_rates
        stocks = [WarehouseStock(w, priority[w], avail) for w, avail in available.items()]
        # The channel's own routing where it is configured, else the settings' (OMS_ROUTING).
        configured = await channel_registry.load_channel_in(conn, channel) if order else None
        if configured is not None and configured.routing:
            strategy = configured.routing
        else:
            strategy = strategy_for(self._routing, channel)
        placed = with_distances(stocks, places, to)
        weighed = with_expectations(placed, times, rates, region, self._min_samples)
        return Route(strategy, weighed, ordered_at, ahead, channel, region)

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
        async with self._engine.begin() as conn:
            await reservations.lock_order(conn, order_id)
            rows = await reservations.settle(
                conn,
                order_id,
                warehouse=warehouse,
                shipment=shipment,
                commit=committed,
                kind=kind,
                reason=reason,
                shipped_at=shipped_at,
                # Releasing the whole order (it ended) also takes it out of the backorder
                # queue.
                everything=not committed and warehouse is None and shipment is None,
            )
        units = -sum(r.reserved_delta for r in rows)
        log.info(f"stock_{kind}", order_id=order_id, warehouse=warehouse, units=units)
        return units

    @activity.defn
    async def plan_stock(self, req: ReserveRequest) -> ReserveResult:
        """Where a shadow order's lines would go, by the same rules as a reservation,
        read in a transaction that is rolled back: nothing is reserved or queued."""
        demand: dict[str, int] = defaultdict(int)
        for line in req.lines:
            demand[line.sku] += line.quantity
        async with self._engine.connect() as conn:
            async with conn.begin() as tx:
                route = await self._candidates(conn, dict(demand), req.order_id)
                await tx.rollback()
        strategy, stocks, ahead = route.strategy, route.stocks, route.ahead
        planned = ReserveRequest(req.order_id, req.lines, 1, 1, [], req.partial, True)
        usable = hold_back(stocks, ahead)
        rows, short = _plan_round(planned, dict(demand), usable, strategy, self._day_value)
        result = _round_result(rows, dict(demand), strategy, stocks)
        result.short = [SkuQuantity(sku, q) for sku, q in sorted(short.items())]
        return result

    @activity.defn
    async def edit_stock(self, req: StockEdit) -> ReserveResult:
        """An edit: the order's held units released and ``req.lines`` reserved in their
        place as round ``req.round``, in one transaction. The order's own held units
        count as available to it (they are not held back for earlier backorders); the
        units it adds are. Short of stock: ``OutOfStock`` naming the SKUs, and the
        transaction rolls back, so nothing changed. ``check_only``: the same plan, then
        rolled back. A retry after a committed first attempt answers the round it wrote."""
        demand: dict[str, int] = defaultdict(int)
        for line in req.lines:
            demand[line.sku] += line.quantity
        async with self._engine.connect() as conn:
            async with conn.begin() as tx:
                await reservations.lock_order(conn, req.order_id)
                done = await reservations.of_round(conn, req.order_id, req.round)
                if done:
                    rows = [
                        (r.warehouse_id, r.sku, r.quantity, r.shipment_id)
                        for r in done
                        if r.status != RELEASED
                    ]
                    return _round_result(rows, dict(demand))
                held = await reservations.of_order(conn, req.order_id)
                own: dict[tuple[str, str], int] = defaultdict(int)
                for r in held:
                    if r.status == ReservationStatus.HELD:
                        own[(r.warehouse_id, r.sku)] += r.quantity
                # Every stock row the edit touches, locked in the one order every step uses.
                touched = {sku: demand.get(sku, 0) for sku in {*demand, *(s for _, s in own)}}
                route = await self._candidates(conn, touched, req.order_id)
                strategy, stocks = route.strategy, route.stocks
                ordered_at, ahead = route.ordered_at, route.ahead
                usable = [
                    replace(
                        s,
                        available={
                            sku: units + own.get((s.warehouse_id, sku), 0)
                            for sku, units in s.available.items()
                        },
                    )
                    for s in hold_back(stocks, ahead)
                ]
                try:
                    allocations = allocate(dict(demand), usable, strategy, self._day_value)
                except OutOfStock as exc:
                    await tx.rollback()
                    log.info("edit_out_of_stock", order_id=req.order_id, skus=exc.skus)
                    raise business_error(OUT_OF_STOCK, str(exc), exc.skus) from exc
                rows = [
                    (a.warehouse_id, sku, q, shipment_id_for(req.order_id, req.first_shipment + n))
                    for n, a in enumerate(allocations)
                    for sku, q in a.lines.items()
                ]
                result = _round_result(rows, dict(demand), strategy, stocks)
                if req.check_only:
                    await tx.rollback()
                    return result
                await reservations.settle(
                    conn,
                    req.order_id,
                    warehouse=None,
                    shipment=None,
                    commit=False,
                    kind="release",
                    reason=f"edit (round {req.round})",
                    shipped_at=None,
                    everything=False,
                )
                await reservations.write_round(
                    conn, req.order_id, req.round, rows, ordered_at, None
                )
        log.info(
            "stock_edited",
            order_id=req.order_id,
            round=req.round,
            strategy=strategy,
            warehouses=[a.warehouse_id for a in result.allocations],
        )
        return result

    @activity.defn
    async def release_stock(self, req: ReleaseRequest) -> StockChangeResult:
        if req.queue_only:  # a backorder given up while the rest of the order goes on
            async with self._engine.begin() as conn:
                await reservations.unqueue(conn, req.order_id)
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
