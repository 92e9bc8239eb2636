"""``oms stock import`` on 100,000 rows: new levels, newer levels, then the same file again.

    .venv/bin/python -m devtools.bench.stock_import                  # an embedded PostgreSQL
    DATABASE_URL=postgresql://... .venv/bin/python -m devtools.bench.stock_import

Without ``DATABASE_URL`` a throwaway PostgreSQL (pgserver) is started in a temporary
directory, as the tests do. Warehouses of the run's own (``bench-<run>-<n>``) are created;
the file holds ``--warehouses`` x ``--skus`` levels. Three imports run as a shell user runs
them: every row new, every row newer than the one held (updates), and that file again (every
row stale). Each prints the command's own rows/s and the wall time including its start.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

OMS = str(Path(sys.executable).parent / "oms")


def write_levels(path: Path, warehouses: list[str], skus: int, run: str, as_of: datetime) -> int:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["warehouse_id", "sku", "on_hand", "as_of"])
        stamp = as_of.isoformat()
        for n in range(skus):
            for w, warehouse in enumerate(warehouses):
                out.writerow([warehouse, f"BENCH-{run}-{n:06d}", (n * 7 + w) % 500, stamp])
    return len(warehouses) * skus


async def create_warehouses(database_url: str, run: str, count: int) -> list[str]:
    from sqlalchemy import text

    from oms.db.engine import make_engine
    from oms.db.migrate import migrate
    from oms.settings import Settings

    engine = make_engine(Settings(database_url=database_url), pool_size=1)
    ids = [f"bench-{run}-{n}" for n in range(1, count + 1)]
    try:
        await migrate(engine)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO warehouses (id, name, country, lat, lon, priority, created_at) "
                    "VALUES (:id, :id, 'DE', 52.5, 13.4, 100, now())"
                ),
                [{"id": i} for i in ids],
            )
    finally:
        await engine.dispose()
    return ids


def import_levels(database_url: str, path: Path) -> tuple[dict[str, object], float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    env["DATABASE_URL"] = database_url
    env["OMS_HOME"] = str(path.parent / ".oms")
    started = time.perf_counter()
    done = subprocess.run(
        [OMS, "stock", "import", str(path), "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"oms stock import failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout), wall


def run(database_url: str, warehouses: int, skus: int) -> None:
    run_id = uuid.uuid4().hex[:8]
    ids = asyncio.run(create_warehouses(database_url, run_id, warehouses))
    with tempfile.TemporaryDirectory(prefix="oms-bench-") as tmp:
        first, second = Path(tmp) / "levels-1.csv", Path(tmp) / "levels-2.csv"
        now = datetime.now(UTC).replace(microsecond=0)
        rows = write_levels(first, ids, skus, run_id, now - timedelta(minutes=5))
        write_levels(second, ids, skus, run_id, now)
        print(f"{rows:,} rows: {warehouses} warehouses x {skus:,} SKUs (run {run_id})")
        for name, path in (("new rows", first), ("newer levels", second), ("all stale", second)):
            report, wall = import_levels(database_url, path)
            applied = len(report["applied"])  # type: ignore[arg-type]
            ignored = len(report["ignored"])  # type: ignore[arg-type]
            print(
                f"{name:<13} applied {applied:>7,}  ignored {ignored:>7,}  "
                f"{report['seconds']:>6.2f} s  {report['rows_per_s']:>8,} rows/s  "
                f"(wall {wall:.2f} s with the command's start)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warehouses", type=int, default=5)
    parser.add_argument("--skus", type=int, default=20_000)
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL")
    if database_url:
        run(database_url, args.warehouses, args.skus)
        return
    import pgserver

    data = tempfile.mkdtemp(prefix="omsbench", dir="/tmp")
    server = pgserver.get_server(data, cleanup_mode="delete")
    try:
        run(server.get_uri(), args.warehouses, args.skus)
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()
