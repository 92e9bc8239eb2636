"""Which warehouses fulfil an order: one that ships everything if possible, else the fewest.

Pure rules over plain data; the inventory activity loads stock under row locks, asks
:func:`allocate`, and writes the reservations it returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

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


@dataclass
class Allocation:
    warehouse_id: str
    lines: dict[str, int] = field(default_factory=dict)


def _rank(stock: WarehouseStock) -> tuple[int, str]:
    return (stock.priority, stock.warehouse_id)


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


def allocate(demand: Mapping[str, int], stocks: Sequence[WarehouseStock]) -> list[Allocation]:
    """Allocate ``demand`` (sku -> units) or raise :class:`OutOfStock` naming the short SKUs."""
    short = [sku for sku, q in demand.items() if sum(s.available.get(sku, 0) for s in stocks) < q]
    if short:
        raise OutOfStock(short)
    candidates = sorted(
        (s for s in stocks if any(s.available.get(sku, 0) > 0 for sku in demand)), key=_rank
    )
    if len(candidates) > EXACT_SEARCH_LIMIT:
        return _assign(_greedy_cover(candidates, demand), demand)
    for size in range(1, len(candidates) + 1):
        # combinations() keeps the priority order, so the first cover found is the
        # best-priority one among the smallest covers.
        covers = [c for c in combinations(candidates, size) if _covers(c, demand)]
        if covers:
            best = min(covers, key=lambda c: [_rank(s) for s in c])
            return _assign(best, demand)
    raise OutOfStock(list(demand))  # unreachable: the totals check above covers it
