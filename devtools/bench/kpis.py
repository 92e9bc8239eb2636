"""``oms bench --kpis``: the KPI report over 30 days of N orders (default 1,000,000).

Seeds the data set once (``devtools.bench.million.ensure_seed``: a database of its own on
the server of ``DATABASE_URL``, or of ``oms dev``'s embedded PostgreSQL), then times the
report as ``GET /v1/reports/kpis`` builds it (``oms.reports.kpis.kpi_report`` and the JSON
body), for the 30 UTC days that end with the seed's last day: a first run (cold caches),
then ``runs`` more, reported as p50 and max.

Then what the KPI facts cost on the write path: the rows of 2,000 orders of the seed
written again (the order, its timeline in seq order, its parcels, its ledger, one
``INSERT ... SELECT`` each) with the triggers of migration 0015 and with them disabled, in
transactions rolled back, three alternated rounds, the median kept; and whether the facts
the triggers rebuilt are exactly those the migration's backfill made.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from devtools.bench.million import async_url, ensure_seed

TARGET_S = 2.0
WRITE_ORDERS = 2000
# Migration 0015's triggers, by table.
KPI_TRIGGERS = (
    ("orders", "kpi_order"),
    ("orders", "kpi_order_status"),
    ("order_events", "kpi_order_event"),
    ("payments", "kpi_payment"),
    ("shipments", "kpi_shipment"),
    ("shipments", "kpi_shipment_status"),
)
# The tables an order's rows are in, with the column naming the order, written in this
# order (the order's row first, as intake does).
_ROWS = (
    ("orders", "id"),
    ("order_events", "order_id"),
    ("shipments", "order_id"),
    ("payments", "order_id"),
)
_FACTS = (("order_kpi_facts", "order_id"), ("order_kpi_holds", "order_id"))


async def _rewrite(engine: AsyncEngine, ids: list[str], triggers: bool) -> tuple[float, int]:
    """Seconds to write the orders' rows again, and (with the triggers) how many facts and
    holds rows differ from those there before; rolled back."""
    params = {"ids": ids}
    async with engine.connect() as conn:
        trans = await conn.begin()
        try:
            for table, key in (*_ROWS, *_FACTS):
                await conn.execute(
                    text(
                        f"CREATE TEMPORARY TABLE kept_{table} ON COMMIT DROP AS "
                        f"SELECT * FROM {table} WHERE {key} = ANY(:ids)"
                    ),
                    params,
                )
            if not triggers:
                for table, name in KPI_TRIGGERS:
                    await conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {name}"))
            for table, key in reversed(_ROWS):
                await conn.execute(text(f"DELETE FROM {table} WHERE {key} = ANY(:ids)"), params)
            started = time.perf_counter()
            for table, key in _ROWS:
                order = ", seq" if table == "order_events" else ""
                await conn.execute(
                    text(f"INSERT INTO {table} SELECT * FROM kept_{table} ORDER BY {key}{order}")
                )
            seconds = time.perf_counter() - started
            differ = 0
            if triggers:
                for table, key in _FACTS:
                    now = f"(SELECT * FROM {table} WHERE {key} = ANY(:ids))"
                    kept = f"(SELECT * FROM kept_{table})"
                    differ += (
                        await conn.execute(
                            text(
                                f"SELECT (SELECT count(*) FROM ({now} EXCEPT {kept}) a) "
                                f"+ (SELECT count(*) FROM ({kept} EXCEPT {now}) b)"
                            ),
                            params,
                        )
                    ).scalar_one()
            return seconds, differ
        finally:
            await trans.rollback()


async def write_cost(engine: AsyncEngine, orders: int = WRITE_ORDERS) -> dict[str, Any]:
    async with engine.connect() as conn:
        ids = list(
            (
                await conn.execute(
                    text("SELECT id FROM orders ORDER BY md5(id) LIMIT :n"), {"n": orders}
                )
            ).scalars()
        )
        rows = (
            await conn.execute(
                text("SELECT count(*) FROM order_events WHERE order_id = ANY(:ids)"),
                {"ids": ids},
            )
        ).scalar_one()
    await _rewrite(engine, ids, True)  # warm
    rounds = [
        (await _rewrite(engine, ids, False), await _rewrite(engine, ids, True)) for _ in range(3)
    ]
    without = sorted(r[0][0] for r in rounds)[1]
    with_triggers = sorted(r[1][0] for r in rounds)[1]
    return {
        "orders": len(ids),
        "timeline_entries": rows,
        "ms_per_order_with_triggers": round(with_triggers / len(ids) * 1000, 4),
        "ms_per_order_without": round(without / len(ids) * 1000, 4),
        "extra_ms_per_order": round((with_triggers - without) / len(ids) * 1000, 4),
        "facts_rows_differing_from_backfill": max(r[1][1] for r in rounds),
    }


async def run_kpis(database_url: str, orders: int, runs: int = 5) -> dict[str, Any]:
    from sqlalchemy.ext.asyncio import create_async_engine

    from oms.reports import kpis

    def say(line: str) -> None:
        sys.stderr.write(line + "\n")

    seed = await ensure_seed(database_url, orders, 30, say)
    end = seed.until.date() + timedelta(days=1)
    query = kpis.KpiQuery(end - timedelta(days=30), end)
    engine = create_async_engine(async_url(seed.url), pool_size=1)
    timings: list[float] = []
    try:
        for _ in range(runs + 1):
            started = time.perf_counter()
            body = kpis.report_json(await kpis.kpi_report(engine, query))
            json.dumps(body)
            timings.append(time.perf_counter() - started)
        writes = await write_cost(engine)
    finally:
        await engine.dispose()
    warm = timings[1:]
    return {
        "orders_in_database": orders,
        "range": {"from": query.start.isoformat(), "to": query.end.isoformat()},
        "orders_in_range": body["totals"]["orders_received"]["value"],
        "first_s": round(timings[0], 3),
        "runs": len(warm),
        "p50_s": round(statistics.median(warm), 3),
        "max_s": round(max(warm), 3),
        "target_s": TARGET_S,
        "within_target": max(warm) < TARGET_S,
        "write_cost": writes,
    }


def render(report: dict[str, Any]) -> str:
    w = report["write_cost"]
    verdict = "met" if report["within_target"] else "NOT met"
    return (
        f"KPI report, {report['range']['from']} to {report['range']['to']} (30 days): "
        f"{report['orders_in_range']:,} orders in range of {report['orders_in_database']:,}\n"
        f"first run {report['first_s']:.3f} s; {report['runs']} more: "
        f"p50 {report['p50_s']:.3f} s, max {report['max_s']:.3f} s "
        f"(target < {report['target_s']:.0f} s: {verdict})\n"
        f"write path, {w['orders']:,} orders ({w['timeline_entries']:,} timeline entries) "
        f"written again: {w['ms_per_order_with_triggers']} ms per order with the KPI "
        f"triggers, {w['ms_per_order_without']} ms without (+{w['extra_ms_per_order']} ms); "
        f"facts rows differing from the backfill: {w['facts_rows_differing_from_backfill']}"
    )
