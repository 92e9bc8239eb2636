"""The soak mode's arithmetic and limits, without a system to measure."""

from __future__ import annotations

import os

import pytest

from devtools.bench.run import Phase
from devtools.bench.soak import MAX_SOAK_ORDERS, Sampler, SoakPlan, growth, tree_pss_mb, tree_rss_mb
from devtools.bench.target import BenchError


def _windows(values: list[float | None]) -> list[dict[str, float | None]]:
    return [{"v": v} for v in values]


def test_growth_compares_the_first_and_last_quarter_leaving_out_the_warmup_window():
    # The first window (a warm-up at 999) is left out; quarters of 8 are 2 windows each.
    found = growth(_windows([999, 100, 102, 104, 106, 108, 110, 150, 154]), lambda w: w["v"])
    assert found == {"first": 101.0, "last": 152.0, "ratio": 1.505}


def test_growth_is_unknown_with_too_few_windows_and_skips_missing_samples():
    assert growth(_windows([1, 2, 3]), lambda w: w["v"])["ratio"] is None
    flat = growth(_windows([5, None, 10, 10, None, 10, 10]), lambda w: w["v"])
    assert flat == {"first": 10.0, "last": 10.0, "ratio": 1.0}


def test_a_window_counts_only_what_ended_since_the_last_one():
    phase = Phase("soak", units=10)
    sampler = Sampler(phase, {"worker": None, "bench": None}, None)
    phase.start_s += [0.01, 0.02]
    phase.e2e_s += [1.0, 2.0]
    first = sampler.sample()
    assert first["completed"] == 2 and first["e2e_ms"]["n"] == 2
    assert first["rss_mb"] == {"worker": None}  # the bench's own process is not sampled
    phase.e2e_s += [3.0]
    second = sampler.sample()
    assert second["completed"] == 3
    assert (second["e2e_ms"]["n"], second["post_ms"]["n"]) == (1, 0)
    assert second["e2e_ms"]["p99"] == 3000.0


@pytest.mark.parametrize(
    "plan",
    [
        SoakPlan(0, 1, 60, 60),
        SoakPlan(MAX_SOAK_ORDERS + 1, 20, 60, 60),
        SoakPlan(100, 101, 60, 60),
        SoakPlan(100, 10, 0.5, 60),
        SoakPlan(100, 10, 60, 90_000),
    ],
)
def test_soak_limits_are_refused_with_a_message(plan):
    with pytest.raises(BenchError):
        plan.check()


def test_pss_of_a_tree_splits_shared_pages_so_it_is_at_most_the_rss():
    # This test's own process: its PSS (shared library pages split with other processes)
    # is positive and never above its RSS.
    pss, rss = tree_pss_mb(os.getpid()), tree_rss_mb(os.getpid())
    assert pss is not None and rss is not None
    assert 0 < pss <= rss
    assert tree_pss_mb(None) is None
