"""Open-loop load for ``oms bench --overload`` and ``--peak``: orders sent at a rate that
does not wait for the system, every POST timed and sorted by its answer, and what the
system shows meanwhile (its backlog, its processes' memory), then the wait for every
accepted order to end.

An arrival is never retried: a 429 is counted as refused (with or without its
``Retry-After``), so the figures say what the system did with what came, not what a
patient client would eventually get in.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from devtools.bench.books import Shop, views_of
from devtools.bench.figures import percentile
from devtools.bench.soak import tree_rss_mb
from oms.domain.status import OrderStatus

# An order is done in these statuses (at zero simulator delay it ends delivered).
TERMINAL = frozenset({"delivered", "cancelled", "failed"})
# Statuses an order passes through on its way (a shadow channel's order is not one here).
IN_FLIGHT = tuple(
    s.value for s in OrderStatus if s.value not in TERMINAL and s is not OrderStatus.SHADOWED
)
# Statuses an order has once a warehouse has its shipment.
DISPATCHED = frozenset({"dispatched", "partially_shipped", "shipped", "delivered"})
# The memory sampled, by role (run.json's pids; PostgreSQL is the postmaster and its
# children, the worker its processes).
MEMORY_ROLES = ("api", "worker", "temporal", "postgres")


def http_client(api_url: str, admin_key: str) -> httpx.AsyncClient:
    """The bench's client: room for hundreds of POSTs in flight, and idle connections
    dropped after 2 s, before the API's own keep-alive (uvicorn's 5 s) closes them under
    a request."""
    return httpx.AsyncClient(
        base_url=api_url,
        headers={"Authorization": f"Bearer {admin_key}"},
        timeout=60,
        limits=httpx.Limits(max_connections=500, keepalive_expiry=2.0),
    )


def spread_ms(seconds: list[float]) -> dict[str, float | int | None]:
    """p50, p95, p99 and max in milliseconds, and the count."""
    ms = [s * 1000 for s in seconds]

    def at(q: float) -> float | None:
        value = percentile(ms, q)
        return None if value is None else round(value, 1)

    return {
        "p50": at(50),
        "p95": at(95),
        "p99": at(99),
        "max": round(max(ms), 1) if ms else None,
        "n": len(ms),
    }


@dataclass
class Tally:
    """What the POSTs of one stretch of load got."""

    name: str
    sent: int = 0
    accepted: dict[str, float] = field(default_factory=dict)  # order id -> when sent (epoch)
    accepted_s: list[float] = field(default_factory=list)
    refused_s: list[float] = field(default_factory=list)
    refused_ids: list[str] = field(default_factory=list)
    retry_after_s: list[int] = field(default_factory=list)
    refused_without_retry_after: int = 0
    other: Counter[str] = field(default_factory=Counter)
    transport_retries: int = 0
    unavailable: list[str] = field(default_factory=list)  # answered 503

    def figures(self) -> dict[str, Any]:
        retry = self.retry_after_s
        return {
            "sent": self.sent,
            "accepted": len(self.accepted),
            "refused_429": len(self.refused_s),
            "refused_without_retry_after": self.refused_without_retry_after,
            "other": dict(self.other),
            "other_total": sum(self.other.values()),
            "transport_retries": self.transport_retries,
            "post_ms_accepted": spread_ms(self.accepted_s),
            "post_ms_refused": spread_ms(self.refused_s),
            "post_ms_all": spread_ms(self.accepted_s + self.refused_s),
            "retry_after_s": {
                "min": min(retry) if retry else None,
                "median": percentile(retry, 50) if retry else None,
                "max": max(retry) if retry else None,
            },
        }


def poster(shop: Shop, tally: Tally) -> Callable[[int], Coroutine[Any, Any, None]]:
    """Order ``n`` of the stretch, POSTed, timed and sorted into ``tally``."""

    async def one(n: int) -> None:
        body = shop.order(tally.name, n)
        tally.sent += 1
        sent_at = time.time()
        started = time.perf_counter()
        try:
            try:
                answer = await shop.http.post("/v1/orders", json=body)
            except httpx.TransportError:
                # A connection the server closed as it was reused (its keep-alive ended):
                # sent again once, as any client would; the order's reference makes that
                # safe, and the count says how often it happened.
                tally.transport_retries += 1
                answer = await shop.http.post("/v1/orders", json=body)
        except httpx.HTTPError as exc:
            tally.other[type(exc).__name__] += 1
            return
        took = time.perf_counter() - started
        if answer.status_code in (200, 202):
            tally.accepted[answer.json()["id"]] = sent_at
            tally.accepted_s.append(took)
        elif answer.status_code == 429:
            tally.refused_s.append(took)
            tally.refused_ids.append(_refused_id(body))
            retry = answer.headers.get("retry-after", "")
            if retry.isdigit():
                tally.retry_after_s.append(int(retry))
            else:
                tally.refused_without_retry_after += 1
        else:
            tally.other[str(answer.status_code)] += 1
            if answer.status_code == 503:
                # Recorded, its start refused in time (temporal-unavailable): durable,
                # started by a resend or the worker's recovery; followed to its end.
                tally.unavailable.append(_refused_id(body))

    return one


def _refused_id(body: dict[str, Any]) -> str:
    from oms.domain.ids import order_id_for

    return order_id_for(body["channel"], body["external_id"])


async def send(
    rate: Callable[[float], float], duration_s: float, one: Callable[[int], Any]
) -> list[asyncio.Task[None]]:
    """Arrivals for ``duration_s`` at ``rate(t)`` a second (t: seconds since the start),
    each ``one(n)`` started on time whatever is still in flight; the tasks, to be awaited."""
    started = time.perf_counter()
    tasks: list[asyncio.Task[None]] = []
    t, n = 0.0, 0
    while True:
        r = rate(t)
        t += 1.0 / r if r > 0 else 0.1
        if t >= duration_s:
            break
        if r <= 0:
            continue
        await asyncio.sleep(max(0.0, started + t - time.perf_counter()))
        tasks.append(asyncio.create_task(one(n)))
        n += 1
    await asyncio.sleep(max(0.0, started + duration_s - time.perf_counter()))
    return tasks


# --- what the system shows while it runs -------------------------------------------------

_GAUGE = re.compile(r"^(oms_backlog[a-z_]*) (\S+)$", re.MULTILINE)


def backlog_gauges(scrape: str) -> dict[str, float | None]:
    """The API's backlog gauges from a scrape of its ``/metrics`` (NaN: None)."""
    found: dict[str, float | None] = {}
    for name, value in _GAUGE.findall(scrape):
        number = float(value)
        found[name] = None if math.isnan(number) else number
    return found


