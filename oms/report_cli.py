"""``oms report kpis``: the KPI report in a terminal, through the HTTP API (as ``oms orders``).

    oms report kpis [--from D] [--to D] [--channel C] [--csv | --json]

Days are UTC, ``--to`` not included; the last 7 days by default. A table per figure group
(one row per day, then the totals) on a terminal; ``--csv`` prints the API's CSV, ``--json``
its JSON. ``OMS_API_URL`` and ``OMS_API_KEY`` (operator, admin, or a partner key with
``reports:read``) as for ``oms orders``. Exit 1 when the API refuses, 2 when it cannot be
reached.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import httpx

from oms.operator_cli import CommandError, _call, _client
from oms.settings import Settings


def _pct(ratio: dict[str, Any]) -> str:
    value = ratio.get("value")
    return "" if value is None else f"{value * 100:.2f} %"


def _hours(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds / 3600:.2f} h"


def _row(label: str, f: dict[str, Any]) -> list[str]:
    processing, delivery = f["processing_time"], f["delivery_time"]
    cancel = f["cancellation_rate"]
    holds = sum(h["total"] for h in f["holds"].values())
    return [
        label,
        str(f["orders_received"]["value"]),
        _hours(processing["p50_s"]),
        _hours(processing["p90_s"]),
        _hours(processing["p99_s"]),
        _pct(f["processing_within_target"]),
        _pct(f["order_accuracy"]),
        _pct(f["on_time_dispatch"]),
        _pct(f["fill_rate"]),
        _pct(f["backorder_rate"]),
        _pct(cancel),
        " ".join(f"{w[:4]}={r['numerator']}" for w, r in cancel["by"].items() if r["numerator"]),
        str(holds),
        _hours(delivery["p50_s"]),
        _hours(delivery["p90_s"]),
    ]


COLUMNS = (
    "day",
    "received",
    "proc p50",
    "proc p90",
    "proc p99",
    "within target",
    "accuracy",
    "on-time dispatch",
    "fill rate",
    "backorders",
    "cancelled",
    "cancelled by",
    "holds",
    "delivery p50",
    "delivery p90",
)


def render(report: dict[str, Any]) -> str:
    """The report as rich tables, rendered to text (a terminal's width, or 200 columns)."""
    from rich.console import Console
    from rich.table import Table

    title = (
        f"KPIs {report['from']} to {report['to']} (UTC, to not included), "
        f"{report['channel'] or 'all channels'}"
    )
    table = Table(title=title, show_lines=False)
    for n, column in enumerate(COLUMNS):
        table.add_column(column, justify="left" if n in (0, 11) else "right")
    for day in report["days"]:
        table.add_row(*_row(day["day"], day))
    table.add_section()
    table.add_row(*_row("total", report["totals"]), style="bold")
    holds = Table(title="holds per rule (approved / rejected / expired / cancelled / waiting)")
    for column in ("rule", "approved", "rejected", "expired", "cancelled", "waiting", "total"):
        holds.add_column(column, justify="left" if column == "rule" else "right")
    for rule, h in report["totals"]["holds"].items():
        holds.add_row(
            rule,
            *(
                str(h[k])
                for k in ("approved", "rejected", "expired", "cancelled", "waiting", "total")
            ),
        )
    targets = report["totals"]
    footer = (
        f"targets: processing p50 <= {_hours(report['targets']['processing_s'])} "
        f"({'met' if targets['processing_time']['met'] else 'not met'}), "
        f"accuracy >= {report['targets']['order_accuracy'] * 100:.1f} % "
        f"({'met' if targets['order_accuracy']['met'] else 'not met'})"
    )
    console = Console(width=200 if not sys.stdout.isatty() else None, record=True)
    with console.capture() as capture:
        console.print(table)
        if report["totals"]["holds"]:
            console.print(holds)
        console.print(footer)
    return capture.get().rstrip()


def add_parser(sub: Any) -> None:
    report = sub.add_parser("report", help="reports: the KPIs (through the API)")
    kinds = report.add_subparsers(dest="report_command", required=True)
    kpis = kinds.add_parser("kpis", help="the KPIs per UTC day, with the totals and targets")
    kpis.add_argument("--from", dest="start", metavar="DAY", help="first UTC day (YYYY-MM-DD)")
    kpis.add_argument("--to", dest="end", metavar="DAY", help="the day after the last")
    kpis.add_argument("--channel")
    out = kpis.add_mutually_exclusive_group()
    out.add_argument("--csv", action="store_true", help="print the CSV")
    out.add_argument("--json", action="store_true", help="print the JSON")


def fetch(args: argparse.Namespace, http: httpx.Client) -> Any:
    params = {
        k: v for k, v in (("from", args.start), ("to", args.end), ("channel", args.channel)) if v
    }
    if args.csv:
        try:
            response = http.get("/v1/reports/kpis.csv", params=params)
        except httpx.HTTPError as exc:
            raise CommandError(f"the API at {http.base_url} cannot be reached: {exc}", 2) from exc
        if response.status_code >= 400:
            raise CommandError(f"{response.status_code}: {response.json().get('detail')}")
        return response.text.rstrip("\n")
    report = _call(http, "GET", "/v1/reports/kpis", params=params)
    return json.dumps(report, indent=2) if args.json else render(report)


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        with _client(settings) as http:
            print(fetch(args, http))
    except CommandError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exc.status
    return 0
