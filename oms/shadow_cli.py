"""``oms shadow``: running two systems side by side (双轨运行), straight on the database
(``DATABASE_URL``, or the embedded one of ``oms dev``), as ``oms channels`` does.

    oms shadow load FILE --channel C        the current system's decisions, from its export
    oms shadow report --channel C [--since T] [--tolerance H] [--differences N] [--csv]

``load`` stores each order's decisions (a later load replaces what an earlier one said of
the same orders); a file with bad lines stores nothing and lists them (exit 2). ``report``
prints the agreement per decision and the differing orders; ``--csv`` prints every
differing order (or the first N with ``--differences``) as CSV. Exit 0 done; 1 no such
channel; 2 a bad file or option, or the database cannot be used.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from oms.channels_cli import _by, _with_engine
from oms.operator_cli import CommandError
from oms.settings import Settings

MAX_LINES_SHOWN = 20


def add_parser(sub: Any) -> None:
    shadow = sub.add_parser(
        "shadow", help="side by side: the current system's decisions against the OMS's"
    ).add_subparsers(dest="action", required=True)
    load = shadow.add_parser("load", help="load the current system's decisions (CSV)")
    load.add_argument("file")
    load.add_argument("--channel", required=True)
    report = shadow.add_parser("report", help="agreement per decision, and the differences")
    report.add_argument("--channel", required=True)
    report.add_argument("--since", help="only orders taken from this instant (ISO 8601)")
    report.add_argument(
        "--tolerance", type=float, default=24.0, metavar="H", help="ship times within H hours agree"
    )
    report.add_argument("--differences", type=int, metavar="N", help="differing orders to list")
    report.add_argument("--csv", action="store_true", help="the differing orders as CSV")


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: {exc}", status=2) from exc


async def _load(settings: Settings, args: argparse.Namespace, text: str) -> str:
    from oms.channels.shadow import BadExport
    from oms.shadow_runs import load_export

    name = Path(args.file).name

    async def work(engine: Any) -> int:
        return await load_export(engine, args.channel, text, _by(), name)

    try:
        stored = await _with_engine(settings, work)
    except BadExport as exc:
        lines = [f"{args.file}: nothing loaded, {len(exc.errors) or 1} bad lines:"]
        lines += [f"  line {n}: {m}" for n, m in exc.errors[:MAX_LINES_SHOWN]] or [f"  {exc}"]
        if len(exc.errors) > MAX_LINES_SHOWN:
            lines.append(f"  ... {len(exc.errors) - MAX_LINES_SHOWN} more")
        raise CommandError("\n".join(lines), status=2) from exc
    return f"{args.channel}: the current system's decisions for {stored} orders loaded from {name}"


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise CommandError("--since: a date and time with its offset (ISO 8601)", status=2)
    return moment


async def _report(settings: Settings, args: argparse.Namespace) -> str:
    from oms.shadow_runs import make_report

    since = _since(args.since)
    if args.tolerance < 0 or (args.differences is not None and args.differences < 0):
        raise CommandError("--tolerance and --differences cannot be negative", status=2)

    async def work(engine: Any) -> Any:
        return await make_report(engine, settings, args.channel, since, args.tolerance)

    report = await _with_engine(settings, work)
    if args.csv:
        return _csv(report.differences[: args.differences])
    return render(report, args.channel, args.differences if args.differences is not None else 20)


def render(report: Any, channel: str, shown: int) -> str:
    lines = [
        f"{channel}: {report.oms_orders} shadow orders in the OMS, {report.current_orders} "
        f"in the current system's export, {report.both} in both",
        f"  only in the OMS: {len(report.only_oms)}; only in the current system: "
        f"{len(report.only_current)}; handled live by the OMS: {len(report.live_in_oms)}",
        f"  {'decision':<11} {'compared':>9} {'agreed':>9} {'rate':>8}",
    ]
    summary = report.summary()
    for name, row in summary.items():
        rate = "-" if row["rate"] is None else f"{100 * row['rate']:.1f} %"
        lines.append(f"  {name:<11} {row['compared']:>9} {row['agreed']:>9} {rate:>8}")
    ship = summary["ship_time"]
    if ship["compared"]:
        lines.append(
            f"  ship time, current minus OMS release: p50 {ship['p50_h']} h, p90 "
            f"{ship['p90_h']} h (min {ship['min_h']}, max {ship['max_h']}; agreed within "
            f"{ship['tolerance_h']} h)"
        )
    differences = report.differences
    if differences:
        lines.append(f"  differences ({len(differences)}):")
    for d in differences[:shown]:
        evidence = ", ".join(d.hold_reasons)
        if d.short:
            evidence += (
                (" " if evidence else "")
                + "short "
                + " ".join(f"{k}x{v}" for k, v in d.short.items())
            )
        lines.append(
            f"    {d.external_id} ({d.order_id}) {d.decision}: OMS {d.oms} / current "
            f"{d.current}" + (f" [{evidence}]" if evidence else "")
        )
    if len(differences) > shown:
        lines.append(f"    ... {len(differences) - shown} more (--differences N, or --csv)")
    return "\n".join(lines)


def _csv(differences: list[Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["external_id", "order_id", "decision", "oms", "current", "hold_reasons", "short"]
    )
    for d in differences:
        short = ";".join(f"{k}:{v}" for k, v in d.short.items())
        row = [d.external_id, d.order_id, d.decision, d.oms, d.current]
        writer.writerow([*row, ";".join(d.hold_reasons), short])
    return out.getvalue().rstrip("\n")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import DBAPIError

    from oms.channel_registry import ChannelNotFound
    from oms.codec import PayloadKeyError

    try:
        if args.action == "load":
            out = asyncio.run(_load(settings, args, _read(args.file)))
        else:
            out = asyncio.run(_report(settings, args))
    except ChannelNotFound as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except CommandError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exc.status
    except PayloadKeyError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except (OSError, DBAPIError) as exc:
        sys.stderr.write(f"error: could not reach the database: {exc}\n")
        return 2
    print(out)
    return 0
