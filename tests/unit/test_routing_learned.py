"""The learned strategies (fastest, cheapest, balanced), the delivery estimates and their
fallbacks, the cost table's rows and the comparison of strategies."""

from __future__ import annotations

from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oms.domain.delivery import (
    ANY,
    BadCosts,
    LeadTime,
    Rate,
    distance_days,
    distance_rate,
    lead_time_for,
    learn,
    parse_costs,
    percentile,
    rate_for,
    region_of,
)
from oms.domain.routing import (
    BALANCED,
    CHEAPEST,
    COMPARED,
    FASTEST,
    FEWEST_SHIPMENTS,
    NEAREST,
    STRATEGIES,
    OutOfStock,
    WarehouseStock,
    allocate,
    compare,
    outcome,
    parse_routing,
)

LEARNED = (FASTEST, CHEAPEST, BALANCED)
SKUS = ["A", "B", "C"]


def wh(
    wid: str,
    stock: dict[str, int],
    *,
    days: float = 2.0,
    km: float = 100.0,
    base: float = 5.0,
    unit: float = 0.5,
    priority: int = 1,
) -> WarehouseStock:
    return WarehouseStock(wid, priority, stock, km, days, base, unit)


def test_fastest_takes_the_faster_warehouse_even_when_another_is_nearer() -> None:
    near_slow = wh("near", {"A": 5}, days=4.0, km=20.0)
    far_fast = wh("far", {"A": 5}, days=1.5, km=600.0)
    assert [a.warehouse_id for a in allocate({"A": 2}, [near_slow, far_fast], NEAREST)] == ["near"]
    assert [a.warehouse_id for a in allocate({"A": 2}, [near_slow, far_fast], FASTEST)] == ["far"]


def test_cheapest_takes_the_cheaper_warehouse_and_balanced_weighs_days_against_money() -> None:
    dear_fast = wh("dear", {"A": 5}, days=1.0, base=9.0)
    cheap_slow = wh("cheap", {"A": 5}, days=4.0, base=4.0)
    stocks = [dear_fast, cheap_slow]
    assert allocate({"A": 1}, stocks, CHEAPEST)[0].warehouse_id == "cheap"
    # 5 more money for 3 days sooner: worth it at 2 a day (9+2 < 4+8), not at 1 a day.
    assert allocate({"A": 1}, stocks, BALANCED, day_value=2.0)[0].warehouse_id == "dear"
    assert allocate({"A": 1}, stocks, BALANCED, day_value=1.0)[0].warehouse_id == "cheap"


def test_a_faster_pair_never_beats_one_warehouse_that_holds_everything() -> None:
    whole_slow = wh("whole", {"A": 3, "B": 3}, days=6.0)
    fast_a = wh("fa", {"A": 3}, days=1.0)
    fast_b = wh("fb", {"B": 3}, days=1.0)
    chosen = allocate({"A": 1, "B": 1}, [fast_a, fast_b, whole_slow], FASTEST)
    assert [a.warehouse_id for a in chosen] == ["whole"]


def test_among_two_warehouse_splits_the_one_whose_last_parcel_arrives_first() -> None:
    stocks = [
        wh("a-slow", {"A": 2}, days=5.0),
        wh("a-fast", {"A": 2}, days=2.0),
        wh("b", {"B": 2}, days=3.0),
    ]
    chosen = allocate({"A": 2, "B": 2}, stocks, FASTEST)
    assert sorted(a.warehouse_id for a in chosen) == ["a-fast", "b"]
    assert outcome(chosen, stocks).days == 3.0


def test_ties_break_by_distance_then_priority_then_id() -> None:
    same = {"days": 2.0, "base": 5.0, "unit": 0.5}
    far = wh("w1", {"A": 1}, km=300.0, **same)
    near = wh("w2", {"A": 1}, km=100.0, **same)
    assert allocate({"A": 1}, [far, near], FASTEST)[0].warehouse_id == "w2"
    low = wh("w3", {"A": 1}, km=100.0, priority=2, **same)
    high = wh("w4", {"A": 1}, km=100.0, priority=1, **same)
    assert allocate({"A": 1}, [low, high], CHEAPEST)[0].warehouse_id == "w4"
    x = wh("x", {"A": 1}, **same)
    y = wh("y", {"A": 1}, **same)
    assert allocate({"A": 1}, [y, x], BALANCED)[0].warehouse_id == "x"


