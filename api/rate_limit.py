"""A rate limit per API key: a token bucket per key in each API process.

A key may make ``rate`` requests a second on average, in bursts of up to ``2 * rate``
(and at least one).
The buckets live in the process's memory: N API processes behind a load balancer allow a
key up to N times its limit in all. That is the price of never touching the database for
the count; a limit meant as a hard cap across processes divides it by N.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

BURST = 2.0


@dataclass
class Verdict:
    allowed: bool
    limit: int  # requests per second, rounded up
    remaining: int  # whole requests left in the bucket
    reset_s: int  # seconds until the bucket is full again
    retry_after_s: int  # seconds until one request is allowed again (0 when allowed)


@dataclass
class _Bucket:
    rate: float
    tokens: float
    at: float


class RateLimits:
    """Token buckets by key id. ``clock`` is for tests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[int, _Bucket] = {}

    def take(self, key_id: int, rate: float) -> Verdict:
        """Take one request from the key's bucket, if it holds one."""
        now = self._clock()
        capacity = max(1.0, rate * BURST)  # a slow key still gets its one request
        bucket = self._buckets.get(key_id)
        if bucket is None or bucket.rate != rate:
            bucket = self._buckets[key_id] = _Bucket(rate, capacity, now)
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        allowed = bucket.tokens >= 1.0
        if allowed:
            bucket.tokens -= 1.0
        retry = 0 if allowed else max(1, math.ceil((1.0 - bucket.tokens) / rate))
        return Verdict(
            allowed,
            limit=max(1, math.ceil(rate)),
            remaining=int(bucket.tokens),
            reset_s=max(0, math.ceil((capacity - bucket.tokens) / rate)),
            retry_after_s=retry,
        )
