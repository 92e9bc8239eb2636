"""What an order costs each part of the system, measured on a running ``oms dev``:

    OMS_SIM_SHIP_DELAY_S=0 OMS_SIM_CARRIER_STEP_S=0 OMS_RELEASE_DELAY_S=0 \\
        OMS_RISK_HOLD_SCORE=0 make dev                       # in one terminal
    .venv/bin/python -m devtools.bench.costs --orders 2000   # or: oms bench --costs

It sends ``--orders`` orders through ``POST /v1/orders`` with at most ``--concurrency`` of
them not yet delivered, waits until every one has gone the whole way (payment, reservation,
dispatch, the warehouse's and the carrier's webhooks, delivery), and answers, per order, as
differences between a reading before and one after:

- CPU seconds of each process tree (``costs_measure``: ``/proc``): API, worker, the
  Temporal dev server, PostgreSQL (the postmaster and every backend, less the bench's own
  connection), and apart from them the simulators (they stand in for outside companies)
  and the bench itself. ``gross`` is the difference; ``net`` takes off what the same
  process used per second while the system stood idle just before (schedules, pollers,
  sweeps), times the run's length;
- Temporal: history events, bytes (the serialized history), workflow tasks, activity tasks
  and attempts, local activities, signals, timers and child workflows of a sample of the
  orders (their child workflows included);
- PostgreSQL: rows inserted, updated and deleted per table (``pg_stat_user_tables``), bytes
  per table (``pg_total_relation_size``, both readings after ``VACUUM (ANALYZE)``), WAL
  bytes, and the peak of client connections, of those busy and of those waiting for a lock
  (``pg_stat_activity`` every quarter second);
- the Temporal dev server's SQLite file (its own database, not PostgreSQL).

With ``--endpoints K`` the run first subscribes K webhook endpoints (answered by a receiver
in the bench) to every order event, and the run ends once every delivery is made: events
out is then part of the figures.

The system's other work runs on as usual; the bench's warehouse, SKU and customer are its
own (``devtools.bench.books.Shop``). Exit 1 when an order was not delivered, 2 when there
is nothing to measure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from devtools.bench.books import Shop
from devtools.bench.costs_measure import (
    TableStats,
    connections,
    cpu_by_group,
    history_bytes,
    peaks,
    process_cpu_s,
    sqlite_size,
    table_deltas,
    table_stats,
    wal_lsn,
)
from devtools.bench.preflight import progress, say
from devtools.bench.target import (
    MAX_ORDERS,
    BenchError,
    Target,
    api_client,
    connect_client,
    find_target,
    require_zero_pace,
)
from oms.domain.ids import order_workflow_id
from oms.settings import Settings

TERMINAL = ("delivered", "failed", "cancelled")
POLL_S = 0.25
# An idle backend reports its table counters within 10 s (PostgreSQL's
# PGSTAT_IDLE_INTERVAL): the reading after the run waits this long.
STATS_FLUSH_S = 11.0
OMS_GROUPS = ("api", "worker", "temporal", "postgres")
# The simulators keep their own tables in the same database (simulators/tables.py): they
# stand in for outside companies, so their rows and bytes are reported apart.
SIM_PREFIX = "sim_"


@dataclass
class CostsPlan:
    orders: int = 2000
    concurrency: int = 20
    sample: int = 200  # orders whose histories are read (all of them when fewer)
    idle_s: float = 12.0  # the idle reading before the run (also lets counters settle)
    within_s: float = 1800.0
    endpoints: int = 0  # webhook endpoints subscribed to every order event, on the bench

    def check(self) -> None:
        if not 1 <= self.orders <= MAX_ORDERS:
            raise BenchError(f"--orders must be between 1 and {MAX_ORDERS}")
        if not 1 <= self.concurrency <= min(self.orders, 500):
            raise BenchError("--concurrency must be between 1 and min(--orders, 500)")
        if not 1 <= self.sample <= MAX_ORDERS:
            raise BenchError(f"--sample must be between 1 and {MAX_ORDERS}")
        if not 0 <= self.idle_s <= 600 or not 1 <= self.within_s <= 86_400:
            raise BenchError("--idle must be 0 to 600 s and --within 1 to 86400 s")
        if not 0 <= self.endpoints <= 10:
            raise BenchError("--endpoints must be between 0 and 10")


# --- sending and waiting -----------------------------------------------------------------


@dataclass
class Load:
    """The run's orders: those accepted (their ids), refused or failed POSTs, and what the
    database said about them and its connections while they ran."""

    ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    terminal: list[int] = field(default_factory=list)  # one entry per order ended, for progress
    activity: list[dict[str, int]] = field(default_factory=list)


TERMINAL_SQL = "SELECT count(*) FROM orders WHERE customer_id = $1 AND status = ANY($2::text[])"


async def _post(shop: Shop, n: int, load: Load, window: asyncio.Semaphore) -> None:
    try:
        answer = await shop.http.post("/v1/orders", json=shop.order("costs", n))
    except httpx.HTTPError as exc:
        load.errors.append(f"order {n}: POST failed ({type(exc).__name__})")
        window.release()
        return
    if answer.status_code != 202:
        load.errors.append(f"order {n}: POST answered {answer.status_code}")
        window.release()
        return
    load.ids.append(answer.json()["id"])


async def _send_and_wait(
    shop: Shop, db: Any, count: int, concurrency: int, load: Load, deadline: float
) -> None:
    """``count`` orders, never more than ``concurrency`` of them sent and not yet ended;
    returns once every accepted order has ended (or at the deadline). Ends are counted in
    the database, not by waiting on each workflow's result: no client does that in
    production, and the long polls would be Temporal's CPU."""
    window = asyncio.Semaphore(concurrency)
    posts: list[asyncio.Task[None]] = []
    base = await db.fetchval(TERMINAL_SQL, shop.customer, list(TERMINAL))

    async def sender() -> None:
        for n in range(count):
            await window.acquire()
            if time.monotonic() > deadline:
                return
            posts.append(asyncio.create_task(_post(shop, n, load, window)))

    sending = asyncio.create_task(sender())
    ended = 0
    while time.monotonic() < deadline:
        await asyncio.sleep(POLL_S)
        load.activity.append(await connections(db))
        now = await db.fetchval(TERMINAL_SQL, shop.customer, list(TERMINAL)) - base
        for _ in range(now - ended):
            window.release()
            load.terminal.append(1)
        ended = now
        if sending.done() and all(p.done() for p in posts) and ended >= len(load.ids):
            break
    sending.cancel()
    await asyncio.gather(*posts, return_exceptions=True)