@dataclass
class Watch:
    """Samples, every ``every_s`` until stopped: the API's backlog gauges and the RSS of
    each role's process tree; each sample is stamped with the stretch under way."""

    http: httpx.AsyncClient
    pids: dict[str, int | None]
    every_s: float = 1.0
    groups: dict[str, list[int]] = field(default_factory=dict)
    stretch: str = ""
    samples: list[dict[str, Any]] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        started = time.perf_counter()
        while not stop.is_set():
            sample: dict[str, Any] = {
                "t_s": round(time.perf_counter() - started, 1),
                "stretch": self.stretch,
            }
            try:
                answer = await self.http.get("/metrics", timeout=5)
                sample["backlog"] = backlog_gauges(answer.text)
            except httpx.HTTPError:
                sample["backlog"] = {}
            sample["rss_mb"] = {role: self._rss_mb(role) for role in MEMORY_ROLES}
            self.samples.append(sample)
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.every_s)
            except TimeoutError:
                pass

    def _rss_mb(self, role: str) -> float | None:
        """The role's processes' trees together (``oms dev --api 2`` runs two APIs)."""
        pid = self.pids.get(role)
        members = self.groups.get(role) or ([pid] if pid else [])
        sizes = [mb for mb in map(tree_rss_mb, members) if mb is not None]
        return round(sum(sizes), 1) if sizes else None

    def of(self, stretch: str) -> list[dict[str, Any]]:
        return [s for s in self.samples if s["stretch"] == stretch]


