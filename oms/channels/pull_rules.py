"""What each pull platform allows: how wide a window of changed orders may be, how many
orders a page holds, whether pages are read from the last one backwards, how far behind
its clock a window must end (orders it indexes late), how far back it can be asked at all,
and how fast it may be called."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PullRules:
    max_window_s: float  # the widest [start, end) one query may span
    page_size: int
    backwards: bool  # read the last page first (pages shift as orders change)
    min_lag_s: float  # a window ends at least this far behind the platform's clock
    horizon_s: float  # how far back the platform answers at all
    requests_per_s: float
    burst: int


RULES: dict[str, PullRules] = {
    "taobao": PullRules(1800, 100, False, 0, 90 * 86400, 10, 10),
    "jd": PullRules(3600, 100, False, 0, 90 * 86400, 10, 10),
    "pdd": PullRules(1800, 100, True, 180, 90 * 86400, 10, 10),
    "amazon": PullRules(6 * 3600, 100, False, 120, 180 * 86400, 0.0167, 20),
}
