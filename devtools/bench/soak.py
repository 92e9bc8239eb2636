"""``oms bench --soak``: many orders in a row, figures per window, to show whether anything
grows over a long run (the worker's and the servers' memory, the latencies).

Closed loop as the ``full`` phase of ``oms bench`` (C orders in flight, each slot sending
its next order once the last one's workflow has closed), with no bare or half phase. Every
``window`` seconds it takes a sample: orders completed in the window and their rate, POST
and end-to-end p50/p99 of the orders that ended in it, the RSS of each process tree and
the size of the Temporal database file. A line per window goes to stderr as it runs. At
the end the books are checked as ``oms bench`` checks them, and the first and the last
quarter of the windows are compared (median of each): growth is their ratio.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from devtools.bench.books import Shop, check_books
from devtools.bench.figures import latency_ms
from devtools.bench.probe import process_tree
from devtools.bench.run import Phase, _closed_loop, _order_runner, _shortfall
from devtools.bench.target import BenchError, Target, api_client, connect_client
from oms.settings import Settings

MAX_SOAK_ORDERS = 200_000


@dataclass
class SoakPlan:
    orders: int
    concurrency: int
    window_s: float
    within_s: float
    temporal_db: Path | None = None

    def check(self) -> None:
        if not 1 <= self.orders <= MAX_SOAK_ORDERS:
            raise BenchError(f"--orders must be between 1 and {MAX_SOAK_ORDERS} with --soak")
        if not 1 <= self.concurrency <= min(self.orders, 1000):
            raise BenchError("--concurrency must be between 1 and min(--orders, 1000)")
        if not 1 <= self.window_s <= 3600:
            raise BenchError("--window must be between 1 and 3600 seconds")
        if not 1 <= self.within_s <= 86_400:
            raise BenchError("--within must be between 1 and 86400 seconds")


def tree_rss_mb(pid: int | None) -> float | None:
    """Resident memory of ``pid`` and its live descendants, in MB. PostgreSQL's backends
    each count the shared buffers they have touched, so its figure is high but comparable
    from one window to the next."""
    return _tree_memory_mb(pid, lambda proc: proc.memory_info().rss)


def tree_pss_mb(pid: int | None) -> float | None:
    """Proportional memory of ``pid`` and its live descendants, in MB: pages shared by
    several processes (PostgreSQL's shared buffers) are split among them, so the sum is
    what the tree holds. None where the system does not tell (it is Linux's figure)."""
    return _tree_memory_mb(pid, lambda proc: getattr(proc.memory_full_info(), "pss", None))


def _tree_memory_mb(pid: int | None, measure: Any) -> float | None:
    procs = process_tree(pid) if pid else None
    if procs is None:
        return None
    total = 0
    for proc in procs:
        try:
            value = measure(proc)
        except psutil.Error:
            continue
        if value is None:
            return None
        total += value
    return round(total / 2**20, 1)


@dataclass
class Sampler:
    phase: Phase
    pids: dict[str, int | None]
    temporal_db: Path | None
    windows: list[dict[str, Any]] = field(default_factory=list)
    _seen_start: int = 0
    _seen_e2e: int = 0
    _last: float = field(default_factory=time.perf_counter)
    _started: float = field(default_factory=time.perf_counter)

    def sample(self) -> dict[str, Any]:
        now = time.perf_counter()
        starts = self.phase.start_s[self._seen_start :]
        ends = self.phase.e2e_s[self._seen_e2e :]
        self._seen_start += len(starts)
        self._seen_e2e += len(ends)
        span, self._last = now - self._last, now
        db = None
        if self.temporal_db is not None and self.temporal_db.exists():
            db = round(
                sum(
                    p.stat().st_size
                    for p in self.temporal_db.parent.glob(self.temporal_db.name + "*")
                )
                / 2**20,
                1,
            )
        window = {
            "t_s": round(now - self._started, 1),
            "completed": self._seen_e2e,
            "per_s": round(len(ends) / span, 2) if span > 0 else None,
            "post_ms": latency_ms(starts),
            "e2e_ms": latency_ms(ends),
            "rss_mb": {
                name: tree_rss_mb(pid) for name, pid in self.pids.items() if name != "bench"
            },
            "pss_mb": {
                name: tree_pss_mb(pid) for name, pid in self.pids.items() if name != "bench"
            },
            "temporal_db_mb": db,
            "errors": len(self.phase.errors),
            "load_average": round(os.getloadavg()[0], 2),
        }
        self.windows.append(window)
        return window

    async def run(self, stop: asyncio.Event, every_s: float) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=every_s)
            except TimeoutError:
                pass
            if not stop.is_set():
                _progress(self.sample())


def _progress(w: dict[str, Any]) -> None:
    rss = w["rss_mb"]
    sys.stderr.write(
        f"[{w['t_s']:>8.0f}s] done {w['completed']:>7}  {w['per_s'] or 0:>6.2f}/s  "
        f"POST p99 {w['post_ms']['p99']} ms  e2e p99 {w['e2e_ms']['p99']} ms  "
        f"RSS worker {rss.get('worker')} api {rss.get('api')} temporal {rss.get('temporal')} "
        f"postgres {rss.get('postgres')} (PSS {w.get('pss_mb', {}).get('postgres')}) MB  "
        f"temporal.db {w['temporal_db_mb']} MB  "
        f"errors {w['errors']}\n"
    )
    sys.stderr.flush()


def growth(windows: list[dict[str, Any]], pick: Any) -> dict[str, float | None]:
    """The median of a figure over the first and the last quarter of the windows (the
    very first window, a warm-up, left out), and their ratio."""
    values = [pick(w) for w in windows[1:]]
    values = [v for v in values if v is not None]
    if len(values) < 4:
        return {"first": None, "last": None, "ratio": None}
    q = max(1, len(values) // 4)
    first, last = statistics.median(values[:q]), statistics.median(values[-q:])
    return {
        "first": round(first, 1),
        "last": round(last, 1),
        "ratio": round(last / first, 3) if first else None,
    }


async def run_soak(target: Target, plan: SoakPlan, settings: Settings) -> dict[str, Any]:
    deadline = time.monotonic() + plan.within_s
    client = await connect_client(target, settings)
    async with api_client(target, plan.concurrency) as http:
        shop = Shop(http, uuid.uuid4().hex[:8])
        try:
            await shop.open(plan.orders + 1)
        except httpx.HTTPError as exc:
            raise BenchError(f"the API at {target.api_url}: {exc}") from exc
        warmup = Phase("warmup")
        await _order_runner(shop, client, warmup, deadline)(0)
        soak = Phase("soak", units=plan.orders)
        sampler = Sampler(soak, target.pids, plan.temporal_db)
        stop = asyncio.Event()
        sampling = asyncio.create_task(sampler.run(stop, plan.window_s))
        started = time.perf_counter()
        one = _order_runner(shop, client, soak, deadline)
        await _closed_loop(plan.orders, plan.concurrency, deadline, one)
        soak.elapsed_s = time.perf_counter() - started
        stop.set()
        await sampling
        _progress(sampler.sample())
        sys.stderr.write("checking the books...\n")
        violations = [*warmup.errors, *soak.errors, *_shortfall(warmup), *_shortfall(soak)]
        violations += await check_books(shop, [*warmup.ids, *soak.ids])
    windows = sampler.windows
    return {
        "run": shop.run,
        "orders": plan.orders,
        "concurrency": plan.concurrency,
        "window_s": plan.window_s,
        "cpus": os.cpu_count(),
        "completed": len(soak.e2e_s),
        "elapsed_s": round(soak.elapsed_s, 1),
        "orders_per_s": round(soak.per_s, 2),
        "post_ms": latency_ms(soak.start_s),
        "e2e_ms": latency_ms(soak.e2e_s),
        "growth": {
            "worker_rss_mb": growth(windows, lambda w: w["rss_mb"].get("worker")),
            "api_rss_mb": growth(windows, lambda w: w["rss_mb"].get("api")),
            "temporal_rss_mb": growth(windows, lambda w: w["rss_mb"].get("temporal")),
            "postgres_rss_mb": growth(windows, lambda w: w["rss_mb"].get("postgres")),
            "postgres_pss_mb": growth(windows, lambda w: w.get("pss_mb", {}).get("postgres")),
            "post_p99_ms": growth(windows, lambda w: w["post_ms"]["p99"]),
            "e2e_p99_ms": growth(windows, lambda w: w["e2e_ms"]["p99"]),
            "orders_per_s": growth(windows, lambda w: w["per_s"]),
        },
        "windows": windows,
        "invariants": {"passed": not violations, "violations": violations[:100]},
        "ok": not violations,
    }
