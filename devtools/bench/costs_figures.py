"""The figures of ``python -m devtools.bench.costs`` from what it read: a history's counts
and bytes, CPU per order gross and net of the idle rate, PostgreSQL's rows and bytes per
order (the simulators' tables apart), and the report as plain text."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from devtools.bench.costs_measure import TableStats, history_bytes, table_deltas
from oms.domain.ids import order_workflow_id

OMS_GROUPS = ("api", "worker", "temporal", "postgres")
# The simulators keep their own tables in the same database (simulators/tables.py): they
# stand in for outside companies, so their rows and bytes are reported apart.
SIM_PREFIX = "sim_"


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
