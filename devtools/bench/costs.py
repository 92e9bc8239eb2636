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
own (``devtools.bench.books.Shop``). Beside it: ``costs_measure`` (the readings) and
``costs_figures`` (the arithmetic and the text report). Exit 1 when an order was not
delivered, 2 when there is nothing to measure.
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

from devtools.bench.books import Shop
from devtools.bench.costs_figures import (
    cpu_figures,
    per_order,
    postgres_figures,
    read_histories,
    render,
    spread,
)
from devtools.bench.costs_measure import (
    connections,
    cpu_by_group,
    peaks,
    process_cpu_s,
    sqlite_size,
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
from oms.settings import Settings

TERMINAL = ("delivered", "failed", "cancelled")
POLL_S = 0.25
# An idle backend reports its table counters within 10 s (PostgreSQL's
# PGSTAT_IDLE_INTERVAL): the reading after the run waits this long.
STATS_FLUSH_S = 11.0


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


def _processes(target: Target) -> dict[str, int | list[int] | None]:
    """Each role's process or processes (``oms dev --api 2 --workers 2`` runs two of each)."""
    return {**target.pids, **target.groups}


async def _idle_reading(
    target: Target, idle_s: float
) -> tuple[dict[str, float | None], dict[str, float | None], float]:
    start, t0 = cpu_by_group(_processes(target)), time.perf_counter()
    await asyncio.sleep(idle_s)
    return start, cpu_by_group(_processes(target)), time.perf_counter() - t0


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
            cpu_before, started = cpu_by_group(_processes(target)), time.perf_counter()
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
            cpu_after, elapsed = cpu_by_group(_processes(target)), time.perf_counter() - started
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
