"""How fast the starter starts imported orders: a token bucket, and a pace that follows
Temporal's answers (``oms.imports.starter``).

The rate asked for (``--rate``) is a ceiling. A Temporal that takes longer to accept a
start is a Temporal (or a worker behind it) with work queued, and every live order waits
in that queue too: the pace halves while the starts answer slowly and climbs back by a
tenth of the ceiling while they answer quickly, so a large import takes what the system
has to spare and no more.
"""

from __future__ import annotations

import asyncio
import statistics
import time

# A start Temporal accepts within this many seconds (the median of the last few) is an
# answer from a system with room to spare: about twice an idle start on the dev machine.
SLOW_START_S = 0.05
WINDOW = 8  # starts per decision
FLOOR = 0.5  # starts a second, whatever Temporal says


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` kept; ``take`` waits for one. The rate
    may change while it runs."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("the rate must be above 0")
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else rate / 5)
        self._tokens = 1.0
        self._at = time.monotonic()
        self._lock = asyncio.Lock()

    async def take(self) -> None:
        async with self._lock:  # one waiter at a time: first come, first served
            while True:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
                self._at = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep(min(1.0, (1 - self._tokens) / self.rate))


class Pace:
    """The bucket's rate from the starts' answer times: halved (down to ``FLOOR``) when
    the median of the last ``WINDOW`` is above ``slow_s``, else up by a tenth of the
    ceiling (up to it). It begins at a tenth of the ceiling. ``slow_s`` None: the
    ceiling, always."""

    def __init__(self, bucket: TokenBucket, slow_s: float | None = SLOW_START_S) -> None:
        self.bucket = bucket
        self.ceiling = bucket.rate
        self.slow_s = slow_s
        self._seen: list[float] = []
        if slow_s is not None:
            bucket.rate = max(min(FLOOR, self.ceiling), self.ceiling / 10)

    @property
    def rate(self) -> float:
        return self.bucket.rate

    def answered(self, seconds: float) -> None:
        if self.slow_s is None:
            return
        self._seen.append(seconds)
        if len(self._seen) < WINDOW:
            return
        slow = statistics.median(self._seen) > self.slow_s
        self._seen = []
        low = min(FLOOR, self.ceiling)
        if slow:
            self.bucket.rate = max(low, self.bucket.rate / 2)
        else:
            self.bucket.rate = min(self.ceiling, self.bucket.rate + self.ceiling / 10)
