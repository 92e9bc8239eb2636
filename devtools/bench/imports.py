"""``oms bench --import``: N closed historical orders written by the import writer
(``oms.imports.writer.write_orders``), on an embedded PostgreSQL of the bench's own (a
temporary data folder, never the developer's ``.oms/``), migrated to the newest revision.

    python -m devtools.bench.imports --orders 1000000 [--batch 5000] [--json]

Prints the first run (orders/s, seconds, rows and bytes per order, the time per phase),
a second run of the same orders (all ``unchanged``), the peak RSS of this process, and
whether the KPI facts the writer filled are exactly those ``oms_kpi_facts_backfill()``
makes from the same rows. Target: 1,000,000 closed orders in under 10 minutes.

The orders are generated (``generated``): 90 % delivered, 6 % cancelled, 4 % refunded,
one to three lines, over two years, 200,000 customers, EUR/USD/CNY.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from devtools.bench.million import async_url
from oms.imports.model import ImportStatus, Line, Order, Where

TARGET_S = 600.0
CHANNEL = "bench-import"
TABLES = ("orders", "order_events", "payments", "shipments", "order_kpi_facts", "order_skus")
CITIES = (("Berlin", "DE", "10115"), ("Shanghai", "CN", "200000"), ("Austin", "US", "73301"))
CURRENCIES = ("EUR", "EUR", "USD", "CNY")


def generated(n: int, start: datetime | None = None) -> Iterator[Order]:
    """``n`` valid closed orders, the same for the same ``n``."""
    t0 = start or datetime(2023, 1, 1, tzinfo=UTC)
    span = 730 * 86400
    for i in range(n):
        created = t0 + timedelta(seconds=i * span // max(n, 1))
        nlines = 1 + i % 3
        lines = [
            Line(f"SKU-{(i * 7 + k * 13) % 400:04d}", 1 + (i + k) % 3, f"{5 + (i + k) % 50}.90")
            for k in range(nlines)
        ]
        subtotal = sum(
            int(x.unit_price.split(".")[0]) * 100 + 90 for x in lines for _ in range(x.quantity)
        )
        total = f"{subtotal // 100}.{subtotal % 100:02d}"
        city, country, postal = CITIES[i % 3]
        cust = (i * 7919) % 200_000
        kind = i % 50
        status = (
            ImportStatus.CANCELLED
            if kind < 3
            else ImportStatus.REFUNDED
            if kind < 5
            else ImportStatus.DELIVERED
        )
        paid_at = created + timedelta(minutes=5)
        shipped = created + timedelta(hours=20 + i % 30)
        delivered = shipped + timedelta(hours=30 + i % 60)
        iso = datetime.isoformat
        order = Order(
            where=Where("bench.csv", i + 2),
            external_id=f"H{i:09d}",
            status=status,
            source_status=status.value,
            created_at=iso(created),
            currency=CURRENCIES[i % 4],
            lines=lines,
            subtotal=total,
            total=total,
            paid=total,
            paid_at=iso(paid_at),
            shipped_at=iso(shipped),
            delivered_at=iso(delivered),
            payment_method="card",
            payment_reference=f"ch_{i:09d}",
            customer_id=f"cust-{cust}",
            email=f"customer{cust}@example.com",
            customer_name=f"Customer {cust}",
            phone=f"+49 30 {i % 9_999_999:07d}",
            ship_name=f"Customer {cust}",
            ship_line1=f"{i % 997 + 1} Main St",
            ship_city=city,
            ship_postal_code=postal,
            ship_country=country,
            tracking_number=f"BT{i:010d}",
            carrier="DHL",
            warehouse_id="old-wh-1",
        )
        if status is ImportStatus.CANCELLED:
            order.paid = "0"
            order.paid_at = order.shipped_at = order.delivered_at = None
            order.tracking_number = order.carrier = None
            order.cancelled_at = iso(created + timedelta(hours=1))
            order.cancelled_by = ("customer", "operator", "platform")[i % 3]
            order.cancel_reason = "changed their mind"
        elif status is ImportStatus.REFUNDED:
            order.refunded = total
            order.cancelled_at = iso(delivered + timedelta(days=3))
        yield order


async def _sizes(engine: AsyncEngine) -> tuple[int, int]:
    """Rows and bytes (tables with their indexes and TOAST) of the written tables."""
    rows = 0
    size = 0
    async with engine.connect() as conn:
        for table in TABLES:
            rows += (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            size += (
                await conn.execute(text(f"SELECT pg_total_relation_size('{table}')"))
            ).scalar_one()
    return rows, size


async def _facts_check(engine: AsyncEngine) -> dict[str, Any]:
    """The writer's KPI facts against ``oms_kpi_facts_backfill()``'s for the same rows
    (theirs dropped and made again, rolled back): rows that differ either way."""
    started = time.perf_counter()
    async with engine.connect() as conn:
        trans = await conn.begin()
        await conn.execute(text("SET LOCAL statement_timeout = 0"))
        # As devtools/bench/million.py: the emptied facts have no statistics in this
        # transaction, and a nested loop over them is quadratic.
        await conn.execute(text("SET LOCAL work_mem = '256MB'"))
        await conn.execute(text("SET LOCAL enable_nestloop = off"))
        await conn.execute(
            text(
                "CREATE TEMPORARY TABLE written ON COMMIT DROP AS "
                "SELECT * FROM order_kpi_facts WHERE channel = :c"
            ),
            {"c": CHANNEL},
        )
        await conn.execute(text("DELETE FROM order_kpi_facts WHERE channel = :c"), {"c": CHANNEL})
        await conn.execute(text("SELECT oms_kpi_facts_backfill()"))
        differ = (
            await conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM (SELECT * FROM written EXCEPT "
                    "SELECT * FROM order_kpi_facts WHERE channel = :c) a) + "
                    "(SELECT count(*) FROM (SELECT * FROM order_kpi_facts WHERE channel = :c "
                    "EXCEPT SELECT * FROM written) b)"
                ),
                {"c": CHANNEL},
            )
        ).scalar_one()
        n = (await conn.execute(text("SELECT count(*) FROM written"))).scalar_one()
        await trans.rollback()
    return {"orders": n, "differ": differ, "seconds": round(time.perf_counter() - started, 1)}


async def run_import_bench(
    orders: int, batch: int = 5000, say: Any = print, database_url: str | None = None
) -> dict[str, Any]:
    import pgserver

    from oms.db.engine import make_engine
    from oms.db.migrate import migrate
    from oms.imports.writer import write_orders
    from oms.settings import Settings

    server = None
    if database_url is None:
        data = tempfile.mkdtemp(prefix="oms-bench-import-", dir="/tmp")
        server = pgserver.get_server(data, cleanup_mode="delete")
        database_url = server.get_uri()
    engine = make_engine(Settings(database_url=database_url), pool_size=2)
    report: dict[str, Any] = {"orders": orders, "batch": batch, "target_s": TARGET_S}
    try:
        await migrate(engine)
        rows0, bytes0 = await _sizes(engine)
        last = [time.perf_counter()]

        def progress(done: int) -> None:
            now = time.perf_counter()
            if now - last[0] >= 10 or done == orders:
                last[0] = now
                say(f"  {done:>9,} of {orders:,}  {now - started:7.1f} s")

        for label in ("first", "second"):
            say(f"{label} run: {orders:,} orders")
            started = time.perf_counter()
            result = await write_orders(
                engine,
                CHANNEL,
                generated(orders),
                run_key="bench-import",
                batch_size=batch,
                progress=progress,
            )
            seconds = time.perf_counter() - started
            report[label] = {
                "seconds": round(seconds, 1),
                "orders_per_s": round(orders / seconds),
                "inserted": result.inserted,
                "unchanged": result.unchanged,
                "refused": result.refused,
            }
            if label == "first":
                rows1, bytes1 = await _sizes(engine)
                report["rows_per_order"] = round((rows1 - rows0) / orders, 2)
                report["bytes_per_order"] = round((bytes1 - bytes0) / orders)
        report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        # The check's one statement runs longer than the engine's 15 s command timeout.
        check = create_async_engine(async_url(database_url), pool_size=1)
        try:
            report["kpi_facts"] = await _facts_check(check)
        finally:
            await check.dispose()
        report["met"] = report["first"]["seconds"] < TARGET_S and report["kpi_facts"]["differ"] == 0
    finally:
        await engine.dispose()
        if server is not None:
            server.cleanup()
    return report


def render(report: dict[str, Any]) -> str:
    first, second, facts = report["first"], report["second"], report["kpi_facts"]
    return "\n".join(
        [
            f"import of {report['orders']:,} closed orders (batches of {report['batch']:,})",
            f"  first run   {first['seconds']:8.1f} s  {first['orders_per_s']:>7,} orders/s  "
            f"inserted {first['inserted']:,}",
            f"  second run  {second['seconds']:8.1f} s  {second['orders_per_s']:>7,} orders/s  "
            f"unchanged {second['unchanged']:,}",
            f"  rows per order {report['rows_per_order']}, bytes per order "
            f"{report['bytes_per_order']:,} (tables, indexes, TOAST)",
            f"  peak RSS of the writer's process {report['peak_rss_mb']:,} MB",
            f"  KPI facts: {facts['orders']:,} rows, {facts['differ']} differ from "
            f"oms_kpi_facts_backfill() ({facts['seconds']} s)",
            f"  target: under {report['target_s']:.0f} s: "
            + ("met" if report["met"] else "NOT met"),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = asyncio.run(run_import_bench(args.orders, args.batch))
    print(json.dumps(report, indent=2) if args.json else render(report))


if __name__ == "__main__":
    main()
