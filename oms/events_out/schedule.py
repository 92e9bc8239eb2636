"""The published retry schedule: when each attempt of a delivery is made.

Attempt 1 goes at once; after the n-th attempt fails, the next waits ``schedule[n]``
seconds, each wait drawn within ±20 % of its nominal value. After the last entry's attempt
fails the delivery is ``exhausted``. The default (about three days in all)::

    0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h

``OMS_WEBHOOK_RETRY_SCHEDULE`` replaces it (seconds, comma-separated): tests and the
benchmark compress it. A ``Retry-After`` from a 429 or 503 answer lengthens a wait, never
shortens it.
"""

from __future__ import annotations

import random

DEFAULT_SCHEDULE = "0,5,300,1800,7200,18000,36000,50400,72000,86400"
JITTER = 0.2
MAX_RETRY_AFTER_S = 86_400.0


def parse_schedule(spec: str) -> tuple[float, ...]:
    """Seconds per attempt, from ``"0,5,300,..."``; at least one entry, none negative."""
    try:
        waits = tuple(float(part) for part in spec.split(",") if part.strip())
    except ValueError as exc:
        raise ValueError("the retry schedule is seconds, comma-separated") from exc
    if not waits:
        raise ValueError("the retry schedule needs at least one entry")
    if any(w < 0 or w != w for w in waits):
        raise ValueError("the retry schedule's waits cannot be negative")
    return waits


def next_wait(
    attempts: int,
    schedule: tuple[float, ...],
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds until the next attempt after ``attempts`` attempts have failed, or None when
    the schedule is exhausted."""
    if attempts >= len(schedule):
        return None
    nominal = schedule[attempts]
    draw = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    wait = nominal * draw
    if retry_after_s is not None:
        wait = max(wait, min(retry_after_s, MAX_RETRY_AFTER_S))
    return wait


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds (a date is ignored)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