def backlog_figures(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Max and last of the backlog (and of its parts) over ``samples``."""

    def series(name: str) -> list[float]:
        return [v for s in samples if (v := s["backlog"].get(name)) is not None]

    out: dict[str, Any] = {}
    for key, name in (
        ("backlog", "oms_backlog"),
        ("temporal_tasks", "oms_backlog_temporal_tasks"),
        ("unstarted_orders", "oms_backlog_unstarted_orders"),
    ):
        values = series(name)
        out[key] = {
            "max": max(values) if values else None,
            "end": values[-1] if values else None,
        }
    limit = series("oms_backlog_limit")
    out["limit"] = limit[-1] if limit else None
    return out


def memory_figures(samples: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Max and last RSS (MB) per role over ``samples``."""
    out = {}
    for role in MEMORY_ROLES:
        values = [v for s in samples if (v := s["rss_mb"].get(role)) is not None]
        out[role] = {"max": max(values) if values else None, "end": values[-1] if values else None}
    return out


# --- the end of every accepted order -----------------------------------------------------


async def _in_flight(http: httpx.AsyncClient, customer: str) -> bool:
    """Whether any of the customer's orders is in a status that is not an end: one short
    page per such status (the whole list, paged, would load the system it waits on)."""
    for status in IN_FLIGHT:
        params: dict[str, str | int] = {"customer_id": customer, "status": status, "limit": 1}
        answer = await http.get("/v1/orders", params=params)
        answer.raise_for_status()
        if answer.json()["items"]:
            return True
    return False


async def wait_done(
    shop: Shop, ids: set[str], deadline: float, say: Callable[[str], None]
) -> dict[str, dict[str, Any]]:
    """The views of the shop's orders once none is in flight, or at the deadline
    (``time.monotonic()``)."""
    started = time.monotonic()
    last_said = started
    while await _in_flight(shop.http, shop.customer) and time.monotonic() < deadline:
        if time.monotonic() - last_said > 10:
            last_said = time.monotonic()
            say(f"drain: orders of {len(ids)} still in flight after {last_said - started:.0f} s")
        await asyncio.sleep(1.0)
    return await views_of(shop.http, shop.customer)


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


async def dispatch_delays(
    http: httpx.AsyncClient, views: dict[str, dict[str, Any]], ids: list[str]
) -> dict[str, float]:
    """Seconds from each order's creation to its first dispatch (the first timeline event
    in a dispatched status), by order id; orders never dispatched are left out."""
    gate = asyncio.Semaphore(8)
    found: dict[str, float] = {}

    async def one(order_id: str) -> None:
        view = views.get(order_id)
        if view is None:
            return
        async with gate:
            answer = await http.get(f"/v1/orders/{order_id}/events", params={"limit": 500})
        if answer.status_code != 200:
            return
        for event in answer.json()["items"]:
            if event["status"] in DISPATCHED:
                found[order_id] = epoch(event["created_at"]) - epoch(view["created_at"])
                return

    await asyncio.gather(*(one(i) for i in ids))
    return found


def done_at(views: dict[str, dict[str, Any]], ids: list[str]) -> float | None:
    """When the last of ``ids`` reached its end (its view's ``updated_at``), epoch seconds."""
    ends = [epoch(views[i]["updated_at"]) for i in ids if i in views]
    return max(ends) if ends else None


def ended(views: dict[str, dict[str, Any]], ids: list[str]) -> int:
    """How many of ``ids`` are in the read model in an end status."""
    return sum(1 for i in ids if views.get(i, {}).get("status") in TERMINAL)
