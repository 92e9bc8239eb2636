"""Which warehouses fulfil an order. Six strategies, chosen per sales channel:

- ``fewest_shipments`` (the default): one warehouse when any can ship everything, otherwise
  the smallest number of warehouses; ties go to the nearer, then the better priority;
- ``nearest``: each line from the nearest warehouse that can fill it, split only where none
  can fill it alone;
- ``priority``: warehouses in priority order;
- ``fastest``, ``cheapest`` and ``balanced``: the same smallest number of warehouses as
  ``fewest_shipments``, and among the sets of that size the one whose order arrives first
  (the slowest of its parcels, by the learned delivery times), costs least to ship, or
  has the least cost plus ``day_value`` for each expected day (see oms.domain.delivery).

Pure rules over plain data; ties always break the same way (distance, priority, id). The
inventory activity loads stock under row locks, asks :func:`allocate`, and writes the
reservations it returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations

from oms.domain.geo import km_between

FEWEST_SHIPMENTS = "fewest_shipments"
NEAREST = "nearest"
PRIORITY = "priority"
FASTEST = "fastest"
CHEAPEST = "cheapest"
BALANCED = "balanced"
STRATEGIES = (FEWEST_SHIPMENTS, NEAREST, PRIORITY, FASTEST, CHEAPEST, BALANCED)
# What ``balanced`` weighs a day of delivery at, in the cost table's money
# (OMS_ROUTING_DAY_VALUE).
DAY_VALUE = 2.0

# Above this many candidate warehouses the exact fewest-warehouses search gives way to a
# greedy cover, which is near-optimal and bounded in time.
EXACT_SEARCH_LIMIT = 12


class OutOfStock(Exception):
    def __init__(self, skus: Sequence[str]) -> None:
        self.skus = sorted(skus)
        super().__init__(f"not enough stock for: {', '.join(self.skus)}")


@dataclass(frozen=True)
class WarehouseStock:
    warehouse_id: str
    priority: int
    available: Mapping[str, int]
    # Kilometres to the destination; 0 when the destination is unknown.
    distance_km: float = 0.0
    # Expected delivery days to the destination, and what a parcel from here costs (a
    # base and an amount per unit): oms.domain.delivery. Zero when nobody said.
    days: float = 0.0
    base_cost: float = 0.0
    unit_cost: float = 0.0


def with_distances(
    stocks: Sequence[WarehouseStock],
    places: Mapping[str, tuple[float, float]],
    to: tuple[float, float] | None,
) -> list[WarehouseStock]:
    """The stocks with their distance to ``to`` (warehouse id -> (lat, lon) in ``places``)."""
    if to is None:
        return list(stocks)
    return [
        replace(
            s,
            distance_km=round(km_between(places[s.warehouse_id], to), 3)
            if s.warehouse_id in places
            else 0.0,
        )
        for s in stocks
    ]


@dataclass
class Allocation:
    warehouse_id: str
    lines: dict[str, int] = field(default_factory=dict)


def _rank(stock: WarehouseStock) -> tuple[int, str]:
    return (stock.priority, stock.warehouse_id)


def _near(stock: WarehouseStock) -> tuple[float, int, str]:
    return (stock.distance_km, stock.priority, stock.warehouse_id)


def _covers(stocks: Sequence[WarehouseStock], demand: Mapping[str, int]) -> bool:
    return all(sum(s.available.get(sku, 0) for s in stocks) >= q for sku, q in demand.items())


def _assign(stocks: Sequence[WarehouseStock], demand: Mapping[str, int]) -> list[Allocation]:
    """Take each SKU from the chosen warehouses in priority order."""
    allocations = {s.warehouse_id: Allocation(s.warehouse_id) for s in stocks}
    for sku, wanted in demand.items():
        for stock in stocks:
            take = min(wanted, stock.available.get(sku, 0))
            if take > 0:
                allocations[stock.warehouse_id].lines[sku] = take
                wanted -= take
    return [a for a in allocations.values() if a.lines]


def _greedy_cover(
    stocks: Sequence[WarehouseStock], demand: Mapping[str, int]
) -> list[WarehouseStock]:
    remaining = dict(demand)
    chosen: list[WarehouseStock] = []
    pool = list(stocks)
    while any(q > 0 for q in remaining.values()) and pool:

        def gain(s: WarehouseStock) -> int:
            return sum(min(q, s.available.get(sku, 0)) for sku, q in remaining.items())

        best = min(pool, key=lambda s: (-gain(s), s.priority, s.warehouse_id))
        pool.remove(best)
        chosen.append(best)
        for sku in remaining:
            remaining[sku] = max(0, remaining[sku] - best.available.get(sku, 0))
    return sorted(chosen, key=_rank)


def _shortfall(demand: Mapping[str, int], stocks: Sequence[WarehouseStock]) -> list[str]:
    return [sku for sku, q in demand.items() if sum(s.available.get(sku, 0) for s in stocks) < q]


def _fewest(demand: Mapping[str, int], candidates: list[WarehouseStock]) -> list[Allocation]:
    if len(candidates) > EXACT_SEARCH_LIMIT:
        return _assign(_greedy_cover(candidates, demand), demand)
    for size in range(1, len(candidates) + 1):
        covers = [c for c in combinations(candidates, size) if _covers(c, demand)]
        if covers:
            # Among the smallest covers: the nearest in all, then the best priorities.
            best = min(
                covers,
                key=lambda c: (round(sum(s.distance_km for s in c), 3), [_rank(s) for s in c]),
            )
            return _assign(sorted(best, key=_near), demand)
    raise OutOfStock(list(demand))  # unreachable: the totals were checked first


def _smallest_covers(
    demand: Mapping[str, int], candidates: list[WarehouseStock]
) -> list[tuple[WarehouseStock, ...]]:
    """Every set of the fewest warehouses that together cover ``demand`` (the greedy
    cover alone above :data:`EXACT_SEARCH_LIMIT` candidates)."""
    if len(candidates) > EXACT_SEARCH_LIMIT:
        return [tuple(_greedy_cover(candidates, demand))]
    for size in range(1, len(candidates) + 1):
        covers = [c for c in combinations(candidates, size) if _covers(c, demand)]
        if covers:
            return covers
    raise OutOfStock(list(demand))  # unreachable: the totals were checked first


def _cheap_first(stock: WarehouseStock) -> tuple[float, float, float, int, str]:
    return (stock.unit_cost, stock.days, stock.distance_km, stock.priority, stock.warehouse_id)


@dataclass(frozen=True)
class Outcome:
    """What an allocation is expected to give: its parcels, the days until the last of
    them arrives, and what they cost to ship."""

    shipments: int
    days: float
    cost: float


def outcome(allocations: Sequence[Allocation], stocks: Sequence[WarehouseStock]) -> Outcome:
    """The expected days (the slowest parcel's) and cost (every parcel's base and units)
    of ``allocations`` from ``stocks``."""
    by_id = {s.warehouse_id: s for s in stocks}
    days = 0.0
    cost = 0.0
    for a in allocations:
        stock = by_id[a.warehouse_id]
        days = max(days, stock.days)
        cost += stock.base_cost + stock.unit_cost * sum(a.lines.values())
    return Outcome(len(allocations), round(days, 4), round(cost, 2))


def _score(strategy: str, o: Outcome, day_value: float) -> tuple[float, float]:
    if strategy == FASTEST:
        return (o.days, o.cost)
    if strategy == CHEAPEST:
        return (o.cost, o.days)
    return (round(o.cost + day_value * o.days, 4), o.days)


def _best_cover(
    demand: Mapping[str, int], candidates: list[WarehouseStock], strategy: str, day_value: float
) -> list[Allocation]:
    """Among the smallest covers, the one that scores best by ``strategy``; then the
    nearest in all, then the best priorities. Units come from the cheapest per unit first."""
    best: tuple[tuple[float, float], float, list[tuple[int, str]]] | None = None
    chosen: list[Allocation] = []
    for cover in _smallest_covers(demand, candidates):
        allocations = _assign(sorted(cover, key=_cheap_first), demand)
        key = (
            _score(strategy, outcome(allocations, cover), day_value),
            round(sum(s.distance_km for s in cover), 3),
            sorted(_rank(s) for s in cover),
        )
        if best is None or key < best:
            best, chosen = key, allocations
    return chosen


def _nearest(demand: Mapping[str, int], candidates: list[WarehouseStock]) -> list[Allocation]:
    by_distance = sorted(candidates, key=_near)
    allocations: dict[str, Allocation] = {}
    for sku, wanted in sorted(demand.items()):
        whole = next((s for s in by_distance if s.available.get(sku, 0) >= wanted), None)
        sources = [whole] if whole is not None else by_distance
        for stock in sources:
            take = min(wanted, stock.available.get(sku, 0))
            if take > 0:
                allocations.setdefault(stock.warehouse_id, Allocation(stock.warehouse_id))
                allocations[stock.warehouse_id].lines[sku] = take
                wanted -= take
            if wanted == 0:
                break
    return sorted(allocations.values(), key=lambda a: _near(_by_id(candidates, a.warehouse_id)))


def _by_id(stocks: Sequence[WarehouseStock], warehouse_id: str) -> WarehouseStock:
    return next(s for s in stocks if s.warehouse_id == warehouse_id)


def allocate(
    demand: Mapping[str, int],
    stocks: Sequence[WarehouseStock],
    strategy: str = FEWEST_SHIPMENTS,
    day_value: float = DAY_VALUE,
) -> list[Allocation]:
    """Allocate ``demand`` (sku -> units) by ``strategy``, or raise :class:`OutOfStock`
    naming the short SKUs. Never more than is available; always everything when the
    warehouses together hold enough. ``day_value``: what ``balanced`` weighs a day at."""
    short = _shortfall(demand, stocks)
    if short:
        raise OutOfStock(short)
    candidates = sorted(
        (s for s in stocks if any(s.available.get(sku, 0) > 0 for sku in demand)), key=_rank
    )
    if strategy == NEAREST:
        return _nearest(demand, candidates)
    if strategy == PRIORITY:
        return _assign(candidates, demand)
    if strategy in (FASTEST, CHEAPEST, BALANCED):
        return _best_cover(demand, candidates, strategy, day_value)
    if strategy != FEWEST_SHIPMENTS:
        raise ValueError(f"unknown routing strategy {strategy!r}")
    return _fewest(demand, candidates)


def parse_routing(spec: str) -> dict[str, str]:
    """``"default:fewest_shipments,marketplace:nearest"`` -> channel -> strategy."""
    chosen: dict[str, str] = {"default": FEWEST_SHIPMENTS}
    for entry in (e.strip() for e in spec.split(",") if e.strip()):
        channel, sep, strategy = entry.partition(":")
        if not sep or not channel.strip() or strategy.strip() not in STRATEGIES:
            raise ValueError(f"expected channel:{'|'.join(STRATEGIES)}, got {entry!r}")
        chosen[channel.strip()] = strategy.strip()
    return chosen


def strategy_for(routing: Mapping[str, str], channel: str) -> str:
    return routing.get(channel) or routing.get("default") or FEWEST_SHIPMENTS


def missing_units(demand: Mapping[str, int], stocks: Sequence[WarehouseStock]) -> dict[str, int]:
    """SKU -> units the warehouses together are short of, for the SKUs that are short."""
    totals = {sku: sum(s.available.get(sku, 0) for s in stocks) for sku in demand}
    return {sku: q - totals[sku] for sku, q in demand.items() if totals[sku] < q}


def allocate_available(
    demand: Mapping[str, int],
    stocks: Sequence[WarehouseStock],
    strategy: str = FEWEST_SHIPMENTS,
    day_value: float = DAY_VALUE,
) -> tuple[list[Allocation], dict[str, int]]:
    """Allocate what is in stock now by ``strategy``; the rest is returned as missing
    (sku -> units). The allocated and the missing units add up to the demand."""
    missing = missing_units(demand, stocks)
    fillable = {sku: q - missing.get(sku, 0) for sku, q in demand.items()}
    fillable = {sku: q for sku, q in fillable.items() if q > 0}
    return (allocate(fillable, stocks, strategy, day_value) if fillable else []), missing


# The strategies set side by side for every allocated order (oms routing compare).
COMPARED = (NEAREST, PRIORITY, FEWEST_SHIPMENTS, FASTEST, CHEAPEST, BALANCED)


@dataclass(frozen=True)
class Option:
    """What one strategy would have chosen: its warehouses (in shipment order) and the
    expected outcome."""

    warehouses: tuple[str, ...]
    outcome: Outcome


def compare(
    demand: Mapping[str, int],
    stocks: Sequence[WarehouseStock],
    strategies: Sequence[str] = COMPARED,
    day_value: float = DAY_VALUE,
) -> dict[str, Option]:
    """Each strategy's choice for what of ``demand`` is in stock, by the same rules as
    :func:`allocate_available`; empty when nothing is."""
    options: dict[str, Option] = {}
    for strategy in strategies:
        allocations, _ = allocate_available(demand, stocks, strategy, day_value)
        if not allocations:
            return {}
        options[strategy] = Option(
            tuple(a.warehouse_id for a in allocations), outcome(allocations, stocks)
        )
    return options


def hold_back(stocks: Sequence[WarehouseStock], ahead: Mapping[str, int]) -> list[WarehouseStock]:
    """The stocks less ``ahead`` (sku -> units earlier backorders wait for), taken from the
    warehouses in priority order: what a later order may use without taking stock an
    earlier one waits for."""
    left = dict(ahead)
    reduced = []
    for stock in sorted(stocks, key=_rank):
        available = dict(stock.available)
        for sku, units in left.items():
            take = min(units, available.get(sku, 0))
            if take:
                available[sku] -= take
                left[sku] = units - take
        reduced.append(replace(stock, available=available))
    return reduced