async def _statuses(db: Any, customer: str) -> dict[str, int]:
    rows = await db.fetch(
        "SELECT status, count(*) AS n FROM orders WHERE customer_id = $1 GROUP BY status",
        customer,
    )
    return {r["status"]: int(r["n"]) for r in rows}


# --- webhook endpoints ---------------------------------------------------------------------


@dataclass
class Partner:
    """Webhook endpoints subscribed to every order event, answered 204 by a receiver in
    this process: what events out costs an order per subscribed partner."""

    ids: list[str] = field(default_factory=list)
    received: list[int] = field(default_factory=list)
    server: Any = None
    serving: asyncio.Task[None] | None = None

    async def open(self, http: httpx.AsyncClient, count: int) -> None:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route

        from devtools.bench.events_out import _serve
        from devtools.ports import free_port
        from oms.events_out import catalogue

        async def hook(request: Request) -> Response:
            await request.body()
            self.received.append(1)
            return Response(status_code=204)

        port = free_port()
        app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
        self.server, self.serving = await _serve(app, port)
        for n in range(count):
            created = await http.post(
                "/v1/webhook-endpoints",
                json={
                    "url": f"http://127.0.0.1:{port}/hook",
                    "events": list(catalogue.ORDER_EVENT_TYPES),
                    "description": f"costs bench {n}",
                },
            )
            if created.status_code != 201:
                raise BenchError(f"the webhook endpoint was refused: {created.text[:300]}")
            self.ids.append(created.json()["id"])

    async def drained(self, db: Any, deadline: float) -> bool:
        """Wait until no delivery to the endpoints is open (pending or failed)."""
        while self.ids and time.monotonic() < deadline:
            left = await db.fetchval(
                "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = ANY($1::text[]) "
                "AND status IN ('pending', 'failed')",
                self.ids,
            )
            if not left:
                return True
            await asyncio.sleep(POLL_S)
        return not self.ids

    async def close(self, http: httpx.AsyncClient) -> None:
        for endpoint_id in self.ids:
            await http.delete(f"/v1/webhook-endpoints/{endpoint_id}")
        if self.server is not None and self.serving is not None:
            self.server.should_exit = True
            await self.serving


