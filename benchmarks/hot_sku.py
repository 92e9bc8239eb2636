"""Hot-SKU reservations: the reservation activity against the bare row update it wraps.

    .venv/bin/python benchmarks/hot_sku.py                  # a and b on an embedded PostgreSQL
    DATABASE_URL=postgresql://u:p@127.0.0.1/oms .venv/bin/python benchmarks/hot_sku.py
    .venv/bin/python benchmarks/hot_sku.py --api http://127.0.0.1:8000 --key <admin key>  # + c

Every client below works on one SKU held by one warehouse (the hot row), on one PostgreSQL
database: ``DATABASE_URL``; with ``--api`` and no ``DATABASE_URL``, the database of the
``oms dev`` found in ``$OMS_HOME/run.json`` (so all three phases share it); otherwise an
embedded ``pgserver`` in a temporary directory, migrated with ``oms.db.migrate``.

a) bare: ``--clients`` asyncio clients, each looping over one transaction holding one
   conditional ``UPDATE stock SET reserved = reserved + 1 ... AND on_hand - reserved >= 1``.
b) the activity: the same clients calling ``InventoryActivities(engine).reserve_stock`` in
   process (it calls no ``activity.*`` API, so no Temporal context is needed), one distinct
   order id per call and no ``orders`` row (it falls back to the default channel). The
   request carries the order id and lines only (round 0, the path of orders started before
   the backorders patch); ``--round 1`` also passes that field: the path new orders take.
b') with ``--what-if``: a sketch in this file, not the activity, of the changes
   docs/performance.md suggests (route on an unlocked read, then lock, take and write in
   one statement), falling back to the activity when the stock moved in between.
c) the order path, with ``--api``/``--key`` (a running ``make dev``, loopback only): the
   clients POST orders for a hot SKU of their own and poll ``GET /v1/orders/{id}`` until
   the order is reserved or later.

a and b share one engine (the worker's ``make_engine``, ``--pool`` connections plus as many
overflow; 10 as in the worker by default). They alternate for ``--rounds`` rounds after a
warm-up, from a reset row holding exactly ``--reservations`` units; the figure is the median
round. After each round: the row's ``reserved`` equals the reservations made (for b: the held
reservation rows and the journal too), it never exceeds ``on_hand``, and one more reservation
leaves the row as it is. Then a profile pass (``--profile N`` reservations each, SQLAlchemy
events and ``pg_stat_activity`` sampled every 5 ms) shows where the time goes: round trips,
how long the row lock is held, what the backends wait on. Exits 1 when an invariant fails.
Figures: docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import itertools
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.exceptions import ApplicationError

from activities.errors import OUT_OF_STOCK
from activities.inventory import InventoryActivities
from oms.db.engine import make_engine
from oms.db.migrate import migrate
from oms.domain.geo import destination
from oms.domain.messages import ReserveRequest, SkuQuantity
from oms.domain.routing import OutOfStock, WarehouseStock, allocate, strategy_for, with_distances
from oms.logging import configure_logging
from oms.settings import Settings

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# Reserved or any later step of an order (the stock is held, or was committed on shipping).
REACHED = {"reserved", "dispatched", "partially_shipped", "shipped", "delivered"}
# Statuses an order of this benchmark should not end in before reserving.
GAVE_UP = {"failed", "cancelled", "on_hold", "backordered"}

_BARE = text(
    "UPDATE stock SET reserved = reserved + 1 "
    "WHERE warehouse_id = :w AND sku = :sku AND on_hand - reserved >= 1"
)


# --- the hot row -----------------------------------------------------------------------------


@dataclass
class HotRow:
    warehouse_id: str
    sku: str

    @property
    def key(self) -> dict[str, str]:
        return {"w": self.warehouse_id, "sku": self.sku}

    async def create(self, engine: AsyncEngine) -> None:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO warehouses (id, name, country, lat, lon, priority, created_at) "
                    "VALUES (:w, 'Hot SKU bench', 'DE', 52.5, 13.4, 1, now())"
                ),
                self.key,
            )
            await conn.execute(
                text(
                    "INSERT INTO stock (warehouse_id, sku, on_hand, reserved, updated_at) "
                    "VALUES (:w, :sku, 0, 0, now())"
                ),
                self.key,
            )

    async def reset(self, engine: AsyncEngine, on_hand: int) -> None:
        """Back to ``on_hand`` free units, no reservations and no journal; then vacuumed, so
        every phase starts from the same row and the same table sizes."""
        async with engine.begin() as conn:
            for table in ("reservations", "stock_movements"):
                await conn.execute(
                    text(f"DELETE FROM {table} WHERE warehouse_id = :w AND sku = :sku"), self.key
                )
            await conn.execute(
                text(
                    "UPDATE stock SET on_hand = :n, reserved = 0, updated_at = now() "
                    "WHERE warehouse_id = :w AND sku = :sku"
                ),
                {**self.key, "n": on_hand},
            )
        async with engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await auto.execute(text("VACUUM stock, reservations, stock_movements"))

    async def drop(self, engine: AsyncEngine) -> None:
        async with engine.begin() as conn:
            for table in ("reservations", "stock_movements", "stock"):
                await conn.execute(
                    text(f"DELETE FROM {table} WHERE warehouse_id = :w AND sku = :sku"), self.key
                )
            await conn.execute(text("DELETE FROM warehouses WHERE id = :w"), self.key)

    async def levels(self, engine: AsyncEngine) -> dict[str, int]:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        """
                        SELECT s.on_hand, s.reserved,
                          (SELECT count(*) FROM reservations r WHERE r.warehouse_id = s.warehouse_id
                             AND r.sku = s.sku AND r.status = 'held') AS held_rows,
                          (SELECT coalesce(sum(quantity), 0) FROM reservations r
                             WHERE r.warehouse_id = s.warehouse_id AND r.sku = s.sku
                             AND r.status = 'held') AS held_units,
                          (SELECT count(DISTINCT order_id) FROM reservations r
                             WHERE r.warehouse_id = s.warehouse_id AND r.sku = s.sku) AS orders,
                          (SELECT coalesce(sum(reserved_delta), 0) FROM stock_movements m
                             WHERE m.warehouse_id = s.warehouse_id AND m.sku = s.sku
                             AND m.kind = 'reserve') AS journal
                        FROM stock s WHERE s.warehouse_id = :w AND s.sku = :sku
                        """
                    ),
                    self.key,
                )
            ).one()
        return {k: int(v) for k, v in row._mapping.items()}


# --- phases a and b --------------------------------------------------------------------------

Reserve = Callable[[int], Awaitable[bool]]


def bare(engine: AsyncEngine, row: HotRow) -> Reserve:
    async def reserve(_: int) -> bool:
        async with engine.begin() as conn:
            return (await conn.execute(_BARE, row.key)).rowcount == 1

    return reserve


def activity(engine: AsyncEngine, row: HotRow, prefix: str, round_: int = 0) -> Reserve:
    """``reserve_stock`` with an order id and lines only; with ``round_`` (``--round``) also
    that field, the path orders take since the backorders patch (round 0: orders before)."""
    inventory = InventoryActivities(engine)
    extra: dict[str, Any] = {"round": round_} if round_ else {}

    async def reserve(n: int) -> bool:
        lines = [SkuQuantity(row.sku, 1)]
        request = ReserveRequest(order_id=f"{prefix}-{n}", lines=lines, **extra)
        try:
            await inventory.reserve_stock(request)
        except ApplicationError as exc:
            if exc.type == OUT_OF_STOCK:
                return False
            raise
        return True

    return reserve


# --- what if (--what-if): a sketch of a leaner reservation, not the activity -------------------

_SKETCH_GUARD = text("SELECT pg_advisory_xact_lock(hashtext('order-stock:' || :order_id))")
_SKETCH_EXISTING = text("SELECT 1 FROM reservations WHERE order_id = :order_id LIMIT 1")
# Routing reads everything it needs before any stock row is locked.
_SKETCH_CANDIDATES = text(
    """
    SELECT s.warehouse_id, s.sku, s.on_hand - s.reserved AS available, w.priority, w.lat, w.lon
    FROM stock s JOIN warehouses w ON w.id = s.warehouse_id WHERE s.sku = ANY(:skus)
    """
)
_SKETCH_ORDER = text(
    "SELECT channel, view->'shipping_address' AS address FROM orders WHERE id = :id"
)
# One round trip locks the chosen rows (in key order, as the activity does), takes the units
# where they are still free, and writes the reservations and the journal.
_SKETCH_TAKE = text(
    """
    WITH wanted AS (
        SELECT * FROM unnest(CAST(:ws AS text[]), CAST(:skus AS text[]), CAST(:qs AS int[]))
            AS t(w, sku, q)
    ), locked AS (
        SELECT s.warehouse_id, s.sku FROM stock s
        JOIN wanted t ON s.warehouse_id = t.w AND s.sku = t.sku
        ORDER BY s.warehouse_id, s.sku FOR UPDATE OF s
    ), taken AS (
        UPDATE stock s SET reserved = s.reserved + t.q, updated_at = now()
        FROM wanted t, locked l
        WHERE s.warehouse_id = t.w AND s.sku = t.sku
          AND l.warehouse_id = s.warehouse_id AND l.sku = s.sku
          AND s.on_hand - s.reserved >= t.q
        RETURNING s.warehouse_id, s.sku, t.q
    ), held AS (
        INSERT INTO reservations (order_id, warehouse_id, sku, quantity, status, created_at,
                                  updated_at)
        SELECT :order_id, warehouse_id, sku, q, 'held', now(), now() FROM taken
        RETURNING warehouse_id, sku, quantity
    )
    INSERT INTO stock_movements (warehouse_id, sku, kind, on_hand_delta, reserved_delta,
                                 reason, order_id, created_at)
    SELECT warehouse_id, sku, 'reserve', 0, quantity, 'order', :order_id, now() FROM held
    RETURNING warehouse_id
    """
)


class _Moved(Exception):
    """Stock changed between the unlocked read and the write: roll back, take the slow path."""


def sketch(engine: AsyncEngine, row: HotRow, prefix: str, fallbacks: Counter[str]) -> Reserve:
    """Suggestions 1 to 3 of docs/performance.md: route on an unlocked read, then lock only
    the chosen rows in one fused conditional write; the activity itself when stock moved.
    Same guard, same routing code, the rows ``reserve_stock`` writes in round 0 (no round,
    no backorders: see the caveat there); a retry of an order that already holds stock is
    left to the activity (not exercised here)."""
    slow = activity(engine, row, prefix)

    async def reserve(n: int) -> bool:
        order_id, demand = f"{prefix}-{n}", {row.sku: 1}
        try:
            async with engine.begin() as conn:
                await conn.execute(_SKETCH_GUARD, {"order_id": order_id})
                if (await conn.execute(_SKETCH_EXISTING, {"order_id": order_id})).first():
                    raise _Moved("a retry")  # the activity answers it
                rows = (await conn.execute(_SKETCH_CANDIDATES, {"skus": sorted(demand)})).all()
                available: dict[str, dict[str, int]] = defaultdict(dict)
                priority, places = {}, {}
                for r in rows:
                    available[r.warehouse_id][r.sku] = max(0, r.available)
                    priority[r.warehouse_id] = r.priority
                    places[r.warehouse_id] = (r.lat, r.lon)
                order = (await conn.execute(_SKETCH_ORDER, {"id": order_id})).first()
                address = (order.address if order else None) or {}
                to = destination(
                    str(address.get("country", "")), address.get("lat"), address.get("lon")
                )
                stocks = [WarehouseStock(w, priority[w], a) for w, a in available.items()]
                strategy = strategy_for({}, order.channel if order else "default")
                try:
                    plan = allocate(demand, with_distances(stocks, places, to), strategy)
                except OutOfStock:
                    raise _Moved("out of stock") from None  # the activity decides, locked
                lines = [(a.warehouse_id, sku, q) for a in plan for sku, q in a.lines.items()]
                ws, skus, qs = (list(x) for x in zip(*lines, strict=True))
                params = {"order_id": order_id, "ws": ws, "skus": skus, "qs": qs}
                if len((await conn.execute(_SKETCH_TAKE, params)).all()) != len(lines):
                    raise _Moved("stock moved")
        except _Moved as why:
            fallbacks[str(why)] += 1
            return await slow(n)
        return True

    return reserve


@dataclass
class Round:
    made: int
    refused: int
    seconds: float
    latencies_ms: list[float]
    cpu_s: float

    @property
    def rate(self) -> float:
        return self.made / self.seconds


async def drive(reserve: Reserve, count: int, clients: int) -> Round:
    """``clients`` coroutines taking numbers from one counter until ``count`` are done."""
    numbers = itertools.count()
    made = refused = 0
    latencies: list[float] = []

    async def client() -> None:
        nonlocal made, refused
        while (n := next(numbers)) < count:
            started = time.perf_counter()
            if await reserve(n):
                made += 1
            else:
                refused += 1
            latencies.append((time.perf_counter() - started) * 1000)

    cpu, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return Round(made, refused, time.perf_counter() - t0, latencies, time.process_time() - cpu)


@dataclass
class Phase:
    name: str
    rounds: list[Round] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def median(self) -> Round:
        return sorted(self.rounds, key=lambda r: r.rate)[len(self.rounds) // 2]


async def run_round(
    phase: Phase, engine: AsyncEngine, row: HotRow, reserve: Reserve, count: int, clients: int
) -> None:
    await row.reset(engine, count)
    result = await drive(reserve, count, clients)
    phase.rounds.append(result)
    levels = await row.levels(engine)
    tag = f"{phase.name} round {len(phase.rounds)}"
    if result.made != count or result.refused:
        phase.problems.append(f"{tag}: {result.made} made, {result.refused} refused of {count}")
    if levels["reserved"] != result.made or levels["reserved"] > levels["on_hand"]:
        phase.problems.append(f"{tag}: reserved {levels['reserved']}, made {result.made}")
    if phase.name != "a" and not (
        levels["held_rows"]
        == levels["held_units"]
        == levels["orders"]
        == levels["journal"]
        == levels["reserved"]
    ):
        phase.problems.append(f"{tag}: counters disagree {levels}")
    # The row is full: one more must leave it as it is, by either path.
    await reserve(count + 1)
    if (after := await row.levels(engine))["reserved"] != levels["reserved"]:
        phase.problems.append(f"{tag}: one more reservation beyond on_hand changed {after}")


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


# --- phase c ---------------------------------------------------------------------------------


def _order(run: str, n: int, sku: str) -> dict[str, object]:
    # One customer and an address of its own per run, so the address velocity rule (three
    # customers at one address) never holds a benchmark order.
    return {
        "channel": "bench",
        "external_id": f"hot-{run}-{n}",
        "customer": {"id": f"hot-{run}", "email": "bench@example.com", "name": "Bench"},
        "shipping_address": {
            "name": "Bench",
            "line1": f"{run} Hot Street",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
        },
        "currency": "EUR",
        "lines": [{"sku": sku, "quantity": 1, "unit_price": "1.00"}],
        "payment": {"method": "card", "token": "tok_ok"},
    }


@dataclass
class OrderPath:
    orders: int
    reached: int
    seconds: float
    statuses: Counter[str]
    problems: list[str]
    latencies_s: list[float]
    # Seconds between consecutive events of the orders' timelines, by step.
    steps: dict[str, list[float]]

    @property
    def rate(self) -> float:
        return self.reached / self.seconds if self.seconds else 0.0


async def order_path(
    api: str, key: str, orders: int, clients: int, within: float, poll: float, run_id: str
) -> OrderPath:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=clients + 5)
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=30, limits=limits) as http:
        wh, sku = f"hot-{run_id}", f"HOT-C-{run_id}"
        place = {"id": wh, "name": "Hot", "country": "DE", "lat": 52.5, "lon": 13.4, "priority": 1}
        (await http.post("/v1/warehouses", json=place)).raise_for_status()
        (await http.put(f"/v1/stock/{wh}/{sku}", json={"on_hand": orders})).raise_for_status()
        numbers = itertools.count()
        statuses: Counter[str] = Counter()
        latencies: list[float] = []
        reached_ids: list[str] = []
        last = 0.0
        t0 = time.perf_counter()
        deadline = t0 + within

        async def client() -> None:
            nonlocal last
            while (n := next(numbers)) < orders and time.perf_counter() < deadline:
                response = await http.post("/v1/orders", json=_order(run_id, n, sku))
                if response.status_code != 202:
                    statuses[f"refused {response.status_code}"] += 1
                    continue
                order_id = response.json()["id"]
                posted = time.perf_counter()
                status = "received"
                while time.perf_counter() < deadline:
                    status = (await http.get(f"/v1/orders/{order_id}")).json()["status"]
                    if status in REACHED or status in GAVE_UP:
                        break
                    await asyncio.sleep(poll)
                statuses[status if status not in REACHED else "reached"] += 1
                if status in REACHED:
                    last = time.perf_counter()
                    latencies.append(last - posted)
                    reached_ids.append(order_id)

        await asyncio.gather(*(client() for _ in range(clients)))
        reached = statuses["reached"]
        stock = (await http.get(f"/v1/stock/{sku}")).json()
        steps = await _steps(http, reached_ids[:: max(1, len(reached_ids) // 50)])
    problems = []
    level = next((w for w in stock["warehouses"] if w["warehouse_id"] == wh), None)
    if level is None:
        problems.append(f"c: no stock of {sku} at {wh}")
    else:
        # Committed units left on_hand; held ones are reserved: together, the reached orders.
        holding = (orders - level["on_hand"]) + level["reserved"]
        if holding != reached or level["reserved"] > level["on_hand"]:
            problems.append(f"c: {reached} orders reached reservation, stock says {level}")
    if reached < orders:
        problems.append(f"c: {reached} of {orders} orders reached reservation: {dict(statuses)}")
    seconds = (last - t0) if reached else 0.0
    return OrderPath(orders, reached, seconds, statuses, problems, latencies, steps)


async def _steps(http: httpx.AsyncClient, order_ids: list[str]) -> dict[str, list[float]]:
    """Where an order's time goes up to its reservation, from its timeline (a sample)."""
    steps: dict[str, list[float]] = defaultdict(list)
    for order_id in order_ids:
        events = (await http.get(f"/v1/orders/{order_id}/events")).json()["items"]
        for before, after in itertools.pairwise(events):
            gap = datetime.fromisoformat(after["created_at"]) - datetime.fromisoformat(
                before["created_at"]
            )
            steps[f"{before['type']} -> {after['type']}"].append(gap.total_seconds())
            if after["type"] == "stock_reserved":
                break
    return steps


