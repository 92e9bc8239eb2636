"""The nightly forecast run on a catalogue's history: N SKUs sold over D days (the shapes
of ``oms.insights.backtest.synthetic``: trends, weekly rhythm, promotions, erratic,
intermittent and lumpy SKUs), one order per SKU and day with demand, shipped by one of two
warehouses, written by the import writer into an embedded PostgreSQL of the bench's own
(never the developer's ``.oms``). Then ``run_forecast`` is timed, twice (the second
replaces the first's rows): reading the history, fitting, storing, the hints and alerts.

    python -m devtools.bench.forecast --skus 1000 --days 182
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

WAREHOUSES = ("BENCH-WH-1", "BENCH-WH-2")


def _orders(skus: int, days: int, seed: int) -> list[Any]:
    from oms.imports.model import ImportStatus, Line, Order, Where
    from oms.insights.backtest import synthetic

    history = synthetic(skus, days, seed)
    today = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    orders: list[Any] = []
    for i, sku in enumerate(history.skus):
        for day in range(days):
            units = int(history.units[i, day])
            if not units:
                continue
            at = today - timedelta(days=days - day)
            amount = f"{units}.00"
            orders.append(
                Order(
                    where=Where("bench", len(orders) + 2),
                    external_id=f"B-{i}-{day}",
                    status=ImportStatus.DELIVERED,
                    source_status="fulfilled",
                    created_at=at.isoformat(),
                    currency="EUR",
                    lines=[Line(sku, units, "1.00")],
                    subtotal=amount,
                    shipping="0.00",
                    discount="0.00",
                    total=amount,
                    paid=amount,
                    paid_at=at.isoformat(),
                    shipped_at=(at + timedelta(hours=4)).isoformat(),
                    delivered_at=(at + timedelta(days=2)).isoformat(),
                    payment_method="card",
                    payment_reference=f"ch-{i}-{day}",
                    customer_id=f"cust-{i % 97}",
                    email=f"c{i % 97}@example.com",
                    customer_name="Bench Customer",
                    phone="+49 30 1234567",
                    ship_name="Bench Customer",
                    ship_line1="1 Bench St",
                    ship_city="Berlin",
                    ship_postal_code="10115",
                    ship_country="DE",
                    tracking_number=f"TRK-{i}-{day}",
                    carrier="DHL",
                    warehouse_id=WAREHOUSES[(i + day) % 2],
                )
            )
    return orders


async def _stock(engine: Any, orders: list[Any], days: int, seed: int) -> None:
    """Each pair's stock: between 0 and 40 days of its mean demand, at random."""
    import numpy as np

    rng = np.random.default_rng(seed)
    sold: dict[tuple[str, str], int] = {}
    for o in orders:
        key = (o.warehouse_id, o.lines[0].sku)
        sold[key] = sold.get(key, 0) + o.lines[0].quantity
    rows = [
        {"w": w, "s": s, "n": int(units / days * rng.uniform(0, 40))}
        for (w, s), units in sold.items()
    ]
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO stock (warehouse_id, sku, on_hand, reserved, updated_at) "
                "VALUES (:w, :s, :n, 0, now())"
            ),
            rows,
        )


async def run(skus: int, days: int, seed: int) -> dict[str, Any]:
    import pgserver

    from oms.alerts import AlertStore
    from oms.db.engine import make_engine
    from oms.db.migrate import migrate
    from oms.imports.writer import write_orders
    from oms.insights.run import run_forecast
    from oms.settings import Settings

    folder = Path(tempfile.mkdtemp(prefix="oms-bench-forecast-", dir="/tmp"))
    server = pgserver.get_server(folder / "pgdata", cleanup_mode="delete")
    settings = Settings(database_url=server.get_uri(), home=folder, forecast_history_days=days)
    engine = make_engine(settings, pool_size=2)
    report: dict[str, Any] = {"skus": skus, "days": days}
    try:
        await migrate(engine)
        async with engine.begin() as conn:
            for wh in WAREHOUSES:
                await conn.execute(
                    text(
                        "INSERT INTO warehouses (id, name, country, lat, lon, priority, "
                        "created_at) VALUES (:w, 'bench', 'DE', 52.5, 13.4, 1, now())"
                    ),
                    {"w": wh},
                )
        orders = _orders(skus, days, seed)
        await _stock(engine, orders, days, seed)
        started = time.perf_counter()
        await write_orders(engine, "bench-forecast", orders, run_key="bench-forecast")
        report["orders"] = len(orders)
        report["history_s"] = round(time.perf_counter() - started, 1)
        runs = []
        for _ in range(2):
            started = time.perf_counter()
            alerts = AlertStore(engine)
            result = await run_forecast(engine, settings, datetime.now(UTC).date(), alerts)
            runs.append((round(time.perf_counter() - started, 2), result))
        report["runs"] = runs
        report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    finally:
        await engine.dispose()
        server.cleanup()
    return report


def render(r: dict[str, Any]) -> str:
    lines = [
        f"forecast run on {r['skus']:,} SKUs x {r['days']} days: {r['orders']:,} orders "
        f"of history (written in {r['history_s']} s)"
    ]
    for n, (seconds, result) in enumerate(r["runs"], 1):
        classes = ", ".join(f"{k} {v}" for k, v in sorted(result.classes.items()))
        lines.append(
            f"  run {n}: {seconds} s for {result.series:,} series ({result.skus:,} SKUs: "
            f"{classes}; {result.pairs:,} warehouse-SKU pairs): history read in "
            f"{result.read_s} s, fitted in {result.fit_s} s; {result.stockout_risks:,} "
            f"stock-out risks (alerted), {result.reorders:,} to reorder"
        )
    lines.append(f"  peak RSS {r['peak_rss_mb']} MB")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=1000)
    parser.add_argument("--days", type=int, default=182)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    from oms.commands import exit_now
    from oms.logging import configure_logging

    configure_logging("auto", "error")  # the report alone on stdout
    print(render(asyncio.run(run(args.skus, args.days, args.seed))))
    exit_now(0)


if __name__ == "__main__":
    main()
