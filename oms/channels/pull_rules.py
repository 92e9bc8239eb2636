"""How each pull platform lets its orders be read: window, page size, paging direction, lag,
horizon and rate, as data.

The poller cuts time into windows no longer than ``max_window_s`` that end ``min_lag_s``
behind the platform's clock, and reads each window page by page, ``page_size`` at a time.

``backwards``: the platform pages by offset over a list that shrinks while it is read (an
order modified during the read moves to "now", out of a window that ends in the past, and
every order behind it moves up one place). Read from the first page to the last, an order
that moves up onto a page already read is missed; read from the last page to the first, it
moves onto a page still to be read and is seen, at worst twice. So these platforms are read
by asking page 1 (for the total), then the last page back to page 1.

A window must end in the past for that to hold: an order modified inside a window that is
still open moves to its front and pushes every other one back a place. ``min_lag_s`` is the
platform's own rule where it has one (PDD refuses windows ending less than 3 minutes ago,
Amazon less than 2), and our advice where it has none.

``horizon_s``: how far back the platform answers at all (a poller that was off longer than
this cannot catch up by pulling). ``requests_per_s`` and ``burst``: the platform's token
bucket for the listing call (0 = no published limit).
"""

from __future__ import annotations

from dataclasses import dataclass

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0


@dataclass(frozen=True)
class PullRules:
    max_window_s: float | None  # None: the platform sets no limit on a window's length
    page_size: int
    backwards: bool  # read page 1 for the total, then the last page back to the first
    min_lag_s: float  # a window ends at least this far behind the platform's clock
    horizon_s: float  # the oldest modification the platform still answers for
    requests_per_s: float = 0.0  # the listing call's sustained rate (0: none published)
    burst: int = 0  # the listing call's bucket size
    # When the API allows longer windows than is wise (JD: 30 days), the window to use.
    preferred_window_s: float | None = None

    @property
    def window_s(self) -> float | None:
        """The length of the windows a poller should cut."""
        return self.preferred_window_s or self.max_window_s


RULES: dict[str, PullRules] = {
    # taobao.trades.sold.increment.get: start_modified/end_modified at most 30 minutes apart,
    # page_size up to 100, no lag enforced but modifications land a little late: 60 s.
    "taobao": PullRules(
        max_window_s=30 * MINUTE,
        page_size=100,
        backwards=True,
        min_lag_s=60.0,
        horizon_s=90 * DAY,
    ),
    # pdd.order.number.list.increment.get: 30 minutes, 100 a page, the window must end at
    # least 3 minutes ago.
    "pdd": PullRules(
        max_window_s=30 * MINUTE,
        page_size=100,
        backwards=True,
        min_lag_s=180.0,
        horizon_s=90 * DAY,
    ),
    # jingdong.pop.order.search: the API takes up to 30 days, hour-long windows keep the pages
    # few; read backwards like Taobao's, since orders that change during a read move out of
    # the window's earlier pages (docs/marketplace-simulator.md).
    "jd": PullRules(
        max_window_s=30 * DAY,
        preferred_window_s=HOUR,
        page_size=100,
        backwards=True,
        min_lag_s=60.0,
        horizon_s=90 * DAY,
    ),
    # Selling Partner getOrders: LastUpdatedAfter/Before without a length limit, NextToken
    # paging (a cursor, so nothing moves under it), LastUpdatedBefore at least 2 minutes ago,
    # 0.0167 requests/s with a burst of 20.
    "amazon": PullRules(
        max_window_s=None,
        page_size=100,
        backwards=False,
        min_lag_s=120.0,
        horizon_s=730 * DAY,
        requests_per_s=0.0167,
        burst=20,
    ),
}