def test_outcome_is_the_slowest_parcel_and_every_parcels_cost() -> None:
    stocks = [wh("a", {"A": 3}, days=2.0, base=4.0, unit=1.0), wh("b", {"B": 3}, days=3.5)]
    chosen = allocate({"A": 3, "B": 2}, stocks, FEWEST_SHIPMENTS)
    result = outcome(chosen, stocks)
    assert result.shipments == 2
    assert result.days == 3.5
    assert result.cost == pytest.approx((4.0 + 3 * 1.0) + (5.0 + 2 * 0.5))


def test_compare_gives_every_strategy_and_nothing_when_nothing_is_in_stock() -> None:
    stocks = [wh("near", {"A": 5}, days=4.0, km=20.0), wh("far", {"A": 5}, days=1.0, km=900.0)]
    options = compare({"A": 1}, stocks)
    assert set(options) == set(COMPARED)
    assert options[NEAREST].warehouses == ("near",)
    assert options[FASTEST].warehouses == ("far",)
    assert options[FASTEST].outcome.days < options[NEAREST].outcome.days
    assert compare({"Z": 1}, stocks) == {}


def test_the_new_names_are_routing_settings() -> None:
    assert {FASTEST, CHEAPEST, BALANCED} <= set(STRATEGIES)
    assert parse_routing("default:fastest,shop:balanced") == {
        "default": "fastest",
        "shop": "balanced",
    }
    with pytest.raises(ValueError):
        parse_routing("shop:quickest")


@st.composite
def scenes(draw: st.DrawFn) -> tuple[dict[str, int], list[WarehouseStock]]:
    count = draw(st.integers(1, 6))
    stocks = [
        WarehouseStock(
            f"w{i}",
            draw(st.integers(1, 3)),
            {sku: draw(st.integers(0, 4)) for sku in SKUS},
            draw(st.sampled_from([0.0, 10.0, 50.0, 800.0])),
            draw(st.sampled_from([0.5, 1.0, 2.0, 3.5, 7.0])),
            draw(st.sampled_from([3.0, 4.5, 9.0])),
            draw(st.sampled_from([0.0, 0.25, 1.0])),
        )
        for i in range(count)
    ]
    wanted = draw(st.lists(st.sampled_from(SKUS), min_size=1, max_size=3, unique=True))
    return {sku: draw(st.integers(1, 5)) for sku in wanted}, stocks


def _enough(demand: dict[str, int], stocks: list[WarehouseStock]) -> bool:
    return all(sum(s.available[sku] for s in stocks) >= q for sku, q in demand.items())


@settings(max_examples=300, deadline=None)
@given(scenes(), st.sampled_from(LEARNED))
def test_never_more_parcels_than_fewest_shipments_and_everything_is_allocated(scene, strategy):
    demand, stocks = scene
    try:
        chosen = allocate(demand, stocks, strategy)
    except OutOfStock:
        assert not _enough(demand, stocks)
        return
    assert len(chosen) == len(allocate(demand, stocks, FEWEST_SHIPMENTS))
    by_id = {s.warehouse_id: s for s in stocks}
    for sku, wanted in demand.items():
        assert sum(a.lines.get(sku, 0) for a in chosen) == wanted
    for a in chosen:
        assert all(0 < q <= by_id[a.warehouse_id].available[k] for k, q in a.lines.items())


@settings(max_examples=300, deadline=None)
@given(scenes())
def test_fastest_and_cheapest_are_the_best_of_the_smallest_covers(scene):
    demand, stocks = scene
    if not _enough(demand, stocks):
        return
    size = len(allocate(demand, stocks, FEWEST_SHIPMENTS))
    covers = [c for c in combinations(stocks, size) if _enough(demand, list(c))]
    slowest = min(max(s.days for s in c) for c in covers)
    assert outcome(allocate(demand, stocks, FASTEST), stocks).days == slowest
    # Every strategy that keeps to the fewest parcels costs at least what cheapest does.
    same_size = (FEWEST_SHIPMENTS, FASTEST, BALANCED)
    others = [outcome(allocate(demand, stocks, s), stocks).cost for s in same_size]
    cheapest = outcome(allocate(demand, stocks, CHEAPEST), stocks)
    assert cheapest.cost <= min(others) + 1e-9


