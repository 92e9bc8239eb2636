"""The backlog limit's arithmetic: which count binds, when a sample refuses, the
Retry-After estimate and its bounds, and the peak bench's estimate of an uncompressed
peak hour."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from api.backlog import BacklogFull, BacklogSampler, retry_after_s
from devtools.bench.arrivals import backlog_gauges
from devtools.bench.peak import PeakPlan, estimate_peak_hour
from oms.backlog import Sample, TaskQueueStats
from oms.settings import Settings


def stats(backlog: int, dispatch: float) -> TaskQueueStats:
    return TaskQueueStats(backlog=backlog, dispatch_per_s=dispatch, add_per_s=0.0, oldest_s=0.0)


def sampler(limit: int, check_s: float = 1.0) -> BacklogSampler:
    settings = Settings(backlog_limit=limit, backlog_check_s=check_s)

    async def no_client() -> Any:
        return None

    return BacklogSampler(settings, engine=None, client=no_client)  # type: ignore[arg-type]


def test_the_backlog_is_the_larger_of_the_two_counts_and_unknown_without_either() -> None:
    now = time.monotonic()
    assert Sample(now, stats(30, 1.0), 700).backlog == 700
    assert Sample(now, stats(900, 1.0), 7).backlog == 900
    assert Sample(now, None, 7).backlog == 7
    assert Sample(now, stats(5, 1.0), None).backlog == 5
    assert Sample(now, None, None).backlog is None


def test_retry_after_is_the_excess_over_the_dispatch_rate_within_1_and_60_s() -> None:
    now = time.monotonic()
    # 1000 waiting, limit 1000: (0 + 100) / 20 a second = 5 s.
    assert retry_after_s(Sample(now, stats(1000, 20.0), 0), 1000) == 5
    assert retry_after_s(Sample(now, stats(1000, 5000.0), 0), 1000) == 1
    assert retry_after_s(Sample(now, stats(90_000, 10.0), 0), 1000) == 60
    # Nothing taken (no worker) or no figures from Temporal: the longest wait.
    assert retry_after_s(Sample(now, stats(1000, 0.0), 0), 1000) == 60
    assert retry_after_s(Sample(now, None, 5000), 1000) == 60


def test_only_a_fresh_sample_at_the_limit_refuses_and_each_refusal_is_counted() -> None:
    limited = sampler(limit=100, check_s=1.0)
    limited.admit("orders")  # no sample yet
    limited.sample = Sample(time.monotonic() - 6, stats(500, 10.0), 500)  # older than 5 s
    limited.admit("orders")
    limited.sample = Sample(time.monotonic(), stats(99, 10.0), 3)
    limited.admit("orders")
    limited.sample = Sample(time.monotonic(), stats(100, 10.0), 3)
    with pytest.raises(BacklogFull) as refused:
        limited.admit("webhooks")
    problem = refused.value.problem()
    assert problem.status == 429 and problem.kind == "backlog-full"
    assert problem.headers == {"Retry-After": "1"}  # (0 over + a tenth of 100) / 10 a second
    assert limited.refused == {"webhooks": 1}
    unlimited = sampler(limit=0)
    unlimited.sample = Sample(time.monotonic(), stats(10**6, 1.0), 10**6)
    unlimited.admit("orders")


def test_the_bench_reads_the_gauges_nan_as_unknown() -> None:
    scrape = "oms_backlog NaN\noms_backlog_limit 20.0\noms_backlog_temporal_tasks 4.0\n"
    assert backlog_gauges(scrape) == {
        "oms_backlog": None,
        "oms_backlog_limit": 20.0,
        "oms_backlog_temporal_tasks": 4.0,
    }


def test_the_peak_day_profile_and_the_estimate_of_an_uncompressed_peak_hour() -> None:
    plan = PeakPlan(quiet_rate=0.5, compress=60)
    assert plan.lengths_s == (240.0, 120.0, 60.0, 180.0)
    assert plan.rate("quiet")(10) == 0.5 and plan.rate("peak")(10) == 10
    assert plan.rate("ramp")(60) == pytest.approx(5.25)
    assert plan.rate("tail")(180) == pytest.approx(0.5)
    estimate = estimate_peak_hour(10.0, 8.0, 0.5, None)
    assert estimate["estimate"] is True
    assert estimate["backlog_after_hour_orders"] == 7200  # 2 a second for an hour
    assert estimate["drain_after_peak_s"] == 960  # 7200 / (8 - 0.5)
    assert estimate["last_peak_order_to_dispatch_s"] == 900 and estimate["dispatch_target_met"]
    capped = estimate_peak_hour(10.0, 8.0, 0.5, 1000)
    assert capped["limit_reached_after_s"] == 500 and capped["refused_orders"] == 6200
    assert estimate_peak_hour(5.0, 8.0, 0.5, 1000)["backlog_after_hour_orders"] == 0


async def test_stopping_the_sampler_ends_it_even_when_a_read_outlives_the_cancel() -> None:
    # A read that lets the cancellation go (as Python 3.11's asyncio.wait_for can when the
    # result and the cancel meet): cancelling alone would leave the loop running for ever.
    stubborn = sampler(limit=100, check_s=0.05)
    reads = 0

    async def read() -> Sample:
        nonlocal reads
        reads += 1
        try:
            await asyncio.sleep(0.2)
        except asyncio.CancelledError:
            pass
        return Sample(time.monotonic(), None, 0)

    stubborn.read = read  # type: ignore[method-assign]
    task = asyncio.create_task(stubborn.run())
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await stubborn.stop(task, wait_s=5.0)
    assert task.done() and reads == 1
    assert time.monotonic() - started < 1.0