# --- histories ---------------------------------------------------------------------------


_EVENT_FIGURES = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: "workflow_tasks",
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED: "workflow_tasks",
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT: "workflow_tasks",
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activity_tasks",
    EventType.EVENT_TYPE_MARKER_RECORDED: "local_activities",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "signals",
    EventType.EVENT_TYPE_TIMER_STARTED: "timers",
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: "children",
}
HISTORY_FIGURES = (
    "events",
    "bytes",
    "workflow_tasks",
    "activity_tasks",
    "activity_attempts",
    "local_activities",
    "signals",
    "timers",
    "children",
    "workflows",
)


def history_figures(events: list[Any]) -> dict[str, int]:
    """One history's figures. Workflow tasks are those a worker ran (completed, failed or
    timed out); activity attempts add the retries (an activity's last attempt number, on
    its started event); local activities are the markers they record."""
    figures = dict.fromkeys(HISTORY_FIGURES, 0)
    figures["events"], figures["bytes"], figures["workflows"] = (
        len(events),
        history_bytes(events),
        1,
    )
    for e in events:
        name = _EVENT_FIGURES.get(e.event_type)
        if name is not None:
            figures[name] += 1
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            figures["activity_attempts"] += max(1, e.activity_task_started_event_attributes.attempt)
    return figures


async def _order_history(client: Client, order_id: str) -> dict[str, int]:
    """An order's workflow with its child workflows (orders of older types follow their
    shipments in children), figures added up."""
    pending, total = [order_workflow_id(order_id)], dict.fromkeys(HISTORY_FIGURES, 0)
    while pending:
        history = await client.get_workflow_handle(pending.pop()).fetch_history()
        events = list(history.events)
        for name, value in history_figures(events).items():
            total[name] += value
        pending += [
            e.start_child_workflow_execution_initiated_event_attributes.workflow_id
            for e in events
            if e.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
        ]
    return total


def spread(ids: list[str], count: int) -> list[str]:
    """``count`` of ``ids`` evenly spread from the first to the last."""
    if count >= len(ids):
        return list(ids)
    step = len(ids) / count
    return [ids[int(i * step)] for i in range(count)]


async def read_histories(client: Client, ids: list[str]) -> dict[str, Any]:
    gate = asyncio.Semaphore(8)

    async def one(order_id: str) -> dict[str, int]:
        async with gate:
            return await _order_history(client, order_id)

    found = await asyncio.gather(*(one(i) for i in ids))
    if not found:
        return {"sampled_orders": 0}
    return {
        "sampled_orders": len(found),
        **{
            name: {
                "mean": round(sum(f[name] for f in found) / len(found), 1),
                "max": max(f[name] for f in found),
            }
            for name in HISTORY_FIGURES
        },
    }


# --- the figures ---------------------------------------------------------------------------


def cpu_figures(
    idle: tuple[dict[str, float | None], dict[str, float | None], float],
    run: tuple[dict[str, float | None], dict[str, float | None], float],
    orders: int,
    own_backend_s: float,
) -> dict[str, dict[str, float | None]]:
    """Per group: CPU seconds per order, gross and net of the idle rate, and the cores it
    kept busy during the run. ``own_backend_s``: the bench's database connection's CPU
    during the run, taken off PostgreSQL's."""
    (idle_start, idle_end, idle_s), (start, end, elapsed) = idle, run
    out: dict[str, dict[str, float | None]] = {}
    for name in start:
        a, b = start.get(name), end.get(name)
        if a is None or b is None or orders <= 0 or elapsed <= 0:
            out[name] = {"gross": None, "net": None, "cores": None, "idle_cores": None}
            continue
        used = b - a - (own_backend_s if name == "postgres" else 0.0)
        ia, ib = idle_start.get(name), idle_end.get(name)
        idle_rate = (ib - ia) / idle_s if ia is not None and ib is not None and idle_s else 0.0
        out[name] = {
            "gross": round(used / orders, 5),
            "net": round(max(0.0, used - idle_rate * elapsed) / orders, 5),
            "cores": round(used / elapsed, 3),
            "idle_cores": round(idle_rate, 4),
        }
    return out


