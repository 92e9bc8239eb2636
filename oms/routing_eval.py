"""``oms routing evaluate``: the routing strategies on a simulated history, where some
warehouses are slow to some regions although they are near.

The simulation draws (from ``seed``) five warehouses and seventeen destination regions
in Europe, a true delivery-time distribution per (warehouse, region): a day of handling,
a day per 700 km, and for about a third of the pairs closer than 900 km a slow lane (a
weak carrier, a hub out of the way) of 2 to 4 days more, each parcel's time spread
log-normally around it. It then draws a history of shipments from every warehouse to
every region and learns from it with the same code as the live refresh
(oms.domain.delivery.learn), and a cost table per warehouse and country. Last, a test set
of orders (a region, one to three lines, a snapshot of stock where each warehouse holds
each SKU or not), each allocated by every strategy with the same code as a live
allocation (oms.domain.routing.allocate over stocks that oms.domain.delivery
.with_expectations weighed); each parcel's true time is drawn once per order and
warehouse, so every strategy meets the same luck. Printed per strategy: mean and p90 of
the true delivery time (the last parcel's), the mean expected days, mean shipping cost,
and the share of orders split.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from oms.domain.delivery import Key, Rate, learn, percentile, with_expectations
from oms.domain.geo import km_between
from oms.domain.routing import (
    BALANCED,
    CHEAPEST,
    DAY_VALUE,
    FASTEST,
    FEWEST_SHIPMENTS,
    NEAREST,
    PRIORITY,
    WarehouseStock,
    allocate,
    outcome,
)

EVALUATED = (NEAREST, PRIORITY, FEWEST_SHIPMENTS, FASTEST, CHEAPEST, BALANCED)
WAREHOUSES = {  # id: (country, lat, lon), in priority order
    "wh-berlin": ("DE", 52.52, 13.40),
    "wh-paris": ("FR", 48.86, 2.35),
    "wh-milan": ("IT", 45.46, 9.19),
    "wh-warsaw": ("PL", 52.23, 21.01),
    "wh-madrid": ("ES", 40.42, -3.70),
}
REGIONS = {  # (country, area): (lat, lon)
    ("DE", "10"): (52.52, 13.40),
    ("DE", "20"): (53.55, 9.99),
    ("DE", "50"): (50.94, 6.96),
    ("DE", "80"): (48.14, 11.58),
    ("FR", "75"): (48.86, 2.35),
    ("FR", "13"): (43.30, 5.37),
    ("FR", "69"): (45.76, 4.84),
    ("IT", "20"): (45.46, 9.19),
    ("IT", "00"): (41.90, 12.50),
    ("ES", "28"): (40.42, -3.70),
    ("ES", "08"): (41.39, 2.17),
    ("PL", "00"): (52.23, 21.01),
    ("PL", "30"): (50.06, 19.94),
    ("NL", "10"): (52.37, 4.90),
    ("AT", "10"): (48.21, 16.37),
    ("BE", "10"): (50.85, 4.35),
    ("CZ", "11"): (50.08, 14.44),
}
SKUS = [f"SKU-{n}" for n in range(8)]
SPREAD = 0.25  # sigma of the log-normal noise around a pair's true mean


@dataclass
class StrategyResult:
    strategy: str
    orders: int
    mean_days: float
    p90_days: float
    mean_expected_days: float
    mean_cost: float
    split_share: float


@dataclass
class Evaluation:
    seed: int
    history: int
    orders: int
    slow_pairs: list[tuple[str, str, str]]
    results: list[StrategyResult]

    def result(self, strategy: str) -> StrategyResult:
        return next(r for r in self.results if r.strategy == strategy)


def _true_means(rnd: random.Random) -> tuple[dict[tuple[str, str, str], float], list[Any]]:
    means: dict[tuple[str, str, str], float] = {}
    slow = []
    for w, (_, lat, lon) in WAREHOUSES.items():
        for (country, area), place in REGIONS.items():
            km = km_between((lat, lon), place)
            mean = 1.0 + km / 700.0
            if km < 900 and rnd.random() < 0.35:
                mean += rnd.uniform(2.0, 4.0)
                slow.append((w, country, area))
            means[(w, country, area)] = mean
    return means, slow


def _draw(rnd: random.Random, mean: float) -> float:
    # Log-normal with this mean.
    return mean * math.exp(rnd.gauss(-(SPREAD**2) / 2, SPREAD))


def _rates(rnd: random.Random) -> dict[Key, Rate]:
    rates: dict[Key, Rate] = {}
    for w, (_, lat, lon) in WAREHOUSES.items():
        for country in sorted({c for c, _ in REGIONS}):
            place = next(p for (c, _), p in REGIONS.items() if c == country)
            km = km_between((lat, lon), place)
            base = round(3.5 + km * 0.004 + rnd.uniform(0.0, 2.0), 2)
            rates[(w, country, "")] = Rate(base, round(rnd.uniform(0.2, 0.8), 2))
    return rates


def evaluate(
    orders: int = 2000, seed: int = 1, history: int = 5000, day_value: float = DAY_VALUE
) -> Evaluation:
    rnd = random.Random(seed)
    means, slow = _true_means(rnd)
    pairs = sorted(means)
    samples = []
    for _ in range(history):
        w, country, area = pairs[rnd.randrange(len(pairs))]
        samples.append((w, country, area, _draw(rnd, means[(w, country, area)])))
    learned = learn(samples)
    rates = _rates(rnd)
    regions = sorted(REGIONS)
    realised: dict[str, list[float]] = {s: [] for s in EVALUATED}
    expected: dict[str, list[float]] = {s: [] for s in EVALUATED}
    costs: dict[str, list[float]] = {s: [] for s in EVALUATED}
    splits: dict[str, int] = {s: 0 for s in EVALUATED}
    done = 0
    while done < orders:
        region = regions[rnd.randrange(len(regions))]
        wanted = rnd.sample(SKUS, rnd.randint(1, 3))
        demand = {sku: rnd.randint(1, 3) for sku in wanted}
        stocks = []
        for priority, (w, (_, lat, lon)) in enumerate(WAREHOUSES.items(), start=1):
            held = {sku: rnd.randint(0, 8) for sku in SKUS if rnd.random() < 0.6}
            km = round(km_between((lat, lon), REGIONS[region]), 3)
            stocks.append(WarehouseStock(w, priority, held, km))
        if any(sum(s.available.get(k, 0) for s in stocks) < q for k, q in demand.items()):
            continue  # not enough anywhere: no strategy has a choice to make
        luck = {s.warehouse_id: _draw(rnd, means[(s.warehouse_id, *region)]) for s in stocks}
        weighed = with_expectations(stocks, learned, rates, region)
        done += 1
        for strategy in EVALUATED:
            chosen = allocate(demand, weighed, strategy, day_value)
            result = outcome(chosen, weighed)
            realised[strategy].append(max(luck[a.warehouse_id] for a in chosen))
            expected[strategy].append(result.days)
            costs[strategy].append(result.cost)
            splits[strategy] += result.shipments > 1
    results = []
    for strategy in EVALUATED:
        days = sorted(realised[strategy])
        results.append(
            StrategyResult(
                strategy,
                orders,
                round(sum(days) / len(days), 3),
                round(percentile(days, 0.9), 3),
                round(sum(expected[strategy]) / orders, 3),
                round(sum(costs[strategy]) / orders, 2),
                round(splits[strategy] / orders, 4),
            )
        )
    return Evaluation(seed, history, orders, slow, results)


def render(ev: Evaluation) -> str:
    lines = [
        f"simulated: {len(WAREHOUSES)} warehouses, {len(REGIONS)} regions, "
        f"{len(ev.slow_pairs)} slow (warehouse, region) lanes; learned from {ev.history} "
        f"shipments; {ev.orders} test orders (seed {ev.seed})",
        f"  {'strategy':<17} {'mean days':>10} {'p90 days':>9} {'expected':>9} "
        f"{'mean cost':>10} {'split':>7}",
    ]
    for r in ev.results:
        lines.append(
            f"  {r.strategy:<17} {r.mean_days:>10.3f} {r.p90_days:>9.3f} "
            f"{r.mean_expected_days:>9.3f} {r.mean_cost:>10.2f} {100 * r.split_share:>6.1f}%"
        )
    fastest, nearest = ev.result(FASTEST), ev.result(NEAREST)
    priority = ev.result(PRIORITY)
    lines.append(
        f"fastest against nearest: {fastest.mean_days - nearest.mean_days:+.3f} days "
        f"({100 * (fastest.mean_days / nearest.mean_days - 1):+.1f} %); against priority: "
        f"{fastest.mean_days - priority.mean_days:+.3f} days "
        f"({100 * (fastest.mean_days / priority.mean_days - 1):+.1f} %)"
    )
    return "\n".join(lines)


def as_json(ev: Evaluation) -> dict[str, Any]:
    return {
        "seed": ev.seed,
        "history": ev.history,
        "orders": ev.orders,
        "slow_lanes": len(ev.slow_pairs),
        "strategies": [r.__dict__ for r in ev.results],
    }
