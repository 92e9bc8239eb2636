"""Routing properties, for every strategy, over generated warehouses and orders."""

from __future__ import annotations

import random
from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from oms.domain.routing import (
    FEWEST_SHIPMENTS,
    NEAREST,
    STRATEGIES,
    OutOfStock,
    WarehouseStock,
    allocate,
    allocate_available,
    hold_back,
    parse_routing,
    strategy_for,
)

SKUS = ["A", "B", "C"]


@st.composite
def scenes(draw: st.DrawFn) -> tuple[dict[str, int], list[WarehouseStock]]:
    count = draw(st.integers(1, 5))
    stocks = [
        WarehouseStock(
            f"w{i}",
            draw(st.integers(1, 3)),
            {sku: draw(st.integers(0, 5)) for sku in SKUS},
            draw(st.sampled_from([0.0, 10.0, 50.0, 120.5, 800.0])),
        )
        for i in range(count)
    ]
    wanted = draw(st.lists(st.sampled_from(SKUS), min_size=1, max_size=3, unique=True))
    demand = {sku: draw(st.integers(1, 6)) for sku in wanted}
    return demand, stocks


def _enough(demand: dict[str, int], stocks: list[WarehouseStock]) -> bool:
    return all(sum(s.available[sku] for s in stocks) >= q for sku, q in demand.items())


@settings(max_examples=300, deadline=None)
@given(scenes(), st.sampled_from(STRATEGIES))
def test_never_more_than_available_and_everything_when_there_is_enough(scene, strategy):
    demand, stocks = scene
    by_id = {s.warehouse_id: s for s in stocks}
    try:
        allocations = allocate(demand, stocks, strategy)
    except OutOfStock as short:
        assert not _enough(demand, stocks)
        assert short.skus  # names what is short
        return
    assert _enough(demand, stocks)
    for a in allocations:
        assert a.lines and all(
            0 < q <= by_id[a.warehouse_id].available[k] for k, q in a.lines.items()
        )
    for sku, wanted in demand.items():
        assert sum(a.lines.get(sku, 0) for a in allocations) == wanted
    assert len({a.warehouse_id for a in allocations}) == len(allocations)


@settings(max_examples=300, deadline=None)
@given(scenes())
def test_fewest_shipments_uses_no_more_warehouses_than_brute_force_needs(scene):
    demand, stocks = scene
    if not _enough(demand, stocks):
        return
    fewest = min(
        size
        for size in range(1, len(stocks) + 1)
        for group in combinations(stocks, size)
        if _enough(demand, list(group))
    )
    assert len(allocate(demand, stocks, FEWEST_SHIPMENTS)) == fewest


@settings(max_examples=200, deadline=None)
@given(scenes(), st.sampled_from(STRATEGIES), st.randoms(use_true_random=False))
def test_the_same_input_gives_the_same_result_whatever_the_order(scene, strategy, rnd):
    demand, stocks = scene
    if not _enough(demand, stocks):
        return
    shuffled = list(stocks)
    random.Random(rnd.random()).shuffle(shuffled)
    first = [(a.warehouse_id, a.lines) for a in allocate(demand, stocks, strategy)]
    again = [(a.warehouse_id, a.lines) for a in allocate(demand, shuffled, strategy)]
    assert first == again


def test_nearest_ships_each_line_from_the_nearest_warehouse_that_can_fill_it():
    stocks = [
        WarehouseStock("far", 1, {"A": 5, "B": 5}, 900.0),
        WarehouseStock("near", 9, {"A": 5, "B": 1}, 10.0),
    ]
    allocations = allocate({"A": 2, "B": 3}, stocks, NEAREST)
    assert [(a.warehouse_id, a.lines) for a in allocations] == [
        ("near", {"A": 2}),
        ("far", {"B": 3}),
    ]


def test_fewest_shipments_breaks_ties_by_distance_before_priority():
    stocks = [
        WarehouseStock("best-priority-far", 1, {"A": 5}, 700.0),
        WarehouseStock("worse-priority-near", 5, {"A": 5}, 20.0),
    ]
    (only,) = allocate({"A": 1}, stocks, FEWEST_SHIPMENTS)
    assert only.warehouse_id == "worse-priority-near"


def test_routing_is_chosen_per_channel_with_a_default():
    routing = parse_routing("default:priority,marketplace:nearest")
    assert strategy_for(routing, "marketplace") == NEAREST
    assert strategy_for(routing, "webshop") == "priority"
    assert strategy_for(parse_routing(""), "webshop") == FEWEST_SHIPMENTS


@given(scenes(), st.sampled_from(STRATEGIES))
@settings(max_examples=200, deadline=None)
def test_partial_allocation_takes_what_there_is_and_names_the_rest(scene, strategy) -> None:
    demand, stocks = scene
    allocations, missing = allocate_available(demand, stocks, strategy)
    taken: dict[str, int] = {}
    by_id = {s.warehouse_id: s for s in stocks}
    for allocation in allocations:
        for sku, units in allocation.lines.items():
            assert 0 < units <= by_id[allocation.warehouse_id].available.get(sku, 0)
            taken[sku] = taken.get(sku, 0) + units
    for sku, wanted in demand.items():
        total = sum(s.available.get(sku, 0) for s in stocks)
        assert taken.get(sku, 0) == min(wanted, total)
        assert taken.get(sku, 0) + missing.get(sku, 0) == wanted


@given(scenes(), st.dictionaries(st.sampled_from(SKUS), st.integers(0, 8)))
@settings(max_examples=200, deadline=None)
def test_held_back_stock_leaves_earlier_backorders_their_units(scene, ahead) -> None:
    _, stocks = scene
    reduced = hold_back(stocks, ahead)
    for sku in SKUS:
        before = sum(s.available.get(sku, 0) for s in stocks)
        after = sum(s.available.get(sku, 0) for s in reduced)
        assert after == max(0, before - ahead.get(sku, 0))
        assert all(s.available.get(sku, 0) >= 0 for s in reduced)
