"""Which window of the platform's clock a pull reads next.

A pull channel's cursor is the end of the last window whose every order was taken. The
next window starts exactly there, so the windows read over a channel's life are
contiguous: no order changed between two of them can fall into a gap, and none is read by
two windows (a window read again after a crash is the same window). A window is at most
as wide as the platform lets one query be, and ends far enough behind the platform's
clock that orders it indexes late are there when it is read. When that leaves nothing to
read (the cursor is already there, or the platform's clock went back) there is no window:
the cursor waits, it never skips.

The first pull of a channel starts a lookback before the platform's clock, never further
back than the platform answers.

Pure functions on datetimes: no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from oms.channels.pull_rules import PullRules


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime  # exclusive


# A window's length when the platform sets none (Amazon): a few hours at a time.
UNBOUNDED_WINDOW_S = 6 * 3600.0


def lag_of(rules: PullRules, channel_lag_s: float | None) -> timedelta:
    """How far behind the platform's clock a window ends: the channel's own lag when it
    sets one (a sandbox platform enforces a shorter minimum than the real one; against a
    real platform a lag under its minimum is refused by the platform, and alerted), else
    the platform's minimum."""
    lag = rules.min_lag_s if channel_lag_s is None else channel_lag_s
    return timedelta(seconds=max(lag, 0.0))


def first_start(now: datetime, rules: PullRules, lookback_s: float) -> datetime:
    """Where a channel's first pull starts: ``lookback_s`` before the platform's clock,
    capped at the platform's horizon."""
    return now - timedelta(seconds=max(0.0, min(lookback_s, rules.horizon_s)))


def next_window(
    cursor: datetime,
    now: datetime,
    rules: PullRules,
    channel_lag_s: float | None,
    width_s: float | None = None,
) -> Window | None:
    """The window after ``cursor``, or None when nothing is ready to read. ``width_s``
    narrows it below the platform's widest."""
    platform = rules.window_s or UNBOUNDED_WINDOW_S
    widest = platform if width_s is None else min(width_s, platform)
    end = min(cursor + timedelta(seconds=widest), now - lag_of(rules, channel_lag_s))
    return Window(cursor, end) if end > cursor else None


def plan(
    cursor: datetime,
    now: datetime,
    rules: PullRules,
    channel_lag_s: float | None,
    limit: int,
    first_width_s: float | None = None,
) -> list[Window]:
    """Up to ``limit`` contiguous windows from ``cursor`` towards ``now`` less the lag;
    the first one at most ``first_width_s`` wide when given (see :func:`narrowed`)."""
    windows: list[Window] = []
    width = first_width_s
    while len(windows) < limit:
        window = next_window(cursor, now, rules, channel_lag_s, width)
        if window is None:
            break
        windows.append(window)
        cursor, width = window.end, None
    return windows


MIN_WIDTH_S = 60.0


def narrowed(unfinished: Window | None, cursor: datetime) -> float | None:
    """The width of the first window when the previous attempt died reading the window
    ``unfinished``: half of it if it started at the cursor, down to a minute. A window
    with more pages than one attempt can read would otherwise be read from its start
    again and again; a narrower one starts at the same point, so nothing is skipped."""
    if unfinished is None or unfinished.start != cursor:
        return None
    return max(MIN_WIDTH_S, (unfinished.end - unfinished.start).total_seconds() / 2)


def beyond_horizon(cursor: datetime, now: datetime, rules: PullRules) -> bool:
    """Whether the cursor lies further back than the platform answers (a channel left off
    for months): reading on from it would be refused, and starting later would skip
    orders, so an operator decides."""
    return cursor < now - timedelta(seconds=rules.horizon_s)
