"""The developer tools' commands of ``oms``: ``dev``, ``chaos`` and ``bench``, added to the
core's ``oms`` through the entry points ``oms.commands`` (``pyproject.toml``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from oms import loop as event_loop
from oms.commands import exit_now as _exit
from oms.settings import Settings, get_settings

# More API processes than this on one machine only take CPU from each other.
MAX_API_PROCESSES = 16


def add_dev(sub: Any) -> None:
    dev = sub.add_parser("dev", help="start everything on embedded defaults")
    dev.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes, each an oms worker supervised on its own (default 1)",
    )
    dev.add_argument(
        "--api",
        type=int,
        default=1,
        help="API processes; more than one: each on a port of its own behind oms front on "
        "OMS_API_PORT (default 1)",
    )
    dev.set_defaults(fn=cmd_dev)


def add_chaos(sub: Any) -> None:
    chaos = sub.add_parser(
        "chaos", help="break a running oms dev under load, then check nothing was lost"
    )
    chaos.add_argument("--orders", type=int, default=200)
    chaos.add_argument("--concurrency", type=int, default=8)
    chaos.add_argument(
        "--kills", type=int, default=20, help="worker SIGKILLs (one worker process each)"
    )
    chaos.add_argument(
        "--api-kills",
        type=int,
        help="SIGKILLs of one API process behind oms front (default: kills/4, at least 2, "
        "when oms dev runs several APIs; else 0)",
    )
    chaos.add_argument("--window", type=float, default=120.0, help="seconds of load and kills")
    chaos.add_argument("--settle-timeout", type=float, default=600.0)
    chaos.add_argument("--no-temporal-restart", action="store_true")
    chaos.add_argument("--no-postgres-restart", action="store_true")
    chaos.add_argument("--seed", type=int)
    chaos.add_argument("--faults", help="simulator faults as JSON (see docs/reliability.md)")
    chaos.set_defaults(fn=cmd_chaos)


def add_bench(sub: Any) -> None:
    bench = sub.add_parser(
        "bench", help="orders against the bare engine on a running oms dev, then the books"
    )
    bench.add_argument(
        "--orders",
        type=int,
        help="default 200; 10000 with --events-out, 1000 with --channels-push, 10000 with "
        "--channels-pull",
    )
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
    bench.add_argument(
        "--events-out",
        action="store_true",
        help="instead: orders with a webhook endpoint of the bench's own that fails at random "
        "and is down for a while; every event delivered once and in order? (JSON)",
    )
    bench.add_argument(
        "--fail-rate", type=float, default=0.3, help="--events-out: attempts answered 500"
    )
    bench.add_argument(
        "--down-s", type=float, default=20.0, help="--events-out: the endpoint down this long"
    )
    bench.add_argument(
        "--down-after-s", type=float, default=10.0, help="--events-out: from this long in"
    )
    bench.add_argument(
        "--channels-push",
        action="store_true",
        help="instead: --orders (default 1000) pushed as signed Shopify and WooCommerce "
        "webhooks by the marketplace simulator; each taken once, forged ones refused, books",
    )
    bench.add_argument(
        "--channels-pull",
        action="store_true",
        help="instead: --orders (default 10000) pulled from Taobao, JD, PDD and Amazon while "
        "the worker is killed --kills times; none lost or taken twice, intake lag",
    )
    bench.add_argument("--duplicate-ratio", type=float, default=0.1, help="--channels-push")
    bench.add_argument("--bad-signature-ratio", type=float, default=0.01, help="--channels-push")
    bench.add_argument(
        "--rate", type=float, help="--channels-*: orders the simulator makes a second"
    )
    bench.add_argument("--kills", type=int, default=10, help="--channels-pull: worker SIGKILLs")
    bench.add_argument(
        "--pull-lag", type=float, default=5.0, help="--channels-pull: the channels' pull_lag_s"
    )
    bench.add_argument(
        "--console",
        action="store_true",
        help="instead: the console's order search, customer and order pages timed on "
        "--orders (default 1,000,000) seeded orders (seeded once, in a database of their own)",
    )
    bench.add_argument("--requests", type=int, default=200, help="--console: requests per query")
    bench.add_argument(
        "--kpis",
        action="store_true",
        help="instead: the KPI report for 30 days of --orders (default 1,000,000) seeded "
        "orders, in a database of its own (made once); p50 and max of the runs",
    )
    bench.add_argument("--runs", type=int, default=5, help="--kpis: timed runs after the first")
    bench.add_argument(
        "--import",
        dest="imports",
        action="store_true",
        help="instead: --orders (default 1,000,000) closed historical orders written by the "
        "import writer on an embedded PostgreSQL of its own, then again (unchanged); "
        "orders/s, rows and bytes per order, peak RSS, the KPI facts checked",
    )
    bench.add_argument("--batch", type=int, default=5000, help="--import: orders per batch")
    bench.add_argument(
        "--costs",
        action="store_true",
        help="instead: --orders (default 2000) through the whole lifecycle; CPU per process, "
        "Temporal history, PostgreSQL rows, bytes and WAL per order (python -m "
        "devtools.bench.costs has its other options)",
    )
    bench.add_argument(
        "--overload",
        action="store_true",
        help="instead: measure the capacity, then orders open loop at --factor x capacity for "
        "--minutes; accepted, refused (429 with Retry-After) and other answers, POST latency, "
        "the drain, none lost (docs/peak-days.md)",
    )
    bench.add_argument("--factor", type=float, default=3.0, help="--overload: x capacity")
    bench.add_argument("--minutes", type=float, default=10.0, help="--overload: load minutes")
    bench.add_argument(
        "--capacity", type=float, help="--overload: orders/s to take as the capacity (not measured)"
    )
    bench.add_argument(
        "--capacity-s",
        type=float,
        default=60.0,
        help="--overload: seconds of the closed-loop capacity measurement",
    )
    bench.add_argument(
        "--peak",
        action="store_true",
        help="instead: a day compressed (quiet, ramp, a peak at 20 x quiet, tail): per stretch "
        "orders sent/accepted/refused, backlog, order-to-dispatch time, memory; an estimate "
        "of an uncompressed peak hour (docs/peak-days.md)",
    )
    bench.add_argument("--quiet-rate", type=float, default=0.5, help="--peak: orders/s while quiet")
    bench.add_argument(
        "--compress",
        type=float,
        default=60.0,
        help="--peak: divide the day's stretches (4 h, 2 h, 1 h, 3 h) by this",
    )
    bench.add_argument(
        "--phase-s",
        help="--peak: instead of --compress, each stretch's seconds: QUIET,RAMP,PEAK,TAIL",
    )
    bench.set_defaults(fn=cmd_bench)


def cmd_chaos(args: argparse.Namespace) -> None:
    from devtools.chaos import ChaosError, Plan, find_target, run_chaos

    plan = Plan(
        orders=args.orders,
        concurrency=args.concurrency,
        worker_kills=args.kills,
        api_kills=args.api_kills,
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
    from devtools.bench.report import render
    from devtools.bench.run import run_bench
    from devtools.bench.target import BenchError, Plan, find_target, require_zero_pace

    settings = get_settings()
    if args.costs:
        from devtools.bench.costs import CostsPlan, bench_costs

        costs = CostsPlan(args.orders or 2000, args.concurrency, within_s=args.within)
        _exit(bench_costs(settings, costs, args.json))
    if args.console:
        _bench_console(args)
    if args.kpis:
        _bench_kpis(args)
    if args.imports:
        _bench_imports(args)
    if args.events_out:
        _bench_events_out(args, settings)
    if args.channels_push or args.channels_pull:
        _bench_channels(args, settings)
    if args.overload or args.peak:
        _bench_peak_days(args, settings)
    if args.orders is None:
        args.orders = 200
    plan = Plan(args.orders, args.concurrency, args.half_orders, args.within)
    if args.soak:
        _bench_soak(args, settings)
    try:
        plan.check()
        target = find_target(settings)
        if args.waiting:
            report = event_loop.run(_bench_waiting(target, args), settings)
            print(json.dumps(report, indent=2))
            _exit(0)
        require_zero_pace(target)
        report = event_loop.run(run_bench(target, plan, settings), settings)
    except BenchError as exc:
        sys.stderr.write(f"error: {exc}\n")
        _exit(2)
    _finish(args, report, render)


def _bench_console(args: argparse.Namespace) -> None:
    from devtools.bench.console import ConsolePlan, render_console, run_console
    from oms.cli import _settings_with_database

    plan = ConsolePlan(
        orders=1_000_000 if args.orders is None else args.orders, requests=args.requests
    )
    try:
        plan.check()
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        _exit(2)
    database_url = _settings_with_database().database_url
    if not database_url:
        sys.stderr.write("error: set DATABASE_URL, or run make dev once (its PostgreSQL)\n")
        _exit(2)
        return
    say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    report = asyncio.run(run_console(database_url, plan, say))
    _finish(args, report, render_console)


def _bench_kpis(args: argparse.Namespace) -> None:
    from devtools.bench.kpis import render, run_kpis
    from devtools.bench.million import database_url

    orders = args.orders or 1_000_000
    if orders < 1 or args.runs < 1:
        sys.stderr.write("error: --orders and --runs must be at least 1\n")
        _exit(2)
    report = asyncio.run(run_kpis(database_url(), orders, args.runs))
    print(json.dumps(report, indent=2) if args.json else render(report))
    _exit(0)


def _bench_imports(args: argparse.Namespace) -> None:
    from devtools.bench.imports import render, run_import_bench

    orders = 1_000_000 if args.orders is None else args.orders
    if orders < 1 or args.batch < 1:
        sys.stderr.write("error: --orders and --batch must be at least 1\n")
        _exit(2)
    report = asyncio.run(run_import_bench(orders, args.batch))
    print(json.dumps(report, indent=2) if args.json else render(report))
    _exit(0 if report["met"] else 1)


def _bench_events_out(args: argparse.Namespace, settings: Settings) -> None:
    from devtools.bench.events_out import EventsOutPlan, run_events_out
    from devtools.bench.target import BenchError, find_target

    plan = EventsOutPlan(
        orders=args.orders or 10_000,
        concurrency=args.concurrency,
        fail_rate=args.fail_rate,
        down_after_s=args.down_after_s,
        down_s=args.down_s,
        within_s=args.within,
    )
    try:
        plan.check()
        target = find_target(settings)
        report = event_loop.run(run_events_out(target, plan), settings)
    except BenchError as exc:
        sys.stderr.write(f"error: {exc}\n")
        _exit(2)
    print(json.dumps(report, indent=2))
    _exit(0 if report["ok"] else 1)


def _bench_peak_days(args: argparse.Namespace, settings: Settings) -> None:
    from devtools.bench.overload import OverloadPlan, render_overload, run_overload
    from devtools.bench.peak import PeakPlan, render_peak, run_peak
    from devtools.bench.target import BenchError, find_target, require_zero_pace

    try:
        if args.overload and args.peak:
            raise BenchError("--overload and --peak: one at a time")
        if args.overload:
            overload = OverloadPlan(
                factor=args.factor,
                minutes=args.minutes,
                capacity=args.capacity,
                capacity_s=args.capacity_s,
                concurrency=args.concurrency,
                within_s=args.within,
            )
            overload.check()
        else:
            lengths = None
            if args.phase_s:
                try:
                    q, r, p, t = (float(x) for x in args.phase_s.split(","))
                except ValueError as exc:
                    raise BenchError("--phase-s: four numbers, QUIET,RAMP,PEAK,TAIL") from exc
                lengths = (q, r, p, t)
            peak = PeakPlan(
                quiet_rate=args.quiet_rate,
                compress=args.compress,
                phase_s=lengths,
                within_s=args.within,
            )
            peak.check()
        target = find_target(settings)
        require_zero_pace(target)
        if args.overload:
            report = event_loop.run(run_overload(target, overload, settings), settings)
            render = render_overload
        else:
            report = event_loop.run(run_peak(target, peak, settings), settings)
            render = render_peak
    except BenchError as exc:
        sys.stderr.write(f"error: {exc}\n")
        _exit(2)
    _finish(args, report, render)


def _finish(args: argparse.Namespace, report: dict[str, Any], render: Any) -> None:
    """The report as JSON (--json) or rendered; exit 1 when its checks failed."""
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        render(report)
    _exit(0 if report["ok"] else 1)


def _bench_soak(args: argparse.Namespace, settings: Settings) -> None:
    from pathlib import Path

    from devtools.bench.soak import SoakPlan, run_soak
    from devtools.bench.target import BenchError, find_target, require_zero_pace

    db = Path(settings.home) / "temporal.db"
    plan = SoakPlan(args.orders, args.concurrency, args.window, args.within, db)
    try:
        plan.check()
        target = find_target(settings)
        require_zero_pace(target)
        report = event_loop.run(run_soak(target, plan, settings), settings)
    except BenchError as exc:
        sys.stderr.write(f"error: {exc}\n")
        _exit(2)
    print(json.dumps(report, indent=2))
    _exit(0 if report["ok"] else 1)


def _bench_channels(args: argparse.Namespace, settings: Settings) -> None:
    from devtools.bench.channels_pull import PullPlan, render_pull, run_channels_pull
    from devtools.bench.channels_push import (
        PushPlan,
        find_channel_target,
        render_push,
        run_channels_push,
    )
    from devtools.bench.target import BenchError

    push = PushPlan(
        orders=1000 if args.orders is None else args.orders,
        duplicate_ratio=args.duplicate_ratio,
        bad_signature_ratio=args.bad_signature_ratio,
        within_s=args.within,
    )
    pull = PullPlan(
        orders=10_000 if args.orders is None else args.orders,
        kills=args.kills,
        within_s=args.within,
        pull_lag_s=args.pull_lag,
    )
    if args.rate is not None:
        push.rate = pull.rate = args.rate
    try:
        if args.channels_push and args.channels_pull:
            raise BenchError("--channels-push and --channels-pull: one at a time")
        (push if args.channels_push else pull).check()
        target = find_channel_target(settings)
        if args.channels_push:
            report = event_loop.run(run_channels_push(target, push), settings)
            render = render_push
        else:
            report = event_loop.run(run_channels_pull(target, pull, settings), settings)
            render = render_pull
    except BenchError as exc:
        sys.stderr.write(f"error: {exc}\n")
        _exit(2)
    _finish(args, report, render)


async def _bench_waiting(target: Any, args: argparse.Namespace) -> dict[str, Any]:
    from devtools.bench.probe import Probe
    from devtools.bench.target import MAX_ORDERS, BenchError
    from devtools.bench.waiting import run_waiting

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


def cmd_dev(args: argparse.Namespace) -> None:
    from devtools.dev import run_dev
    from worker.cli import MAX_PROCESSES

    if not 1 <= args.workers <= MAX_PROCESSES:
        sys.stderr.write(f"error: --workers must be between 1 and {MAX_PROCESSES}\n")
        _exit(2)
    if not 1 <= args.api <= MAX_API_PROCESSES:
        sys.stderr.write(f"error: --api must be between 1 and {MAX_API_PROCESSES}\n")
        _exit(2)
    _exit(run_dev(get_settings(), workers=args.workers, apis=args.api))
