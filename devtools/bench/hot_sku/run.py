"""Hot-SKU reservations: the reservation activity against the bare row update it wraps.

    .venv/bin/python -m devtools.bench.hot_sku                  # a and b on an embedded PostgreSQL
    DATABASE_URL=postgresql://u:p@127.0.0.1/oms .venv/bin/python -m devtools.bench.hot_sku
    .venv/bin/python -m devtools.bench.hot_sku --api http://127.0.0.1:8000 --key <admin key>  # + c

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
b') with ``--what-if``: a sketch (``sketch``), not the activity, of the changes
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
Figures: docs/performance.md. Beside this module (the run and its report): ``row`` (the hot
row, a, b and the rounds), ``sketch`` (b'), ``profile`` (the profile pass), ``orders`` (c).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import statistics
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from devtools.bench.hot_sku.orders import order_path
from devtools.bench.hot_sku.profile import Profile, profile, report_profiles
from devtools.bench.hot_sku.row import HotRow, Phase, Reserve, activity, bare, drive, run_round
from devtools.bench.hot_sku.sketch import sketch
from oms.db.engine import make_engine
from oms.db.migrate import migrate
from oms.domain.messages import ReserveRequest
from oms.logging import configure_logging
from oms.settings import Settings

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


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
    from devtools.dev import read_run_file

    run = read_run_file(Settings().home.resolve())
    if run and urlparse(run.get("api_url", "")).port == urlparse(api).port:
        return str(run["database_url"])
    return None


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
    parser = argparse.ArgumentParser(
        prog="python -m devtools.bench.hot_sku", description=__doc__.split("\n")[0]
    )
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
