"""The starter's token bucket (oms/imports/starter.py): starts at the rate asked, with a
small burst, whoever waits."""

from __future__ import annotations

import asyncio
import time

import pytest

from oms.imports.pace import TokenBucket


async def test_the_bucket_lets_through_no_more_than_its_rate_after_a_small_burst():
    bucket = TokenBucket(40.0)  # a burst of 8 (a fifth of a second's worth)
    began = time.monotonic()
    await asyncio.gather(*(bucket.take() for _ in range(28)))
    # One token to start with, then 40 a second: 27 more take at least 0.675 s.
    assert time.monotonic() - began >= 0.6


async def test_a_bucket_left_alone_keeps_only_its_burst():
    bucket = TokenBucket(50.0, burst=3)
    await asyncio.sleep(0.2)  # ten tokens' worth of time, three kept
    began = time.monotonic()
    for _ in range(5):
        await bucket.take()
    assert time.monotonic() - began >= 0.03  # the last two waited


def test_a_rate_of_zero_or_less_is_refused():
    with pytest.raises(ValueError, match="above 0"):
        TokenBucket(0)


def test_the_pace_begins_at_a_tenth_halves_when_starts_are_slow_and_climbs_back():
    from oms.imports.pace import WINDOW, Pace

    pace = Pace(TokenBucket(50.0), slow_s=0.05)
    assert pace.rate == 5.0
    for _ in range(WINDOW):
        pace.answered(0.01)
    assert pace.rate == 10.0  # quick answers: up by a tenth of the ceiling
    for _ in range(WINDOW):
        pace.answered(0.3)
    assert pace.rate == 5.0  # slow answers: halved
    for _ in range(WINDOW * 20):
        pace.answered(0.3)
    assert pace.rate == 0.5  # never below the floor
    for _ in range(WINDOW * 20):
        pace.answered(0.01)
    assert pace.rate == 50.0  # never above the rate asked


def test_without_a_slow_mark_the_pace_is_the_rate_asked():
    from oms.imports.pace import Pace

    pace = Pace(TokenBucket(20.0), slow_s=None)
    for _ in range(100):
        pace.answered(5.0)
    assert pace.rate == 20.0
