"""The ``oms`` command.

    oms dev                      everything on embedded defaults (make dev)
    oms api | worker | sim       one production process each
    oms migrate                  create or update the schema
    oms chaos                    break a running oms dev under load, then check the books
    oms bench                    an order's cost against the bare engine, on a running oms dev
    oms orders list|show|approve|reject|cancel   the operator's commands (through the API)
    oms stock import FILE.csv    absolute stock levels from a file (to the database)
    oms keys create --role R --name N [--channel C]
    oms keys payload [--id K]    a new payload encryption key (OMS_PAYLOAD_KEYS)

Configuration comes from the environment (see ``oms.settings``). The API and the worker are
started by module path so that this core package never imports them.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys
from typing import Any

from oms import loop as event_loop
from oms.settings import Settings, get_settings


def _exit(status: int) -> None:
    # A process that used a Temporal client can crash while the interpreter shuts down
    # (github.com/temporalio/sdk-python/issues/300) after its work is done: flush and leave.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _serve(app_path: str, port: int, variable: str, what: str) -> None:
    import uvicorn

    from oms.loop import uvicorn_loop
    from oms.ports import require_free

    settings = get_settings()
    require_free(settings.host, port, what, variable)
    uvicorn.run(
        app_path,
        factory=True,
        host=settings.host,
        port=port,
        loop=uvicorn_loop(settings),
        http="httptools",
        log_level="warning",
        access_log=False,
        log_config=None,  # uvicorn's loggers go to ours: one format in the log
    )


def cmd_api(_: argparse.Namespace) -> None:
    _serve("api.main:app_from_env", get_settings().api_port, "OMS_API_PORT", "API")
    _exit(0)


def cmd_sim(_: argparse.Namespace) -> None:
    _serve("simulators.main:app_from_env", get_settings().sim_port, "OMS_SIM_PORT", "simulators")
    _exit(0)


def cmd_worker(_: argparse.Namespace) -> None:
    worker = importlib.import_module("worker.main")
    settings = get_settings()
    event_loop.run(worker.run_worker(settings), settings)
    _exit(0)


def _settings_with_database() -> Settings:
    """The settings, pointing at the embedded PostgreSQL of ``oms dev`` when no
    ``DATABASE_URL`` is set and ``OMS_HOME`` holds one (running or not)."""
    settings = get_settings()
    pgdata = settings.home / "pgdata"
    if settings.database_url or not (pgdata / "PG_VERSION").exists():
        return settings
    import warnings

    warnings.filterwarnings("ignore", module="platformdirs")
    import pgserver

    # Attaches to the server oms dev runs; started here only if it is down, and then
    # stopped again when this command exits (pgserver counts the processes using it).
    server = pgserver.get_server(pgdata.resolve(), cleanup_mode="stop")
    return settings.model_copy(update={"database_url": server.get_uri()})


async def _migrate() -> None:
    from oms.db.engine import make_engine
    from oms.db.migrate import migrate

    engine = make_engine(_settings_with_database(), pool_size=1)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


def cmd_migrate(_: argparse.Namespace) -> None:
    asyncio.run(_migrate())
    print("schema is up to date")


async def _create_key(args: argparse.Namespace) -> None:
    from oms.db.engine import make_engine
    from oms.db.migrate import migrate
    from oms.keys import create_key

    engine = make_engine(_settings_with_database(), pool_size=1)
    try:
        await migrate(engine)
        new = await create_key(engine, name=args.name, role=args.role, channel=args.channel)
    finally:
        await engine.dispose()
    scope = f" for channel {new.channel}" if new.channel else ""
    print(f"created {new.role} key #{new.id} '{new.name}'{scope}; it is shown only once:")
    print(new.key)


def cmd_keys_create(args: argparse.Namespace) -> None:
    asyncio.run(_create_key(args))


def cmd_orders(args: argparse.Namespace) -> None:
    from oms.operator_cli import run

    _exit(run(args, get_settings()))


def cmd_stock(args: argparse.Namespace) -> None:
    from oms.stock_cli import run

    sys.exit(run(args, _settings_with_database()))


def cmd_chaos(args: argparse.Namespace) -> None:
    from oms.chaos import ChaosError, Plan, find_target, run_chaos

    plan = Plan(
        orders=args.orders,
        concurrency=args.concurrency,
        worker_kills=args.kills,
        restart_temporal=not args.no_temporal_restart,
        restart_postgres=not args.no_postgres_restart,
        window_s=args.window,
        settle_timeout_s=args.settle_timeout,
        seed=args.seed,
    )
    if args.faults:
        plan.faults = json.loads(args.faults)
    try:
        target = find_target(get_settings())
    except ChaosError as exc:
        sys.stderr.write(f"error: {exc}\n")
        _exit(2)
    _exit(asyncio.run(run_chaos(target, plan)))


def cmd_bench(args: argparse.Namespace) -> None:
    from oms.bench import BenchError, Plan, find_target, run_bench
    from oms.bench_report import render

    plan = Plan(args.orders, args.concurrency, args.half_orders, args.within)
    settings = get_settings()
    if args.soak:
        _bench_soak(args, settings)
    try:
        plan.check()
        if args.waiting:
            report = event_loop.run(_bench_waiting(find_target(settings), args), settings)
            print(json.dumps(report, indent=2))
            _exit(0)
        report = event_loop.run(run_bench(find_target(settings), plan, settings), settings)
    except BenchError as exc:
        sys.stderr.write(f"error: {exc}\n")
        _exit(2)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        render(report)
    _exit(0 if report["ok"] else 1)


def _bench_soak(args: argparse.Namespace, settings: Settings) -> None:
    from pathlib import Path

    from oms.bench import BenchError, find_target
    from oms.bench_soak import SoakPlan, run_soak

    db = Path(settings.home) / "temporal.db"
    plan = SoakPlan(args.orders, args.concurrency, args.window, args.within, db)
    try:
        plan.check()
        report = event_loop.run(run_soak(find_target(settings), plan, settings), settings)
    except BenchError as exc:
        sys.stderr.write(f"error: {exc}\n")
        _exit(2)
    print(json.dumps(report, indent=2))
    _exit(0 if report["ok"] else 1)


async def _bench_waiting(target: Any, args: argparse.Namespace) -> dict[str, Any]:
    from oms.bench import MAX_ORDERS, BenchError
    from oms.bench_probe import Probe
    from oms.bench_waiting import run_waiting

    if not 1 <= args.waiting <= MAX_ORDERS:
        raise BenchError(f"--waiting must be between 1 and {MAX_ORDERS}")
    probe = Probe(dict(target.pids))
    return await run_waiting(
        target.api_url,
        target.admin_key,
        probe,
        args.waiting,
        args.concurrency,
        args.within,
        args.keep,
    )


def cmd_keys_payload(args: argparse.Namespace) -> None:
    from oms.codec import key_spec_use, new_key_spec

    spec = new_key_spec(args.id)
    print(spec)  # alone on stdout: OMS_PAYLOAD_KEYS=$(oms keys payload) takes it as it is
    sys.stderr.write(key_spec_use(spec))


def cmd_dev(_: argparse.Namespace) -> None:
    from oms.dev import run_dev

    _exit(run_dev(get_settings()))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="oms", description="Order management system")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("dev", help="start everything on embedded defaults").set_defaults(fn=cmd_dev)
    sub.add_parser("api", help="serve the HTTP API").set_defaults(fn=cmd_api)
    sub.add_parser("worker", help="run the Temporal worker").set_defaults(fn=cmd_worker)
    sub.add_parser("sim", help="serve the partner simulators").set_defaults(fn=cmd_sim)
    sub.add_parser("migrate", help="create or update the schema").set_defaults(fn=cmd_migrate)
    from oms.operator_cli import add_parser as add_orders_parser

    add_orders_parser(sub)
    sub.choices["orders"].set_defaults(fn=cmd_orders)
    from oms.stock_cli import add_parser as add_stock_parser

    add_stock_parser(sub)
    sub.choices["stock"].set_defaults(fn=cmd_stock)
    chaos = sub.add_parser(
        "chaos", help="break a running oms dev under load, then check nothing was lost"
    )
    chaos.add_argument("--orders", type=int, default=200)
    chaos.add_argument("--concurrency", type=int, default=8)
    chaos.add_argument("--kills", type=int, default=20, help="worker SIGKILLs")
    chaos.add_argument("--window", type=float, default=120.0, help="seconds of load and kills")
    chaos.add_argument("--settle-timeout", type=float, default=600.0)
    chaos.add_argument("--no-temporal-restart", action="store_true")
    chaos.add_argument("--no-postgres-restart", action="store_true")
    chaos.add_argument("--seed", type=int)
    chaos.add_argument("--faults", help="simulator faults as JSON (see docs/reliability.md)")
    chaos.set_defaults(fn=cmd_chaos)
    bench = sub.add_parser(
        "bench", help="orders against the bare engine on a running oms dev, then the books"
    )
    bench.add_argument("--orders", type=int, default=200)
    bench.add_argument("--concurrency", type=int, default=20)
    bench.add_argument(
        "--half-orders", type=int, help="orders of the half-capacity pass (default: --orders)"
    )
    bench.add_argument("--within", type=float, default=1800.0, help="give up after seconds")
    bench.add_argument("--json", action="store_true", help="the report as JSON")
    bench.add_argument(
        "--waiting",
        type=int,
        help="instead: this many orders waiting on hold at once; the worker's RSS and the "
        "list and summary latencies (JSON)",
    )
    bench.add_argument("--keep", action="store_true", help="--waiting: leave them on hold")
    bench.add_argument(
        "--soak",
        action="store_true",
        help="instead: --orders in a row (up to 200,000), figures every --window seconds, "
        "growth of memory and p99 from the first to the last quarter (JSON)",
    )
    bench.add_argument("--window", type=float, default=60.0, help="--soak: sample every seconds")
    bench.set_defaults(fn=cmd_bench)
    keys = sub.add_parser("keys", help="manage API keys").add_subparsers(
        dest="action", required=True
    )
    create = keys.add_parser("create", help="create an API key and print it")
    create.add_argument("--role", required=True, choices=["channel", "operator", "admin"])
    create.add_argument("--name", required=True)
    create.add_argument("--channel", help="sales channel of a channel key (default: the name)")
    create.set_defaults(fn=cmd_keys_create)
    payload = keys.add_parser(
        "payload", help="print a new payload encryption key entry for OMS_PAYLOAD_KEYS"
    )
    payload.add_argument("--id", default="k1", help="the key's id (e.g. k2 when rotating)")
    payload.set_defaults(fn=cmd_keys_payload)
    return p


def main(argv: list[str] | None = None) -> None:
    from pydantic import ValidationError

    from oms.settings import SettingsError

    args = parser().parse_args(argv)
    try:
        args.fn(args)
    except (SettingsError, ValidationError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        _exit(2)


if __name__ == "__main__":
    main()
