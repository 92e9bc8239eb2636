from collections import Counter
from collections.abc import Mapping, Sequence

import pytest

from oms.domain.routing import (
    EXACT_SEARCH_LIMIT,
    Allocation,
    OutOfStock,
    WarehouseStock,
    allocate,
)


def wh(warehouse_id: str, priority: int, **available: int) -> WarehouseStock:
    return WarehouseStock(warehouse_id, priority, available)


def as_dict(allocations: list[Allocation]) -> dict[str, dict[str, int]]:
    return {a.warehouse_id: a.lines for a in allocations}


def assert_valid(
    demand: Mapping[str, int], stocks: Sequence[WarehouseStock], result: list[Allocation]
) -> None:
    """Demand met exactly, nothing over-allocated, no empty or duplicate allocations."""
    by_id = {s.warehouse_id: s for s in stocks}
    ids = [a.warehouse_id for a in result]
    assert len(ids) == len(set(ids))
    totals: Counter[str] = Counter()
    for allocation in result:
        assert allocation.lines
        for sku, quantity in allocation.lines.items():
            assert quantity > 0
            assert quantity <= by_id[allocation.warehouse_id].available.get(sku, 0)
            totals[sku] += quantity
    assert dict(totals) == dict(demand)


def test_one_warehouse_covering_everything_wins_over_a_better_priority_partial_one() -> None:
    stocks = [wh("near", 1, A=10), wh("far", 5, A=10, B=10)]
    demand = {"A": 2, "B": 2}
    result = allocate(demand, stocks)
    assert as_dict(result) == {"far": {"A": 2, "B": 2}}


def test_among_full_cover_warehouses_the_lowest_priority_number_wins() -> None:
    stocks = [wh("w1", 3, A=5), wh("w2", 1, A=5), wh("w3", 2, A=5)]
    assert as_dict(allocate({"A": 1}, stocks)) == {"w2": {"A": 1}}


def test_equal_priority_full_cover_warehouses_are_tied_by_id() -> None:
    stocks = [wh("wh-b", 1, A=5), wh("wh-c", 1, A=5), wh("wh-a", 1, A=5), wh("wh-0", 2, A=5)]
    assert as_dict(allocate({"A": 1}, stocks)) == {"wh-a": {"A": 1}}


def test_the_order_is_split_across_the_fewest_warehouses() -> None:
    # Taking warehouses in priority order would use p1, p2 and p3; p1 + p4 suffice.
    stocks = [
        wh("p1", 1, A=1, B=1),
        wh("p2", 2, C=1),
        wh("p3", 3, D=1),
        wh("p4", 4, C=1, D=1),
    ]
    demand = {"A": 1, "B": 1, "C": 1, "D": 1}
    result = allocate(demand, stocks)
    assert as_dict(result) == {"p1": {"A": 1, "B": 1}, "p4": {"C": 1, "D": 1}}
    assert [a.warehouse_id for a in result] == ["p1", "p4"]


def test_among_smallest_splits_the_best_priority_combination_wins() -> None:
    stocks = [wh("a", 1, A=1), wh("b", 2, A=1), wh("c", 3, B=1), wh("d", 4, B=1)]
    result = allocate({"A": 1, "B": 1}, stocks)
    assert as_dict(result) == {"a": {"A": 1}, "c": {"B": 1}}


def test_a_skus_quantity_is_split_when_no_warehouse_has_enough_alone() -> None:
    stocks = [wh("w1", 1, A=6), wh("w2", 2, A=7)]
    result = allocate({"A": 10}, stocks)
    assert as_dict(result) == {"w1": {"A": 6}, "w2": {"A": 4}}


def test_a_split_sku_is_taken_first_from_the_better_priority_warehouse() -> None:
    stocks = [wh("w2", 2, A=7), wh("w1", 1, A=6)]
    result = allocate({"A": 10}, stocks)
    assert as_dict(result) == {"w1": {"A": 6}, "w2": {"A": 4}}


def test_out_of_stock_names_exactly_the_short_skus_sorted() -> None:
    stocks = [wh("w1", 1, A=3, B=1), wh("w2", 2, A=1, D=9)]
    demand = {"C": 1, "A": 5, "B": 1, "D": 2}
    with pytest.raises(OutOfStock) as caught:
        allocate(demand, stocks)
    assert caught.value.skus == ["A", "C"]
    assert str(caught.value) == "not enough stock for: A, C"


def test_out_of_stock_sorts_the_skus_it_is_given() -> None:
    assert OutOfStock(["Z", "B", "M"]).skus == ["B", "M", "Z"]