@settings(max_examples=200, deadline=None)
@given(scenes(), st.sampled_from(LEARNED), st.randoms(use_true_random=False))
def test_the_same_order_whatever_order_the_warehouses_come_in(scene, strategy, rnd):
    demand, stocks = scene
    if not _enough(demand, stocks):
        return
    shuffled = list(stocks)
    rnd.shuffle(shuffled)
    first = allocate(demand, stocks, strategy)
    again = allocate(demand, shuffled, strategy)
    assert [(a.warehouse_id, a.lines) for a in first] == [(a.warehouse_id, a.lines) for a in again]


# --- delivery estimates ------------------------------------------------------------------


def test_region_is_the_country_and_the_postal_prefix_else_the_region_field() -> None:
    assert region_of("de", "10115") == ("DE", "10")
    assert region_of("GB", "sw1a 1aa") == ("GB", "SW")
    assert region_of("IE", None, " Dublin ") == ("IE", "DUBLIN")
    assert region_of("FR", "", None) == ("FR", ANY)


def test_learn_rolls_each_shipment_up_to_its_country_and_its_warehouse() -> None:
    samples = [("w", "DE", "10", d) for d in (1.0, 2.0, 3.0, 4.0)] + [
        ("w", "DE", "80", 6.0),
        ("w", "FR", "75", 2.0),
        ("w", "DE", "10", -1.0),  # a clock gone wrong: left out
    ]
    learned = learn(samples)
    assert learned[("w", "DE", "10")] == LeadTime(4, 2.5, 2.5, 3.7)
    assert learned[("w", "DE", ANY)].count == 5
    assert learned[("w", ANY, ANY)].count == 6
    assert learned[("w", ANY, ANY)].mean_days == pytest.approx(3.0)


def test_percentile_interpolates_like_percentile_cont() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.9) == pytest.approx(3.7)
    assert percentile([5.0], 0.9) == 5.0


def test_the_estimate_falls_back_region_country_warehouse_distance() -> None:
    learned = {
        ("w", "DE", "10"): LeadTime(10, 1.0, 1.0, 1.5),
        ("w", "DE", "80"): LeadTime(2, 9.0, 9.0, 9.0),  # too few shipments
        ("w", "DE", ANY): LeadTime(12, 2.0, 2.0, 3.0),
        ("w", ANY, ANY): LeadTime(20, 3.0, 3.0, 5.0),
    }
    assert lead_time_for(learned, "w", "DE", "10", 500.0).basis == "region"
    assert lead_time_for(learned, "w", "DE", "80", 500.0).days == 2.0
    assert lead_time_for(learned, "w", "DE", "80", 500.0).basis == "country"
    assert lead_time_for(learned, "w", "FR", "75", 500.0).basis == "warehouse"
    none = lead_time_for(learned, "other", "DE", "10", 800.0)
    assert (none.basis, none.days) == ("distance", distance_days(800.0)) == ("distance", 2.0)


def test_the_cost_row_falls_back_the_same_way_then_to_the_distance() -> None:
    rates = {("w", "DE", "10"): Rate(3.0, 0.2), ("w", ANY, ANY): Rate(7.0, 1.0)}
    assert rate_for(rates, "w", "DE", "10", 50.0) == (Rate(3.0, 0.2), "region")
    assert rate_for(rates, "w", "DE", "20", 50.0) == (Rate(7.0, 1.0), "warehouse")
    assert rate_for(rates, "x", "DE", "10", 200.0) == (distance_rate(200.0), "distance")
    assert Rate(3.0, 0.2).cost(4) == 3.8


def test_cost_files_are_read_whole_or_refused_with_every_bad_line() -> None:
    rows = parse_costs(
        "warehouse_id,country,area,base,per_unit\nw1,de,10,3.5,0.2\nw1,DE,,4,0.25\nw1,,,6,0\n"
    )
    assert rows == [
        ("w1", "DE", "10", 3.5, 0.2),
        ("w1", "DE", "", 4.0, 0.25),
        ("w1", "", "", 6.0, 0.0),
    ]
    with pytest.raises(BadCosts) as bad:
        parse_costs(
            "warehouse_id,country,area,base,per_unit\n"
            "w1,DEU,,3,0\n,DE,,3,0\nw1,,10,3,0\nw1,DE,,-1,0\nw2,DE,,1,0\nw2,DE,,2,0\n"
        )
    assert [n for n, _ in bad.value.errors] == [2, 3, 4, 5, 7]
    with pytest.raises(BadCosts):
        parse_costs("warehouse,base\nw1,3\n")


def test_the_api_offers_exactly_the_strategies_the_rules_know() -> None:
    from typing import get_args

    from api.schemas.channels import Routing

    assert get_args(Routing) == STRATEGIES
