"""The starter's token bucket (oms/imports/starter.py): starts at the rate asked, with a
small burst, whoever waits."""

from __future__ import annotations

import asyncio
import time

import pytest

from oms.imports.starter import TokenBucket


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
