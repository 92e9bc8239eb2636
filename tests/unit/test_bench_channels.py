"""The arithmetic and the checks of the channel benches (``oms bench --channels-push`` and
``--channels-pull``), on hand-made figures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devtools.bench.channels_pull import (
    START_LINE,
    duplicates,
    kill_times,
    market_problems,
    market_refusal,
    modified_times,
)
from devtools.bench.channels_push import (
    PushPlan,
    answers_by_status,
    batch_sizes,
    delivered_units,
    intake_problems,
    lags_s,
    ledger_problems,
    push_problems,
    round_robin,
    seconds_figures,
    split_evenly,
    stock_balance,
)
from devtools.bench.target import BenchError

GOOD_MARKET = {
    "OMS_SIM_MARKET_PDD_LAG_S": 2.0,
    "OMS_SIM_MARKET_AMAZON_LAG_S": 2.0,
    "OMS_SIM_MARKET_AMAZON_RATE": 50.0,
    "OMS_SIM_MARKET_AMAZON_BURST": 100.0,
    "OMS_SIM_MARKET_CLOCK_OFFSET_S": 0.0,
}


@given(st.integers(0, 100_000), st.integers(1, 12))
def test_split_evenly_shares_everything_and_differs_by_one_at_most(total, parts):
    shares = split_evenly(total, parts)
    assert len(shares) == parts and sum(shares) == total
    assert max(shares) - min(shares) <= 1 and shares == sorted(shares, reverse=True)


@given(st.integers(0, 1000), st.integers(1, 50), st.integers(1, 6), st.integers(1, 40))
def test_round_robin_deals_every_order_once_and_evenly_over_the_run(start, count, parts, ticks):
    shares = round_robin(start, count, parts)
    assert sum(shares) == count and max(shares) - min(shares) <= 1
    # Tick after tick from the first order, the platforms stay within one order of each other.
    total = [0] * parts
    for tick in range(ticks):
        for i, n in enumerate(round_robin(tick * count, count, parts)):
            total[i] += n
    assert sum(total) == ticks * count and max(total) - min(total) <= 1


def test_round_robin_rotates_the_odd_ones():
    assert round_robin(0, 11, 4) == [3, 3, 3, 2]
    assert round_robin(11, 11, 4) == [3, 3, 2, 3]  # order 11 goes to the last platform
    assert round_robin(0, 0, 3) == [0, 0, 0]


def test_split_evenly_of_no_parts_is_nothing():
    assert split_evenly(5, 0) == []


@given(st.integers(0, 50_000), st.integers(1, 500))
def test_batch_sizes_add_up_and_only_the_last_is_smaller(total, per_batch):
    sizes = batch_sizes(total, per_batch)
    assert sum(sizes) == total
    assert all(s == per_batch for s in sizes[:-1]) and all(0 < s <= per_batch for s in sizes)


def test_seconds_figures_and_lags():
    made = {"a": 100.0, "b": 100.0, "c": 101.0, "lost": 102.0}
    taken = {"a": 100.5, "b": 102.0, "c": 101.25, "stranger": 5.0}
    lags = lags_s(made, taken)
    assert sorted(lags) == [0.25, 0.5, 2.0]  # only orders in both
    figures = seconds_figures(lags)
    assert figures == {"p50": 0.5, "p99": 1.97, "max": 2.0, "n": 3}
    assert seconds_figures([]) == {"p50": None, "p99": None, "max": None, "n": 0}


def test_intake_problems_name_the_missing_the_doubled_and_the_strangers():
    assert intake_problems("shop", ["1", "2"], ["2", "1"]) == []
    problems = intake_problems("shop", ["1", "2", "3"], ["1", "1", "4"])
    assert any("2 of 3 orders not in the OMS" in p for p in problems)
    assert any("1 external ids taken more than once" in p for p in problems)
    assert any("1 orders the simulator did not make" in p for p in problems)


def test_push_problems_every_forged_copy_answered_401_and_nothing_refused():
    clean = {"deliveries": 20, "bad_signatures": 3, "bad_signatures_rejected": 3}
    assert push_problems("shop", clean) == []
    assert push_problems("shop", {**clean, "bad_signatures_rejected": 2}) == [
        "shop: 2 of 3 forged webhooks answered 401"
    ]
    let_in = push_problems("shop", {**clean, "bad_signatures_let_in": 1, "gave_up": 2})
    assert let_in == ["shop: 1 bad signatures let in", "shop: 2 gave up"]


def test_answers_by_status_groups_the_final_answers():
    counts = {"answered_202": 10, "answered_200": 2, "answered_401": 1, "answered_422": 3}
    counts |= {"answered_404": 1, "status_503": 7, "deliveries": 12}
    assert answers_by_status(counts) == {
        "202": 10,
        "200": 2,
        "401": 1,
        "other": 4,
        "other_by_status": {"422": 3, "404": 1},
    }
    assert answers_by_status({})["202"] == 0


def test_ledger_problems_want_exactly_one_platform_row():
    assert ledger_problems(["a", "b"], {"a": 1, "b": 1}) == []
    assert ledger_problems(["a", "b", "c"], {"a": 2, "b": 1}) == [
        "a: 2 platform ledger rows, not 1",
        "c: 0 platform ledger rows, not 1",
    ]


def test_stock_balance_and_delivered_units():
    views = [
        {
            "status": "delivered",
            "lines": [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}],
        },
        {"status": "delivered", "lines": [{"sku": "A", "quantity": 3}]},
        {"status": "cancelled", "lines": [{"sku": "B", "quantity": 5}]},
    ]
    units = delivered_units(views)
    assert units == {"A": 5, "B": 1}
    initial = {"A": 30, "B": 30, "C": 30}
    assert stock_balance(initial, {"A": (25, 0), "B": (29, 0), "C": (30, 0)}, units) == []
    problems = stock_balance(initial, {"A": (24, 0), "B": (29, 1)}, units)
    assert problems == [
        "A: on_hand 24, expected 30 - 5 delivered",
        "B: 1 still reserved",
        "C: no stock row",
    ]


def test_push_plan_refuses_what_it_cannot_run():
    PushPlan(orders=1000).check()
    for bad in (
        PushPlan(orders=1),
        PushPlan(duplicate_ratio=1.5),
        PushPlan(bad_signature_ratio=-0.1),
        PushPlan(rate=0),
        PushPlan(within_s=0),
    ):
        with pytest.raises(BenchError):
            bad.check()


def test_market_problems_accept_a_marketplace_set_for_the_bench():
    assert market_problems(GOOD_MARKET, pull_lag_s=5) == []


def test_market_problems_name_the_platform_defaults_and_the_refusal_says_how_to_start():
    defaults = {
        "OMS_SIM_MARKET_PDD_LAG_S": 180.0,
        "OMS_SIM_MARKET_AMAZON_LAG_S": 120.0,
        "OMS_SIM_MARKET_AMAZON_RATE": 0.0167,
        "OMS_SIM_MARKET_AMAZON_BURST": 20.0,
        "OMS_SIM_MARKET_CLOCK_OFFSET_S": 0.0,
    }
    problems = market_problems(defaults, pull_lag_s=5)
    assert len(problems) == 3
    assert problems[0].startswith("OMS_SIM_MARKET_PDD_LAG_S=180")
    assert problems[2].startswith("OMS_SIM_MARKET_AMAZON_RATE=0.0167")
    message = market_refusal(problems)
    assert START_LINE in message and "make dev" in START_LINE
    assert "OMS_SIM_MARKET_AMAZON_RATE=50" in START_LINE
    # A lag the channels can live with, and a clock moved.
    assert market_problems(defaults | GOOD_MARKET, pull_lag_s=1) == [
        "OMS_SIM_MARKET_PDD_LAG_S=2 (above the pull lag 1 s)",
        "OMS_SIM_MARKET_AMAZON_LAG_S=2 (above the pull lag 1 s)",
    ]
    moved = market_problems(GOOD_MARKET | {"OMS_SIM_MARKET_CLOCK_OFFSET_S": 30.0}, 5)
    assert moved == ["OMS_SIM_MARKET_CLOCK_OFFSET_S=30.0"]
    assert "restart it" in market_problems(None, 5)[0]


@given(st.integers(0, 100), st.floats(1, 10_000))
def test_kill_times_are_spread_inside_the_span(kills, span):
    moments = kill_times(kills, span)
    assert len(moments) == kills
    assert all(0 < m < span for m in moments) and moments == sorted(moments)


def test_duplicates_and_modified_times():
    assert duplicates({"a": 1, "b": 2, "c": 0, "d": 3}) == ["b", "d"]
    asked = {"1": 1000.0, "2": 1000.0, "3": 1001.0}
    moment = datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)
    listing = [
        {"id": "1", "version": 1, "modified": moment.isoformat()},
        {"id": "2", "version": 3, "modified": moment.isoformat()},  # changed since: asked
        {"id": "9", "version": 1, "modified": moment.isoformat()},  # not the run's
    ]
    times, listed = modified_times(listing, asked)
    assert listed == 1
    assert times == {"1": moment.timestamp(), "2": 1000.0, "3": 1001.0}