def per_order(value: float | None, orders: int, places: int = 1) -> float | None:
    return None if value is None or orders <= 0 else round(value / orders, places)


def postgres_figures(
    counters: tuple[dict[str, TableStats], dict[str, TableStats]],
    sizes: tuple[dict[str, TableStats], dict[str, TableStats]],
    wal_bytes: int,
    orders: int,
) -> dict[str, Any]:
    """Per table and in all: rows and bytes per order, and WAL bytes per order. Row
    counts come from the counters' readings, bytes from the sizes' (both after VACUUM)."""
    rows = table_deltas(*counters)
    grown = table_deltas(*sizes)
    tables: dict[str, dict[str, float | None]] = {}
    for name in sorted(set(rows) | {n for n, d in grown.items() if d["bytes"]}):
        counted = rows.get(name, {})
        tables[name] = {
            kind: per_order(counted.get(kind, 0), orders, 3)
            for kind in ("inserted", "updated", "deleted", "hot_updated")
        }
        tables[name]["bytes"] = per_order(grown.get(name, {}).get("bytes", 0), orders)

    def total(kind: str, deltas: dict[str, dict[str, int]]) -> float | None:
        oms_only = (d[kind] for name, d in deltas.items() if not name.startswith(SIM_PREFIX))
        return per_order(sum(oms_only), orders, 2)

    return {
        "tables": {n: t for n, t in tables.items() if not n.startswith(SIM_PREFIX)},
        "simulator_tables": {n: t for n, t in tables.items() if n.startswith(SIM_PREFIX)},
        "rows_inserted": total("inserted", rows),
        "rows_updated": total("updated", rows),
        "rows_deleted": total("deleted", rows),
        "bytes": total("bytes", grown),
        "wal_bytes": per_order(wal_bytes, orders),
    }


# --- the run -------------------------------------------------------------------------------


@dataclass
class Where:
    """What the bench reads beside the target: the database and the Temporal SQLite file."""

    database_url: str
    temporal_db: Path | None