# --- the run ---------------------------------------------------------------------------------


@contextlib.contextmanager
def database(url: str | None) -> Any:
    """The given URL, or an embedded PostgreSQL in a temporary directory, removed after."""
    if url:
        yield url, ""
        return
    import pgserver

    data = tempfile.mkdtemp(prefix="omspg-bench", dir="/tmp")
    server = pgserver.get_server(data, cleanup_mode="delete")
    try:
        yield server.get_uri(), f"embedded pgserver in {data}"
    finally:
        server.cleanup()


def dev_database(api: str) -> str | None:
    """The database of the ``oms dev`` serving ``api``, from its run file."""
    from oms.dev import read_run_file

    run = read_run_file(Settings().home.resolve())
    if run and urlparse(run.get("api_url", "")).port == urlparse(api).port:
        return str(run["database_url"])
    return None


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


TITLES = {
    "a": "a  bare conditional UPDATE (reservations)",
    "b": "b  reserve_stock activity (reservations)",
    "b'": "b' what-if sketch, not the activity",
}


async def run(args: argparse.Namespace) -> int:
    configure_logging("console", "warning")
    url, origin = args.database_url, "DATABASE_URL"
    if not url and args.api and (url := dev_database(args.api)):
        origin = "the oms dev's (its run.json), shared with c"
    problems: list[str] = []
    fallbacks: Counter[str] = Counter()
    load = os.getloadavg()[0]
    with database(url) as (db_url, embedded):
        settings = Settings(database_url=db_url)
        engine = make_engine(settings, pool_size=args.pool)
        sampler = make_engine(settings, pool_size=1)
        await migrate(engine)
        run_id = uuid.uuid4().hex[:8]
        row = HotRow(f"hot-{run_id}", f"HOT-{run_id}")
        await row.create(engine)
        # Each phase makes its reserve function for a tag (distinct order ids per tag).
        makers: dict[str, Callable[[str], Reserve]] = {
            "a": lambda tag: bare(engine, row),
            "b": lambda tag: activity(engine, row, f"{run_id}-{tag}", args.round),
        }
        if args.what_if:
            makers["b'"] = lambda tag: sketch(engine, row, f"{run_id}-s{tag}", fallbacks)
        phases = {name: Phase(name) for name in makers}
        profiles: list[Profile] = []
        try:
            # Warm-up: every pooled connection opened, every statement prepared.
            for make in makers.values():
                await row.reset(engine, args.clients * 4)
                await drive(make("warm"), args.clients * 4, args.clients)
            fallbacks.clear()
            for r in range(args.rounds):
                for name, make in makers.items():
                    reserve = make(f"{r}")
                    await run_round(
                        phases[name], engine, row, reserve, args.reservations, args.clients
                    )
            if args.profile:
                for name, make in makers.items():
                    reserve = make("profile")
                    profiles.append(
                        await profile(
                            name, engine, sampler, row, reserve, args.profile, args.clients
                        )
                    )
            problems += [p for phase in phases.values() for p in phase.problems]
        finally:
            await row.drop(engine)
            await engine.dispose()
            await sampler.dispose()
        c = None
        if args.api:
            c = await order_path(
                args.api, args.key, args.orders, args.clients, args.within, args.poll, run_id
            )
            problems += c.problems

    print(f"hot SKU: one warehouse, one SKU; database: {embedded or origin}")
    print(
        f"{os.cpu_count()} CPUs, load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} now"
    )
    print(
        f"{args.clients} concurrent clients; a and b share one engine: make_engine pool_size "
        f"{args.pool} + max_overflow {args.pool}, ping after 1 s idle; {args.rounds} rounds of "
        f"{args.reservations} reservations, phases in turn, the median round shown"
    )
    print(f"{'phase':44}{'per second':>12}{'vs a':>8}{'p50 ms':>9}{'p95 ms':>9}")
    base = phases["a"].median.rate
    for name, phase in phases.items():
        m = phase.median
        q = statistics.quantiles(m.latencies_ms, n=20)
        title = TITLES[name]
        if name == "b" and args.round:
            title = f"b  reserve_stock, round {args.round} (reservations)"
        print(f"{title:44}{m.rate:12.0f}{m.rate / base:8.2f}{q[9]:9.1f}{q[18]:9.1f}")
    if c is not None:
        title = "c  order path via the API (orders reserved)"
        print(f"{title:44}{c.rate:12.1f}{c.rate / base:8.3f}")
        same = "the same database" if url and url == dev_database(args.api) else "its own database"
        print(f"   c: {c.reached}/{c.orders} orders, polled every {args.poll} s, {same}")
        if len(c.latencies_s) > 1:
            q = statistics.quantiles(c.latencies_s, n=20)
            print(f"   c: POST to reserved seen, s: p50 {q[9]:.2f}  p95 {q[18]:.2f}")
        for step, gaps in c.steps.items():
            print(f"   c: {step:44} median {statistics.median(gaps):6.2f} s ({len(gaps)} orders)")
    print(
        "rounds, per second:  "
        + "   ".join(
            f"{name} " + ", ".join(f"{r.rate:.0f}" for r in phase.rounds)
            for name, phase in phases.items()
        )
    )
    if args.what_if:
        why = ", ".join(f"{k}: {v}" for k, v in fallbacks.items()) or "never"
        print(f"b' fell back to the activity: {why} (the check after each round is out of stock)")
    if profiles:
        report_profiles(profiles, args.clients)
    ratio = phases["b"].median.rate / base
    print(f"\ntarget b >= a / 2: {'met' if ratio >= 0.5 else 'NOT met'} ({ratio:.2f})")
    print("invariants: " + ("hold" if not problems else "VIOLATED"))
    for problem in problems:
        print(f"  {problem}")
    return 1 if problems else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--reservations", type=int, default=2000, help="per round and phase")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument(
        "--pool", type=int, default=10, help="pool_size and max_overflow (the worker's: 10)"
    )
    parser.add_argument("--profile", type=int, default=1000, help="reservations; 0: no profile")
    parser.add_argument(
        "--what-if", action="store_true", help="also b': a leaner reservation (a sketch)"
    )
    parser.add_argument(
        "--round", type=int, default=0, help="b: pass this reservation round (0: don't)"
    )
    parser.add_argument("--api", help="a running make dev, e.g. http://127.0.0.1:8000")
    parser.add_argument("--key", default=os.environ.get("OMS_ADMIN_API_KEY"))
    parser.add_argument("--orders", type=int, default=300, help="phase c")
    parser.add_argument("--within", type=float, default=300, help="phase c gives up after s")
    parser.add_argument("--poll", type=float, default=0.1, help="phase c status poll, s")
    args = parser.parse_args()
    if args.api and urlparse(args.api).hostname not in LOOPBACK:
        sys.exit("benchmarks only target this machine (127.0.0.1)")
    if args.api and not args.key:
        sys.exit("pass --key (the admin key make dev printed) or set OMS_ADMIN_API_KEY")
    if not 1 <= args.reservations <= 100_000 or not 0 <= args.profile <= 100_000:
        sys.exit("--reservations and --profile must be at most 100000")
    if not 1 <= args.orders <= 5000 or not 1 <= args.clients <= 200 or not 1 <= args.rounds <= 20:
        sys.exit("--orders must be 1..5000, --clients 1..200, --rounds 1..20")
    if args.round and "round" not in {f.name for f in dataclasses.fields(ReserveRequest)}:
        sys.exit("--round: this ReserveRequest has no round")
    if not 1 <= args.pool <= 45:
        sys.exit("--pool must be 1..45 (twice that many connections at most)")
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