def test_allocate_raises_out_of_stock_with_no_warehouses() -> None:
    with pytest.raises(OutOfStock) as caught:
        allocate({"A": 1}, [])
    assert caught.value.skus == ["A"]


def test_stock_split_over_warehouses_that_sums_to_exactly_the_demand_is_enough() -> None:
    stocks = [wh("w1", 1, A=2), wh("w2", 1, A=3)]
    result = allocate({"A": 5}, stocks)
    assert_valid({"A": 5}, stocks, result)


def test_one_unit_short_in_total_is_out_of_stock() -> None:
    stocks = [wh("w1", 1, A=2), wh("w2", 1, A=2)]
    with pytest.raises(OutOfStock):
        allocate({"A": 5}, stocks)


def test_zero_availability_warehouses_are_never_in_the_result() -> None:
    stocks = [
        wh("empty", 0, A=0, B=0),
        wh("other-sku", 0, Z=100),
        wh("w1", 5, A=1),
        wh("w2", 6, B=1),
    ]
    demand = {"A": 1, "B": 1}
    result = allocate(demand, stocks)
    ids = {a.warehouse_id for a in result}
    assert ids == {"w1", "w2"}
    assert_valid(demand, stocks, result)


def test_a_chosen_warehouse_gets_no_line_for_a_sku_it_lacks() -> None:
    stocks = [wh("w1", 1, A=1, B=0), wh("w2", 2, B=1)]
    result = allocate({"A": 1, "B": 1}, stocks)
    assert as_dict(result) == {"w1": {"A": 1}, "w2": {"B": 1}}


SCENARIOS = [
    ({"A": 3}, [wh("w1", 1, A=3)]),
    ({"A": 10, "B": 4}, [wh("w1", 1, A=6, B=1), wh("w2", 2, A=7), wh("w3", 3, B=9)]),
    (
        {"A": 5, "B": 5, "C": 5},
        [wh("x", 1, A=2, B=2, C=2), wh("y", 1, A=2, B=2, C=2), wh("z", 9, A=9, B=1, C=9)],
    ),
    ({"A": 1, "B": 1, "C": 1, "D": 1}, [wh(f"w{i}", i, **{s: 1}) for i, s in enumerate("ABCD")]),
]


@pytest.mark.parametrize(("demand", "stocks"), SCENARIOS)
def test_allocated_quantities_per_sku_sum_to_the_demand(
    demand: dict[str, int], stocks: list[WarehouseStock]
) -> None:
    assert_valid(demand, stocks, allocate(demand, stocks))


def test_allocate_does_not_mutate_the_demand() -> None:
    demand = {"A": 10}
    allocate(demand, [wh("w1", 1, A=6), wh("w2", 2, A=7)])
    assert demand == {"A": 10}


def twenty_partial_warehouses() -> list[WarehouseStock]:
    # Warehouse i stocks 3 units of SKU S(i % 5): each SKU is spread over 4 warehouses.
    return [wh(f"w{i:02d}", i, **{f"S{i % 5}": 3}) for i in range(20)]


def test_the_greedy_path_above_the_search_limit_covers_the_demand() -> None:
    stocks = twenty_partial_warehouses()
    assert len(stocks) > EXACT_SEARCH_LIMIT
    demand = {f"S{k}": 7 for k in range(5)}
    result = allocate(demand, stocks)
    assert_valid(demand, stocks, result)
    # 7 units at 3 a warehouse need 3 warehouses per SKU: 15 in all, not all 20.
    assert len(result) == 15


def test_the_greedy_path_prefers_a_single_warehouse_that_covers_everything() -> None:
    stocks = [*twenty_partial_warehouses(), wh("big", 99, S0=10, S1=10, S2=10, S3=10, S4=10)]
    demand = {f"S{k}": 5 for k in range(5)}
    result = allocate(demand, stocks)
    assert as_dict(result) == {"big": demand}


def test_the_greedy_path_reports_out_of_stock_too() -> None:
    stocks = twenty_partial_warehouses()
    with pytest.raises(OutOfStock) as caught:
        allocate({"S0": 13, "S1": 12}, stocks)
    assert caught.value.skus == ["S0"]


def test_the_greedy_path_skips_warehouses_with_nothing_demanded() -> None:
    stocks = [*twenty_partial_warehouses(), *(wh(f"z{i}", 0, S0=0) for i in range(5))]
    demand = {"S0": 12, "S3": 1}
    result = allocate(demand, stocks)
    assert_valid(demand, stocks, result)
    assert not any(a.warehouse_id.startswith("z") for a in result)
