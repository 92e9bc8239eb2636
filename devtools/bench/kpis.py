"""``oms bench --kpis``: the KPI report over 30 days of N orders (default 1,000,000).

Seeds the data set once (``devtools.bench.million.ensure_seed``: a database of its own on
the server of ``DATABASE_URL``, or of ``oms dev``'s embedded PostgreSQL), then times the
report as ``GET /v1/reports/kpis`` builds it (``oms.reports.kpis.kpi_report`` and the JSON
body), for the 30 UTC days that end with the seed's last day: a first run (cold caches),
then ``runs`` more, reported as p50 and max.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from datetime import timedelta
from typing import Any

from devtools.bench.million import async_url, ensure_seed

TARGET_S = 2.0


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
    }


def render(report: dict[str, Any]) -> str:
    return (
        f"KPI report, {report['range']['from']} to {report['range']['to']} (30 days): "
        f"{report['orders_in_range']:,} orders in range of {report['orders_in_database']:,}\n"
        f"first run {report['first_s']:.3f} s; {report['runs']} more: "
        f"p50 {report['p50_s']:.3f} s, max {report['max_s']:.3f} s "
        f"(target < {report['target_s']:.0f} s: {'met' if report['within_target'] else 'NOT met'})"
    )
