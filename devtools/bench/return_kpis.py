"""The returns' KPI report (``GET /v1/reports/returns``) over 30 days of N delivered orders.

    .venv/bin/python -m devtools.bench.return_kpis [--orders 1000000] [--runs 5] [--json]

Starts a PostgreSQL of its own (the ``pgserver`` wheel, in a temporary folder deleted at
the end), migrates it, and writes the rows the report reads, set-based: N delivered
orders over 30 days in 4 channels (``order_kpi_facts``, and ``order_kpi_units`` with 1 to
3 of 500 SKUs each, 1 to 3 units a SKU), a return of one line for one order in 20 (one of
6 reasons, one in 10 of them rejected), a refund for each of those returns and a goodwill
refund for one order in 100, in 2 currencies. Then times the report as the endpoint
builds it (``oms.reports.returns.returns_report``) for the 30 days, all channels and one:
a first run (cold caches), then ``runs`` more, reported as p50 and max.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

DAYS = 30
TARGET_S = 1.0

_SEED = (
    """
    INSERT INTO order_kpi_facts (order_id, channel, received_at, delivered_at, parcels,
                                 parcels_shipped)
    SELECT 'o' || n, 'ch' || (n % 4),
           CAST(:start AS timestamptz) + (n * CAST(:step AS float8)) * interval '1 second',
           CAST(:start AS timestamptz)
             + (n * CAST(:step AS float8) + 86400) * interval '1 second', 1, 1
    FROM generate_series(1, CAST(:orders AS integer)) AS n
    """,
    """
    INSERT INTO order_kpi_units (order_id, sku, channel, received_at, delivered)
    SELECT f.order_id, 'SKU-' || ((hashtext(f.order_id) & 1023) % 500 + k * 7) % 500,
           f.channel, f.received_at, 1 + (hashtext(f.order_id || k) & 1023) % 3
    FROM order_kpi_facts f, generate_series(0, 2) AS k
    WHERE k <= (hashtext(f.order_id) & 1023) % 3
    """,
    """
    INSERT INTO returns (id, order_id, status, reason, resolution, requested_by,
                         warehouse_id, created_at, updated_at)
    SELECT u.order_id || '-r1', u.order_id,
           CASE WHEN (hashtext(u.order_id) & 1023) % 10 = 0 THEN 'rejected' ELSE 'closed' END,
           'reason-' || (hashtext(u.order_id) & 1023) % 6, 'refund', 'bench', 'WH',
           u.received_at + interval '3 days', u.received_at + interval '3 days'
    FROM order_kpi_units u
    WHERE (hashtext(u.order_id || 'r') & 1023) % 20 = 0
      AND u.sku = (SELECT min(v.sku) FROM order_kpi_units v WHERE v.order_id = u.order_id)
    """,
    """
    INSERT INTO return_lines (return_id, sku, quantity, restockable, damaged, missing)
    SELECT r.id, u.sku, 1, 1, 0, 0
    FROM returns r JOIN order_kpi_units u ON u.order_id = r.order_id
    WHERE u.sku = (SELECT min(v.sku) FROM order_kpi_units v WHERE v.order_id = u.order_id)
    """,
    """
    INSERT INTO refunds (id, order_id, return_id, amount, currency, status, reason,
                         requested_by, refunded, created_at, updated_at)
    SELECT r.order_id || '-r1-refund', r.order_id, r.id, 9.99,
           CASE WHEN (hashtext(r.order_id) & 1023) % 3 = 0 THEN 'USD' ELSE 'EUR' END,
           'succeeded', 'return', 'bench', 9.99, r.created_at, r.created_at
    FROM returns r WHERE r.status = 'closed'
    UNION ALL
    SELECT f.order_id || '-f1', f.order_id, NULL, 2.50, 'EUR', 'succeeded', 'goodwill',
           'bench', 2.50, f.received_at + interval '2 days', f.received_at + interval '2 days'
    FROM order_kpi_facts f WHERE (hashtext(f.order_id || 'f') & 1023) % 100 = 7
    """,
    "ANALYZE order_kpi_facts",
    "ANALYZE order_kpi_units",
    "ANALYZE returns",
    "ANALYZE return_lines",
    "ANALYZE refunds",
)


async def _seed(engine: AsyncEngine, orders: int, start: datetime) -> dict[str, int]:
    params = {"orders": orders, "start": start, "step": DAYS * 86400 / orders}
    async with engine.begin() as conn:
        for statement in _SEED:
            names = {k: v for k, v in params.items() if f":{k}" in statement}
            await conn.execute(text(statement), names)
        counts = {}
        for table in ("order_kpi_units", "returns", "refunds"):
            counts[table] = int(
                (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            )
    return counts


async def _time(engine: AsyncEngine, query: Any, runs: int) -> dict[str, Any]:
    from oms.reports.returns import returns_report

    seconds = []
    report: dict[str, Any] = {}
    for _ in range(runs + 1):
        started = time.perf_counter()
        report = await returns_report(engine, query)
        json.dumps(report)
        seconds.append(time.perf_counter() - started)
    rest = seconds[1:]
    return {
        "first_s": round(seconds[0], 3),
        "p50_s": round(statistics.median(rest), 3),
        "max_s": round(max(rest), 3),
        "units": report["units"],
        "skus": len(report["by_sku"]),
        "refund_days": len(report["refund_days"]),
    }


async def run(orders: int, runs: int) -> dict[str, Any]:
    import pgserver

    from oms.db.engine import make_engine
    from oms.db.migrate import migrate
    from oms.reports.kpis import KpiQuery
    from oms.settings import Settings

    folder = Path(tempfile.mkdtemp(prefix="oms-bench-returns-", dir="/tmp"))
    server = pgserver.get_server(folder / "pgdata", cleanup_mode="delete")
    settings = Settings(database_url=server.get_uri(), home=folder)
    engine = make_engine(settings, pool_size=1)
    first = (datetime.now(UTC) - timedelta(days=DAYS + 5)).date()
    start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    query = KpiQuery(first, first + timedelta(days=DAYS))
    try:
        await migrate(engine)
        started = time.perf_counter()
        counts = await _seed(engine, orders, start)
        result: dict[str, Any] = {
            "orders": orders,
            "days": DAYS,
            "target_s": TARGET_S,
            "rows": counts,
            "seed_s": round(time.perf_counter() - started, 1),
            "all_channels": await _time(engine, query, runs),
            "one_channel": await _time(engine, KpiQuery(query.start, query.end, "ch1"), runs),
        }
    finally:
        await engine.dispose()
        server.cleanup()
    return result


def render(result: dict[str, Any]) -> str:
    lines = [
        f"returns report over {result['days']} days of {result['orders']:,} delivered orders "
        f"({result['rows']['order_kpi_units']:,} SKU rows, {result['rows']['returns']:,} "
        f"returns, {result['rows']['refunds']:,} refunds; seeded in {result['seed_s']} s)"
    ]
    for name in ("all_channels", "one_channel"):
        r = result[name]
        met = "met" if r["p50_s"] <= result["target_s"] else "NOT met"
        lines.append(
            f"  {name.replace('_', ' ')}: first {r['first_s']} s, p50 {r['p50_s']} s, "
            f"max {r['max_s']} s (target p50 <= {result['target_s']} s: {met}); "
            f"return rate {r['units']['rate']}, {r['skus']} SKUs, "
            f"{r['refund_days']} refund rows"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(run(args.orders, args.runs))
    print(json.dumps(result, indent=2) if args.json else render(result))


if __name__ == "__main__":
    main()
