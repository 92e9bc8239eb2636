"""The hot-SKU benchmark's profile pass: statements, row lock and backend waits."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from devtools.bench.hot_sku.row import HotRow, Reserve, Round, drive

# --- the profile pass ------------------------------------------------------------------------

_LABELS = (
    ("WITH wanted", "lock, update, insert x2 (sketch)"),
    ("pg_advisory_xact_lock", "advisory lock (order)"),
    ("FROM reservations WHERE order_id", "existing reservations"),
    ("w.lat, w.lon", "stock and places, unlocked (sketch)"),
    ("FOR UPDATE OF s", "lock stock rows (routing)"),
    ("FROM orders", "order facts (channel, address)"),
    ("FROM backorder_lines WHERE sku", "backorders ahead"),
    ("FROM backorder_lines WHERE order_id", "queue place (no orders row)"),
    ("FROM warehouses WHERE id = ANY", "warehouse places"),
    ("UPDATE stock", "update stock"),
    ("INSERT INTO reservations", "insert reservation"),
    ("INSERT INTO stock_movements", "insert movement"),
)
# The statement after whose answer the transaction holds the hot row's lock.
_LOCKING = ("FOR UPDATE", "UPDATE stock")


def label(statement: str) -> str:
    flat = " ".join(statement.split())
    return next((name for key, name in _LABELS if key in flat), flat[:36])


@dataclass
class Probe:
    """What one pass sends to PostgreSQL, from SQLAlchemy's events: statements per
    transaction, how long each takes, and how long the hot row stays locked."""

    statements: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    under_lock: set[str] = field(default_factory=set)
    locking: set[str] = field(default_factory=set)
    checkouts: int = 0
    transactions: int = 0
    held_ms: list[float] = field(default_factory=list)
    commit_ms: list[float] = field(default_factory=list)
    lock_wait_ms: list[float] = field(default_factory=list)
    # Round trips a transaction makes while it holds the row lock: the statements after the
    # locking one, and the COMMIT.
    trips_under_lock: list[int] = field(default_factory=list)

    def _before(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        conn.info["probe_started"] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        now = time.perf_counter()
        took = now - conn.info.pop("probe_started", now)
        name = label(statement)
        self.statements[name] += 1
        self.seconds[name].append(took)
        if "probe_locked" in conn.info:
            self.under_lock.add(name)
            conn.info["probe_trips"] += 1
        elif any(key in statement for key in _LOCKING):
            self.locking.add(name)
            conn.info["probe_locked"] = now
            conn.info["probe_trips"] = 1  # the COMMIT
            self.lock_wait_ms.append(took * 1000)

    def _commit(self, conn: Any) -> None:
        self.transactions += 1
        conn.info["probe_commit"] = time.perf_counter()

    def _checkout(self, *_: Any) -> None:
        self.checkouts += 1

    def _checkin(self, dbapi_conn: Any, record: Any) -> None:
        now = time.perf_counter()
        locked = record.info.pop("probe_locked", None)
        committed = record.info.pop("probe_commit", None)
        trips = record.info.pop("probe_trips", 0)
        if locked is not None and committed is not None:
            self.held_ms.append((now - locked) * 1000)
            self.commit_ms.append((now - committed) * 1000)
            self.trips_under_lock.append(trips)

    @contextlib.contextmanager
    def attached(self, engine: AsyncEngine) -> Any:
        hooks: list[tuple[Any, str, Callable[..., Any]]] = [
            (engine.sync_engine, "before_cursor_execute", self._before),
            (engine.sync_engine, "after_cursor_execute", self._after),
            (engine.sync_engine, "commit", self._commit),
            (engine.sync_engine.pool, "checkout", self._checkout),
            (engine.sync_engine.pool, "checkin", self._checkin),
        ]
        for target, name, fn in hooks:
            event.listen(target, name, fn)
        try:
            yield self
        finally:
            for target, name, fn in hooks:
                event.remove(target, name, fn)


_ACTIVITY = text(
    """
    SELECT state, coalesce(wait_event_type, '') AS kind, coalesce(wait_event, '') AS event
    FROM pg_stat_activity
    WHERE datname = current_database() AND backend_type = 'client backend'
      AND pid <> pg_backend_pid() AND state <> 'idle'
    """
)


def wait_class(state: str, kind: str, event_name: str) -> str:
    if state.startswith("idle in transaction"):
        return "in transaction, client's turn"
    if kind == "Lock":
        return f"lock wait: {event_name}"
    if not kind:
        return "on CPU"
    return f"{kind}: {event_name}"


@contextlib.asynccontextmanager
async def sampling(engine: AsyncEngine, seen: Counter[str]) -> AsyncIterator[None]:
    """Sample what the busy backends do every 5 ms, on a connection of its own."""

    async def loop() -> None:
        async with engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            while True:
                seen["samples"] += 1
                for state, kind, event_name in (await auto.execute(_ACTIVITY)).all():
                    seen[wait_class(state, kind, event_name)] += 1
                await asyncio.sleep(0.005)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs; (0, 0) where /proc/stat is missing."""
    try:
        fields = [float(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


@dataclass
class Profile:
    name: str
    result: Round
    probe: Probe
    waits: Counter[str]
    machine_busy: float


async def profile(
    name: str,
    engine: AsyncEngine,
    sampler: AsyncEngine,
    row: HotRow,
    reserve: Reserve,
    n: int,
    clients: int,
) -> Profile:
    await row.reset(engine, n)
    probe, waits = Probe(), Counter[str]()
    busy0, total0 = machine_cpu()
    with probe.attached(engine):
        async with sampling(sampler, waits):
            result = await drive(reserve, n, clients)
    busy1, total1 = machine_cpu()
    share = (busy1 - busy0) / (total1 - total0) if total1 > total0 else float("nan")
    return Profile(name, result, probe, waits, share)


def _ms(values: list[float]) -> str:
    if len(values) < 2:
        return "-"
    q = statistics.quantiles(values, n=20)
    return f"{statistics.fmean(values):.2f} / {q[18]:.2f}"


def report_profiles(profiles: list[Profile], clients: int) -> None:
    print(f"\nprofile: a separate pass per phase, {clients} clients, events and sampling on")
    width = 34
    header = f"{'':{width}}" + "".join(f"{p.name:>22}" for p in profiles)
    print(header)

    def line(title: str, cells: list[str]) -> None:
        print(f"{title:{width}}" + "".join(f"{c:>22}" for c in cells))

    def per(p: Profile, value: float) -> str:
        return f"{value / max(1, p.result.made + p.result.refused):.1f}"

    line("reservations/s (events on)", [f"{p.result.rate:.0f}" for p in profiles])
    line("statements / reservation", [per(p, sum(p.probe.statements.values())) for p in profiles])
    # BEGIN and COMMIT one round trip each; the pool pings only a connection idle for over
    # a second (make_engine), which under this load none is.
    line(
        "round trips / reservation",
        [per(p, sum(p.probe.statements.values()) + 2 * p.probe.transactions) for p in profiles],
    )
    line(
        "  of them under the row lock",
        [f"{statistics.fmean(p.probe.trips_under_lock or [0]):.1f}" for p in profiles],
    )
    line("row lock held ms mean / p95", [_ms(p.probe.held_ms) for p in profiles])
    line("  of which the COMMIT ms", [_ms(p.probe.commit_ms) for p in profiles])
    line("waiting for the row lock ms", [_ms(p.probe.lock_wait_ms) for p in profiles])
    line("latency ms mean / p95", [_ms(p.result.latencies_ms) for p in profiles])
    line(
        "client CPU µs / reservation",
        [f"{p.result.cpu_s / max(1, p.result.made) * 1e6:.0f}" for p in profiles],
    )
    line("machine CPU busy", [f"{p.machine_busy:.0%}" for p in profiles])
    print("busy backends, mean per sample (pg_stat_activity every 5 ms):")
    classes = sorted({k for p in profiles for k in p.waits if k != "samples"})
    for name in classes:
        line(
            f"  {name}"[:width],
            [f"{p.waits[name] / max(1, p.waits['samples']):.1f}" for p in profiles],
        )
    for p in profiles:
        print(f"statements of {p.name}, ms mean per call (L takes the row lock, * runs under it):")
        for name, calls in p.probe.statements.items():
            mean = statistics.fmean(p.probe.seconds[name]) * 1000
            mark = "L" if name in p.probe.locking else "*" if name in p.probe.under_lock else " "
            each = calls / max(1, p.result.made)
            print(f"  {mark} {name:36} {mean:7.2f}  ({each:.1f} a reservation)")
