"""What ``oms bench`` prints on a terminal: its report as rich tables (``--json`` prints the
report itself)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

ROLES = ("worker", "api", "temporal", "postgres", "sim", "bench")


def _n(value: Any, places: int = 1) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{places}f}" if isinstance(value, float) else str(value)


def _spread(latency: dict[str, Any]) -> str:
    return f"{_n(latency['p50'])} / {_n(latency['p99'])}"


def _figures(report: dict[str, Any]) -> Table:
    phases, history = report["phases"], report["history"]
    full, half, bare = phases["full"], phases["half"], phases["bare"]
    table = Table(
        title=f"oms bench: {report['orders']} orders at concurrency {report['concurrency']}"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("target / note")
    table.add_row("orders/s end to end", _n(report["orders_per_s"], 2), "closed loop, C in flight")
    table.add_row("bare workflows/s (5 no-op activities)", _n(report["bare_per_s"], 2), "")
    table.add_row("ratio orders / bare", _n(report["ratio"], 3), ">= 0.5 (goal 1.0)")
    table.add_section()
    table.add_row("POST /v1/orders ms p50 / p99, full load", _spread(full["start_ms"]), "")
    table.add_row(
        "POST /v1/orders ms p50 / p99, half capacity",
        _spread(half["start_ms"]),
        f"p99 <= 100; {_n(half['arrivals_per_s'], 2)} orders/s open loop",
    )
    table.add_row(
        "end to end ms p50 / p99, full load", _spread(full["e2e_ms"]), "POST to delivered"
    )
    table.add_row("end to end ms p50 / p99, half capacity", _spread(half["e2e_ms"]), "")
    table.add_row("bare start / end to end ms p50", _bare_latency(bare), "")
    table.add_section()
    for name in ("events", "workflow_tasks", "activities", "signals", "children"):
        order, plain = history["order"].get(name), history["bare"].get(name)
        note = "<= 60" if name == "events" else ""
        table.add_row(
            f"{name.replace('_', ' ')} per order, mean / max (bare)",
            f"{_mean_max(order)} ({_mean_max(plain)})",
            note,
        )
    table.add_section()
    rss = report["worker_rss_mb"]
    table.add_row("worker RSS MB, peak / end", f"{_n(rss['peak'])} / {_n(rss['end'])}", "")
    return table


def _bare_latency(bare: dict[str, Any]) -> str:
    return f"{_n(bare['start_ms']['p50'])} / {_n(bare['e2e_ms']['p50'])}"


def _mean_max(counts: dict[str, Any] | None) -> str:
    return "n/a" if not counts else f"{_n(counts['mean'])} / {counts['max']}"


def _cpu(report: dict[str, Any]) -> Table:
    phases = report["phases"]
    table = Table(title="CPU seconds per order (per bare workflow), process trees")
    table.add_column("process")
    for name in ("full", "half", "bare"):
        table.add_column(name, justify="right")
    for role in ROLES:
        table.add_row(
            role, *(_n(phases[p]["cpu_s_per_unit"].get(role), 4) for p in ("full", "half", "bare"))
        )
    return table


def _pace(report: dict[str, Any]) -> list[str]:
    history = report["history"]
    ship, step = history["sim_dispatch_to_shipped_s"], history["sim_carrier_step_s"]
    load = report["load_average"]
    return [
        f"simulator: dispatch to shipped min {_n(ship['min'], 2)} s, p50 {_n(ship['p50'], 2)} s;"
        f" carrier step min {_n(step['min'], 2)} s, p50 {_n(step['p50'], 2)} s;"
        f" release window {_n(history['release_delay_s'])} s",
        f"load average before {' '.join(f'{v:.2f}' for v in load['before'])}, after "
        f"{' '.join(f'{v:.2f}' for v in load['after'])} ({report['cpus']} CPUs)",
    ]


def render(report: dict[str, Any], console: Console | None = None) -> None:
    if console is None:
        console = Console()
        if not console.is_terminal:  # a file or a pipe: wide enough for one line a figure
            console = Console(width=110)
    console.print(_figures(report))
    console.print(_cpu(report))
    for line in _pace(report):
        console.print(line, highlight=False)
    for warning in report["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    books = report["invariants"]
    if books["passed"]:
        console.print("books: [green]every order delivered, payments and stock balance[/green]")
        return
    console.print(f"books: [red]{len(books['violations'])} violations[/red]")
    for violation in books["violations"][:50]:
        console.print(f"  - {violation}", highlight=False, markup=False)
