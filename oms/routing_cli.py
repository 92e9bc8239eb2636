"""``oms routing``: the learned routing strategies (docs/intelligence-routing.md), straight
on the database (``DATABASE_URL``, or the embedded one of ``oms dev``) as ``oms channels``
does; ``evaluate`` needs no database.

    oms routing learn [--days D]                  refresh the learned delivery times now
    oms routing times [--warehouse W]             the learned delivery times
    oms routing costs load FILE.csv               shipping costs per warehouse and region
    oms routing costs list                        the cost table
    oms routing compare [--since T] [--channel C] [--orders N] [--json]
    oms routing evaluate [--orders N] [--seed S] [--history H] [--json]

Exit 0 done; 2 a bad file or option, or the database cannot be used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from oms.channels_cli import _by, _with_engine
from oms.operator_cli import CommandError
from oms.settings import Settings

MAX_LINES_SHOWN = 20


def add_parser(sub: Any) -> None:
    routing = sub.add_parser(
        "routing", help="learned delivery times, shipping costs, strategies compared"
    ).add_subparsers(dest="action", required=True)
    learn = routing.add_parser("learn", help="learn the delivery times from the shipments now")
    learn.add_argument(
        "--days", type=float, help="orders of the last D days (OMS_ROUTING_LEARN_DAYS)"
    )
    times = routing.add_parser("times", help="the learned delivery times")
    times.add_argument("--warehouse", help="one warehouse")
    costs = routing.add_parser("costs", help="the shipping cost table").add_subparsers(
        dest="costs_action", required=True
    )
    load = costs.add_parser("load", help="load costs from CSV (a row of the same key replaced)")
    load.add_argument("file")
    costs.add_parser("list", help="the cost table")
    compare = routing.add_parser(
        "compare", help="what each strategy would have chosen for the orders allocated"
    )
    compare.add_argument("--since", help="orders allocated from this instant (ISO 8601; 7 days)")
    compare.add_argument("--channel", help="one channel")
    compare.add_argument("--orders", type=int, default=0, metavar="N", help="N newest orders too")
    compare.add_argument("--json", action="store_true")
    evaluate = routing.add_parser(
        "evaluate", help="every strategy on a simulated history (no database)"
    )
    evaluate.add_argument("--orders", type=int, default=2000, metavar="N")
    evaluate.add_argument("--seed", type=int, default=1, metavar="S")
    evaluate.add_argument("--history", type=int, default=5000, metavar="H", help="shipments")
    evaluate.add_argument("--json", action="store_true")


def _since(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC) - timedelta(days=7)
    try:
        parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
        moment = parsed.astimezone(UTC) if parsed.tzinfo is not None else None
    except (ValueError, OverflowError):
        moment = None
    if moment is None or moment.tzinfo is None:
        raise CommandError("--since: a date and time with its offset (ISO 8601)", status=2)
    return moment


async def _learn(settings: Settings, args: argparse.Namespace) -> str:
    from oms.routing_learning import refresh

    days = args.days if args.days is not None else settings.routing_learn_days
    if days <= 0:
        raise CommandError("--days must be above 0", status=2)
    done = await _with_engine(settings, lambda engine: refresh(engine, days))
    return (
        f"learned from {done.shipments} delivered parcels of the last {days:g} days: "
        f"{done.rows} rows in {done.seconds} s"
    )


async def _times(settings: Settings, args: argparse.Namespace) -> str:
    from oms.store import routing as routing_store

    rows = await _with_engine(settings, routing_store.lead_times)
    rows = [r for r in rows if args.warehouse in (None, r.warehouse_id)]
    if not rows:
        return "nothing learned yet (oms routing learn)"
    lines = [f"{'warehouse':<20} {'region':<10} {'n':>6} {'mean':>7} {'median':>7} {'p90':>7}"]
    for r in rows:
        region = f"{r.country or '*'}-{r.area or '*'}"
        lines.append(
            f"{r.warehouse_id:<20} {region:<10} {r.samples:>6} {r.mean_days:>7.2f} "
            f"{r.median_days:>7.2f} {r.p90_days:>7.2f}"
        )
    lines.append(f"refreshed at {rows[0].refreshed_at.isoformat()}")
    return "\n".join(lines)


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: {exc}", status=2) from exc


async def _costs(settings: Settings, args: argparse.Namespace) -> str:
    from oms.domain.delivery import BadCosts, parse_costs
    from oms.store import routing as routing_store

    if args.costs_action == "list":
        rows = await _with_engine(settings, routing_store.costs)
        if not rows:
            return "no cost rows: parcels are costed from the distance"
        lines = [f"{'warehouse':<20} {'country':<8} {'area':<8} {'base':>8} {'per unit':>9}"]
        lines += [
            f"{r.warehouse_id:<20} {r.country or '*':<8} {r.area or '*':<8} {r.base:>8} "
            f"{r.per_unit:>9}"
            for r in rows
        ]
        return "\n".join(lines)
    text = _read(args.file)
    try:
        rows = parse_costs(text)
    except BadCosts as exc:
        lines = [f"{args.file}: nothing loaded, {len(exc.errors)} bad lines:"]
        lines += [f"  line {n}: {m}" for n, m in exc.errors[:MAX_LINES_SHOWN]]
        if len(exc.errors) > MAX_LINES_SHOWN:
            lines.append(f"  ... {len(exc.errors) - MAX_LINES_SHOWN} more")
        raise CommandError("\n".join(lines), status=2) from exc
    unknown = await _with_engine(
        settings, lambda engine: routing_store.load_costs(engine, rows, _by())
    )
    if unknown:
        raise CommandError(
            f"{args.file}: nothing loaded, no such warehouses: {', '.join(unknown)}", status=2
        )
    return f"{len(rows)} cost rows loaded from {Path(args.file).name}"


async def _compare(settings: Settings, args: argparse.Namespace) -> str:
    from oms.routing_insights import render, routing_report

    since = _since(args.since)
    if args.orders < 0 or args.orders > 1000:
        raise CommandError("--orders: 0 to 1000", status=2)
    report = await _with_engine(
        settings, lambda engine: routing_report(engine, since, args.channel, args.orders)
    )
    return json.dumps(report, indent=2) if args.json else render(report)


def evaluate(args: argparse.Namespace) -> int:
    from oms.routing_eval import as_json, evaluate, render

    if not 1 <= args.orders <= 1_000_000 or not 1 <= args.history <= 10_000_000:
        sys.stderr.write("error: --orders and --history: 1 or more\n")
        return 2
    ev = evaluate(args.orders, args.seed, args.history)
    print(json.dumps(as_json(ev), indent=2) if args.json else render(ev))
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import DBAPIError

    actions = {"learn": _learn, "times": _times, "costs": _costs, "compare": _compare}
    try:
        out = asyncio.run(actions[args.action](settings, args))
    except CommandError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exc.status
    except (OSError, DBAPIError) as exc:
        sys.stderr.write(f"error: could not reach the database: {exc}\n")
        return 2
    print(out)
    return 0