def find_where(settings: Settings) -> Where:
    from devtools.dev import read_run_file

    home = settings.home.resolve()
    run = read_run_file(home) or {}
    url = run.get("database_url") or settings.database_url
    if not url:
        raise BenchError(f"no running oms dev under {home} (its run.json names the database)")
    for prefix in ("postgresql+asyncpg://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql://" + url[len(prefix) :]
    embedded = (run.get("pids") or {}).get("temporal")
    return Where(url, home / "temporal.db" if embedded else None)


async def _idle_reading(
    target: Target, idle_s: float
) -> tuple[dict[str, float | None], dict[str, float | None], float]:
    start, t0 = cpu_by_group(target.pids), time.perf_counter()
    await asyncio.sleep(idle_s)
    return start, cpu_by_group(target.pids), time.perf_counter() - t0


async def run_costs(
    target: Target, where: Where, plan: CostsPlan, settings: Settings
) -> dict[str, Any]:
    import asyncpg

    deadline = time.monotonic() + plan.within_s
    load_before = os.getloadavg()
    client = await connect_client(target, settings)
    try:
        db = await asyncpg.connect(where.database_url, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        raise BenchError(f"PostgreSQL: {exc}") from exc
    try:
        own_backend = int(await db.fetchval("SELECT pg_backend_pid()"))
        async with api_client(target, plan.concurrency) as http:
            shop, partner = Shop(http, uuid.uuid4().hex[:8]), Partner()
            try:
                await shop.open(plan.orders + 1)
                await partner.open(http, plan.endpoints)
            except httpx.HTTPError as exc:
                raise BenchError(f"the API at {target.api_url}: {exc}") from exc
            say("one order first (not measured), then VACUUM (ANALYZE) and the idle reading")
            await _send_and_wait(shop, db, 1, 1, Load(), deadline)
            await partner.drained(db, deadline)
            await db.execute("VACUUM (ANALYZE)")
            idle = await _idle_reading(target, plan.idle_s)
            await asyncio.sleep(max(0.0, STATS_FLUSH_S - plan.idle_s))  # counters settle
            sizes_before = counters_before = await table_stats(db)
            wal_before, sqlite_before = await wal_lsn(db), _sqlite(where)
            run_shop = Shop(http, uuid.uuid4().hex[:8])  # a customer of the run's own
            run_shop.warehouse, run_shop.sku, run_shop.initial = shop.warehouse, shop.sku, 0
            load = Load()
            own_before = process_cpu_s(own_backend) or 0.0
            cpu_before, started = cpu_by_group(target.pids), time.perf_counter()
            say(f"costs: {plan.orders} orders, at most {plan.concurrency} in flight")
            ticking = asyncio.create_task(
                progress("costs", plan.orders, load.terminal, load.errors, started)
            )
            try:
                await _send_and_wait(run_shop, db, plan.orders, plan.concurrency, load, deadline)
                orders_s = time.perf_counter() - started
                if not await partner.drained(db, deadline):
                    load.errors.append("webhook deliveries still open at the deadline")
            finally:
                ticking.cancel()
            cpu_after, elapsed = cpu_by_group(target.pids), time.perf_counter() - started
            webhooks = len(partner.received)
            own_s = (process_cpu_s(own_backend) or own_before) - own_before
            wal_after, sqlite_after = await wal_lsn(db), _sqlite(where)
            statuses = await _statuses(db, run_shop.customer)
            say(f"costs: done in {elapsed:.1f} s; waiting for the table counters, then VACUUM")
            await asyncio.sleep(STATS_FLUSH_S)
            counters_after = await table_stats(db)
            await db.execute("VACUUM (ANALYZE)")
            sizes_after = await table_stats(db)
            await partner.close(http)  # after the readings: its deliveries go with it
        say("reading the histories of a sample of the orders")
        histories = await read_histories(client, spread(load.ids, plan.sample))
    finally:
        await db.close()
    orders = len(load.ids)
    delivered = statuses.get("delivered", 0)
    violations = list(load.errors)
    if delivered != plan.orders:
        violations.append(f"{delivered} of {plan.orders} orders delivered: {statuses}")
    return {
        "orders": plan.orders,
        "concurrency": plan.concurrency,
        "cpus": os.cpu_count(),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "elapsed_s": round(elapsed, 2),  # to the last webhook delivered, with --endpoints
        "orders_per_s": round(delivered / orders_s, 2) if orders_s else None,
        "endpoints": plan.endpoints,
        "webhooks_per_order": per_order(webhooks, orders, 2),
        "statuses": statuses,
        "idle_reading_s": round(idle[2], 1),
        "cpu_s_per_order": cpu_figures(idle, (cpu_before, cpu_after, elapsed), orders, own_s),
        "history_per_order": histories,
        "postgres_per_order": {
            **postgres_figures(
                (counters_before, counters_after),
                (sizes_before, sizes_after),
                wal_after - wal_before,
                orders,
            ),
            "connections_peak": peaks(load.activity),
            "connection_samples": len(load.activity),
        },
        "temporal_sqlite_per_order": {
            name: per_order(
                None
                if sqlite_before.get(name) is None or sqlite_after.get(name) is None
                else (sqlite_after[name] or 0) - (sqlite_before[name] or 0),
                orders,
            )
            for name in ("file", "wal", "used_pages")
        },
        "violations": violations[:100],
        "ok": not violations,
    }


def _sqlite(where: Where) -> dict[str, int | None]:
    return sqlite_size(where.temporal_db) if where.temporal_db else {}


# --- the report ----------------------------------------------------------------------------


def render(report: dict[str, Any]) -> str:
    """The report as plain text tables."""
    lines = [
        f"costs: {report['orders']} orders at most {report['concurrency']} in flight, "
        f"{report['elapsed_s']} s ({report['orders_per_s']} delivered/s), "
        f"{report['cpus']} CPUs, load {report['load_average']['before'][0]:.2f} before",
        f"webhook endpoints {report['endpoints']}: {report['webhooks_per_order']} "
        "deliveries per order",
        "",
        f"{'CPU s per order':<22}{'gross':>10}{'net':>10}{'cores':>8}{'idle cores':>12}",
    ]
    for name, cpu in report["cpu_s_per_order"].items():
        cells = [cpu["gross"], cpu["net"], cpu["cores"], cpu["idle_cores"]]
        widths = (10, 10, 8, 12)
        lines.append(
            f"{name:<22}" + "".join(f"{_n(c, 5):>{w}}" for c, w in zip(cells, widths, strict=True))
        )
    oms = [report["cpu_s_per_order"].get(g, {}).get("net") for g in OMS_GROUPS]
    known = [v for v in oms if v is not None]
    if len(known) == len(OMS_GROUPS):
        lines.append(f"{'OMS (api+worker+temporal+postgres), net':<42}{sum(known):>10.5f}")
    history = report["history_per_order"]
    lines += [
        "",
        f"Temporal history per order ({history.get('sampled_orders')} sampled), mean / max",
    ]
    for name in HISTORY_FIGURES:
        if name in history:
            lines.append(f"  {name:<20}{_n(history[name]['mean'])} / {history[name]['max']}")
    pg = report["postgres_per_order"]
    lines += [
        "",
        "PostgreSQL per order: rows inserted / updated / deleted, bytes (after VACUUM)",
    ]

    def row(name: str, t: dict[str, Any], places: int = 3) -> str:
        return (
            f"  {name:<28}{_n(t['inserted'], places):>8}{_n(t['updated'], places):>8}"
            f"{_n(t['deleted'], places):>8}{_n(t['bytes']):>10}"
        )

    for name, t in sorted(pg["tables"].items(), key=lambda kv: -(kv[1]["bytes"] or 0)):
        lines.append(row(name, t))
    totals = {k: pg[f"rows_{k}"] for k in ("inserted", "updated", "deleted")}
    lines.append(row("OMS tables", {**totals, "bytes": pg["bytes"]}, 2))
    for name, t in sorted(pg["simulator_tables"].items()):
        lines.append(row(f"{name} (simulator)", t))
    peak = pg["connections_peak"]
    lines += [
        f"  WAL bytes per order {_n(pg['wal_bytes'])}; client connections peak "
        f"{peak.get('connections')}, busy {peak.get('busy')}, waiting for a lock "
        f"{peak.get('lock_waits')}",
        "",
        "Temporal dev server's SQLite (not PostgreSQL) bytes per order: "
        + ", ".join(f"{k} {_n(v)}" for k, v in report["temporal_sqlite_per_order"].items()),
    ]
    if report["violations"]:
        lines += ["", f"{len(report['violations'])} problems:"]
        lines += [f"  - {v}" for v in report["violations"][:20]]
    return "\n".join(lines)


def _n(value: Any, places: int = 1) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{places}f}" if isinstance(value, float) else str(value)


def bench_costs(settings: Settings, plan: CostsPlan, as_json: bool) -> int:
    """``oms bench --costs`` and ``python -m devtools.bench.costs``: the exit status."""
    from oms import loop as event_loop

    try:
        plan.check()
        target = find_target(settings)
        require_zero_pace(target)
        where = find_where(settings)
        report = event_loop.run(run_costs(target, where, plan, settings), settings)
    except BenchError as exc:
        say(f"error: {exc}")
        return 2
    print(json.dumps(report, indent=2) if as_json else render(report))
    return 0 if report["ok"] else 1


def main() -> None:
    from oms.commands import exit_now
    from oms.settings import get_settings

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20, help="orders in flight at most")
    parser.add_argument("--sample", type=int, default=200, help="orders whose histories are read")
    parser.add_argument("--idle", type=float, default=12.0, help="seconds of the idle reading")
    parser.add_argument("--within", type=float, default=1800.0, help="give up after seconds")
    parser.add_argument(
        "--endpoints",
        type=int,
        default=0,
        help="webhook endpoints subscribed to every order event (a receiver in the bench)",
    )
    parser.add_argument("--json", action="store_true", help="the report as JSON")
    args = parser.parse_args()
    plan = CostsPlan(
        args.orders, args.concurrency, args.sample, args.idle, args.within, args.endpoints
    )
    exit_now(bench_costs(get_settings(), plan, args.json))


if __name__ == "__main__":
    main()
