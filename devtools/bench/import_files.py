"""The whole ``oms import orders`` on one file of N closed orders, as a business runs it: the
canonical CSV made by ``oms.imports.samples``, then the command's own path (every order read
and checked, the valid ones spooled, then written by the writer), on an embedded PostgreSQL
of the bench's own (never the developer's ``.oms``). Prints the time of each phase.

    python -m devtools.bench.import_files --orders 1000000

Target (issue 18): a million closed orders in under 10 minutes on this two-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

TARGET_S = 600.0
CHANNEL = "bench-files"
SKUS = [f"BENCH-{i:04d}" for i in range(500)]


async def _prepare(engine: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO channels (name, platform, intake, mode, payment_timeout_s, "
                "pull_interval_s, pull_lag_s, enabled, created_at, updated_at, created_by, "
                "updated_by) VALUES (:c, 'native', 'push', 'live', 86400, 30, 180, true, now(), "
                "now(), 'bench', 'bench') ON CONFLICT DO NOTHING"
            ),
            {"c": CHANNEL},
        )
        await conn.execute(
            text(
                "INSERT INTO warehouses (id, name, country, lat, lon, priority, created_at) "
                "VALUES ('BENCH-WH', 'bench', 'DE', 52.5, 13.4, 1, now()) ON CONFLICT DO NOTHING"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO stock (warehouse_id, sku, on_hand, reserved, updated_at) "
                "SELECT 'BENCH-WH', s, 1000, 0, now() FROM unnest(CAST(:s AS text[])) s "
                "ON CONFLICT DO NOTHING"
            ),
            {"s": SKUS},
        )


async def run(orders: int) -> dict[str, Any]:
    import pgserver

    from oms.db.engine import make_engine
    from oms.db.migrate import migrate
    from oms.imports import samples
    from oms.imports.cli import run_orders
    from oms.settings import Settings

    folder = Path(tempfile.mkdtemp(prefix="oms-bench-files-", dir="/tmp"))
    server = pgserver.get_server(folder / "pgdata", cleanup_mode="delete")
    settings = Settings(database_url=server.get_uri(), home=folder)
    engine = make_engine(settings, pool_size=1)
    report: dict[str, Any] = {"orders": orders, "target_s": TARGET_S}
    try:
        await migrate(engine)
        await _prepare(engine)
        path = folder / "orders.csv"
        started = time.perf_counter()
        rows = samples.write_closed_canonical(path, orders, SKUS)
        report["file"] = {
            "rows": rows,
            "mb": round(path.stat().st_size / 2**20),
            "seconds": round(time.perf_counter() - started, 1),
        }
        args = argparse.Namespace(
            files=[path], channel=CHANNEL, fmt=None, dry_run=False, skip_invalid=False,
            create_skus=False, report=None, start_rate=2.0, no_start=True, json=False,
        )  # fmt: skip
        out = io.StringIO()
        started = time.perf_counter()
        with contextlib.redirect_stdout(out):
            status = await run_orders(args, settings)
        seconds = time.perf_counter() - started
        async with engine.connect() as conn:
            found = (
                await conn.execute(
                    text("SELECT count(*) FROM orders WHERE channel = :c"), {"c": CHANNEL}
                )
            ).scalar_one()
        report.update(
            exit=status,
            seconds=round(seconds, 1),
            orders_per_s=round(orders / seconds),
            in_database=found,
            peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            output=[line for line in out.getvalue().splitlines() if line.startswith("written")],
            met=status == 0 and found == orders and seconds < TARGET_S,
        )
    finally:
        await engine.dispose()
        server.cleanup()
    return report


def render(r: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"oms import orders on one canonical CSV of {r['orders']:,} closed orders "
            f"({r['file']['rows']:,} rows, {r['file']['mb']} MB, made in {r['file']['seconds']} s)",
            f"  read, checked, spooled and written: {r['seconds']} s, {r['orders_per_s']:,} "
            f"orders/s, exit {r['exit']}, {r['in_database']:,} orders in the database",
            *(f"  {line}" for line in r["output"]),
            f"  peak RSS {r['peak_rss_mb']} MB",
            f"  target: under {r['target_s']:.0f} s: " + ("met" if r["met"] else "NOT met"),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    args = parser.parse_args()
    from oms.commands import exit_now

    report = asyncio.run(run(args.orders))
    print(render(report), flush=True)
    exit_now(0 if report["met"] else 1)


if __name__ == "__main__":
    main()
