"""The marketplace simulator's memory: every platform's orders, the changes due later, the
ship calls received, the faults and the rate limit, and the platform clock.

Everything lives in the simulator process (no tables): a marketplace is an outside company,
and a restart of the sandbox simply starts an empty marketplace. Methods never await, so on
the event loop each one runs whole; a lock guards them anyway, for the odd caller on another
thread (a test driving the store directly while a server runs).

The platform clock is the real UTC time plus an offset (``OMS_SIM_MARKET_CLOCK_OFFSET_S`` or
``POST /sim/market/clock``), so a test can put the platform ahead of or behind the OMS.
Every change sets the order's ``modified`` to the clock's now, never earlier than its last
``modified``: an order that changes leaves a window that ends in the past.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from simulators.marketplace.generator import (
    DEFAULT_SKUS,
    MARKET_PLATFORMS,
    Action,
    MarketOrder,
    Mix,
    State,
    TransitionRefused,
    plan,
    transition,
)

# Platforms that list only orders that were paid at some point (JD; PDD creates the order
# once the group buy is paid).
LISTS_PAID_ONLY = frozenset({"jd", "pdd"})
Listener = Callable[[MarketOrder, str], None]


class MarketClock:
    def __init__(self, offset_s: float = 0.0) -> None:
        self.offset_s = offset_s

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset_s)


class UnknownOrder(KeyError):
    pass


@dataclass
class ShipResult:
    ok: bool
    code: str = ""  # why not: closed, shipped, unpaid, refund_requested, unknown
    message: str = ""
    repeated: bool = False  # the same tracking number again: answered as the first time


def _second(value: datetime) -> datetime:
    return value.replace(microsecond=0)


class MarketStore:
    def __init__(self, clock: MarketClock | None = None) -> None:
        self.clock = clock or MarketClock()
        self._orders: dict[str, dict[str, MarketOrder]] = {p: {} for p in MARKET_PLATFORMS}
        self._numbers = dict.fromkeys(MARKET_PLATFORMS, 1000)
        self._due: list[tuple[datetime, int, str, str, str]] = []
        self._seq = 0
        self._listeners: list[Listener] = []
        self._lock = threading.RLock()
        self.feedback: list[dict[str, Any]] = []
        self.counts: Counter[str] = Counter()

    # --- listening ----------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        """``listener(order, event)`` after each change; event is ``create`` or an action."""
        with self._lock:
            self._listeners.append(listener)

    def _emit(self, order: MarketOrder, event: str) -> None:
        self.counts[f"{order.platform}.{event}"] += 1
        for listener in self._listeners:
            listener(order, event)

    # --- making orders ------------------------------------------------------------------

    def create(
        self,
        platform: str,
        count: int,
        seed: int | None = None,
        mix: Mix | None = None,
        skus: list[str] | tuple[str, ...] = DEFAULT_SKUS,
        delay_s: float = 5.0,
    ) -> list[str]:
        """``count`` new orders of ``platform``, created now, with their later changes queued;
        their ids. The same seed gives the same orders (ids drawn again on a collision)."""
        if platform not in MARKET_PLATFORMS:
            raise ValueError(f"unknown platform {platform!r}")
        mix = mix or Mix()
        mix.validate()
        rng = random.Random(seed)
        ids = []
        with self._lock:
            now = self.clock.now()
            book = self._orders[platform]
            for _ in range(count):
                self._numbers[platform] += 1
                planned = plan(platform, rng, now, mix, delay_s, skus, self._numbers[platform])
                while planned.order.id in book:
                    planned = plan(platform, rng, now, mix, delay_s, skus, self._numbers[platform])
                order = planned.order
                book[order.id] = order
                ids.append(order.id)
                for seconds, action in planned.later:
                    self._seq += 1
                    due = now + timedelta(seconds=seconds)
                    heapq.heappush(self._due, (due, self._seq, platform, order.id, action))
                self._emit(order, "create")
        return ids

    # --- changing them ------------------------------------------------------------------

    def get(self, platform: str, order_id: str) -> MarketOrder:
        try:
            return self._orders[platform][order_id]
        except KeyError:
            raise UnknownOrder(f"no {platform} order {order_id}") from None

    def act(self, platform: str, order_id: str, action: str) -> MarketOrder:
        """Apply a lifecycle action now (``TransitionRefused`` if it does not apply)."""
        with self._lock:
            order = self.get(platform, order_id)
            transition(order, action, self.clock.now())
            self._emit(order, action)
            return order

    def advance(self) -> int:
        """Apply every queued change that is due; how many applied. A change that no longer
        applies (the order was closed by hand meanwhile) is dropped."""
        applied = 0
        with self._lock:
            now = self.clock.now()
            while self._due and self._due[0][0] <= now:
                _, _, platform, order_id, action = heapq.heappop(self._due)
                try:
                    self.act(platform, order_id, action)
                    applied += 1
                except TransitionRefused:
                    self.counts["dropped_changes"] += 1
        return applied

    def pending(self) -> int:
        return len(self._due)

    def ship(
        self, platform: str, order_id: str, tracking: str, carrier: str, request: dict[str, Any]
    ) -> ShipResult:
        """The seller's ship call: the order becomes shipped, or the call is refused. Every
        call is recorded in ``feedback``, refused or not."""
        with self._lock:
            result = self._ship(platform, order_id, tracking, carrier)
            self.feedback.append(
                {
                    "platform": platform,
                    "order_id": order_id,
                    "request": request,
                    "received_at": self.clock.now().isoformat(),
                    "accepted": result.ok,
                    "repeated": result.repeated,
                    "code": result.code,
                    "message": result.message,
                }
            )
            self.counts["ship.accepted" if result.ok else "ship.refused"] += 1
            return result

    def _ship(self, platform: str, order_id: str, tracking: str, carrier: str) -> ShipResult:
        try:
            order = self.get(platform, order_id)
        except UnknownOrder:
            return ShipResult(False, "unknown", f"no such order {order_id}")
        if not tracking:
            return ShipResult(False, "invalid", "a tracking number is required")
        if order.state == State.SHIPPED:
            if any(s["tracking"] == tracking for s in order.shipments):
                return ShipResult(True, repeated=True)
            return ShipResult(False, "shipped", "the order has already been shipped")
        if order.state in (State.CLOSED, State.CANCELLED):
            return ShipResult(False, "closed", f"the order is {order.state}")
        if order.state == State.UNPAID:
            return ShipResult(False, "unpaid", "the buyer has not paid")
        if order.state == State.REFUND_REQUESTED:
            return ShipResult(False, "refund_requested", "the buyer asked for a refund")
        order.shipments.append(
            {"tracking": tracking, "carrier": carrier, "at": self.clock.now().isoformat()}
        )
        transition(order, Action.SHIP, self.clock.now())
        self._emit(order, Action.SHIP)
        return ShipResult(True)

    # --- reading them -------------------------------------------------------------------

    def orders(self, platform: str, state: str | None = None) -> list[MarketOrder]:
        with self._lock:
            found = list(self._orders[platform].values())
        return [o for o in found if state is None or o.state == state]

    def listed(self, platform: str, start: datetime, end: datetime) -> list[MarketOrder]:
        """Orders whose ``modified`` (to the second, as the platforms state it) lies in
        ``[start, end)``, newest first; ties broken by id, so pages are stable."""
        with self._lock:
            found = [
                o
                for o in self._orders[platform].values()
                if start <= _second(o.modified) < end
                and (platform not in LISTS_PAID_ONLY or o.ever_paid)
            ]
        found.sort(key=lambda o: (_second(o.modified), o.id), reverse=True)
        return found

    def stats(self) -> dict[str, Any]:
        with self._lock:
            by_state = {
                platform: dict(Counter(o.state for o in book.values()))
                for platform, book in self._orders.items()
                if book
            }
            return {
                "orders": by_state,
                "events": dict(self.counts),
                "pending_changes": len(self._due),
                "feedback": len(self.feedback),
            }


# --- faults and rate limits ----------------------------------------------------------------


@dataclass
class PlatformFaults:
    """Per platform: an outage until a time, and a share of calls answered 503."""

    failure_ratio: float = 0.0
    down_until: dict[str, float] = field(default_factory=dict)
    ratios: dict[str, float] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)

    def down(self, platform: str, seconds: float) -> None:
        self.down_until[platform] = time.monotonic() + seconds

    def refusal(self, platform: str) -> float | None:
        """Seconds to wait before retrying when this call is refused, or None to serve it."""
        remaining = self.down_until.get(platform, 0.0) - time.monotonic()
        if remaining > 0:
            return remaining
        ratio = self.ratios.get(platform, self.failure_ratio)
        if ratio > 0 and self.rng.random() < ratio:
            return 1.0
        return None


class TokenBucket:
    """A bucket of ``burst`` tokens refilled at ``rate`` per second; a call takes one."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def take(self) -> float | None:
        """None when a token was taken; else the seconds until one is there."""
        if self.rate <= 0 and self.burst <= 0:
            return None
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return None
        return (1 - self._tokens) / self.rate if self.rate > 0 else 3600.0
