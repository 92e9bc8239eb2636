"""What running behind a pooler in transaction mode costs per statement
(docs/deployment.md, "A connection pooler"): the same statements of the OMS's own kinds,
20 clients at once, against an embedded PostgreSQL of the bench's own (never the
developer's ``.oms``), three ways:

- ``direct``: straight to PostgreSQL, as today (asyncpg's statement caches on, single
  statements in autocommit);
- ``direct, pooler mode``: straight to PostgreSQL with ``OMS_DATABASE_POOLER=transaction``
  (caches off, unique statement names, single statements in a transaction): what the
  setting costs by itself;
- ``PgBouncer``: through PgBouncer in transaction mode with the setting, 10 server
  connections for the clients' 20.

Each way: statements a second, and CPU milliseconds a statement of the client, of
PostgreSQL's processes and of PgBouncer. The work is half single-statement reads of a stock
row, half transactions of an order's reservation shape (the order's advisory lock, a
reserve and a release of one unit).

    python -m devtools.bench.pooler --statements 6000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import text

CLIENTS = 20
SKUS = 200
WAREHOUSE = "BENCH-POOL-WH"

_READ = text("SELECT on_hand, reserved FROM stock WHERE warehouse_id = :w AND sku = :s")
_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('order-stock:' || :o))")
_RESERVE = text(
    "UPDATE stock SET reserved = reserved + :d WHERE warehouse_id = :w AND sku = :s "
    "RETURNING on_hand - reserved"
)


def _server_cpu(pgdata: Path) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL process of ``pgdata`` (each runs in it)."""
    found = {}
    for proc in psutil.process_iter(["name"]):
        try:
            if proc.info["name"] == "postgres" and Path(proc.cwd()) == pgdata:
                t = proc.cpu_times()
                found[proc.pid] = t.user + t.system
        except (psutil.Error, OSError):
            continue
    return found


def _cpu_of(pid: int | None) -> float:
    if pid is None:
        return 0.0
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


async def _one_way(
    settings: Any, statements: int, pgdata: Path, bouncer_pid: int | None
) -> dict[str, Any]:
    from oms.db.engine import make_engine, one_statement

    # A connection per client: none opened or closed while measured (an overflow
    # connection would be, and its backend's CPU lost).
    engine = make_engine(settings, pool_size=CLIENTS)
    per_client = statements // CLIENTS // 4 * 4  # whole rounds of 4 statements
    errors = 0

    async def client(n: int) -> None:
        nonlocal errors
        for i in range(per_client // 4):
            sku = f"BENCH-POOL-{(n * 31 + i) % SKUS}"
            try:
                async with one_statement(engine) as conn:
                    await conn.execute(_READ, {"w": WAREHOUSE, "s": sku})
                async with engine.begin() as conn:
                    await conn.execute(_LOCK, {"o": f"bench-{n}-{i}"})
                    await conn.execute(_RESERVE, {"w": WAREHOUSE, "s": sku, "d": 1})
                    await conn.execute(_RESERVE, {"w": WAREHOUSE, "s": sku, "d": -1})
            except Exception:
                errors += 1

    # Warm: every pooled connection opened, as in a running process.
    await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    server_before = _server_cpu(pgdata)
    bouncer_before = _cpu_of(bouncer_pid)
    client_before = time.process_time()
    errors = 0
    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    wall = time.perf_counter() - started
    client_cpu = time.process_time() - client_before
    server_after = _server_cpu(pgdata)
    server_cpu = sum(cpu - server_before.get(pid, 0.0) for pid, cpu in server_after.items())
    bouncer_cpu = _cpu_of(bouncer_pid) - bouncer_before
    await engine.dispose()
    done = per_client * CLIENTS
    return {
        "statements": done,
        "errors": errors,
        "per_s": round(done / wall),
        "client_cpu_ms": round(client_cpu * 1000 / done, 3),
        "postgres_cpu_ms": round(server_cpu * 1000 / done, 3),
        "pgbouncer_cpu_ms": round(bouncer_cpu * 1000 / done, 3),
    }


async def run(statements: int) -> dict[str, Any]:
    import pgserver

    from devtools import pgbouncer
    from oms.db.engine import make_engine
    from oms.db.migrate import migrate
    from oms.settings import Settings

    folder = Path(tempfile.mkdtemp(prefix="oms-bench-pooler-", dir="/tmp"))
    pgdata = folder / "pgdata"
    server = pgserver.get_server(pgdata, cleanup_mode="delete")
    direct = Settings(database_url=server.get_uri(), home=folder)
    report: dict[str, Any] = {"clients": CLIENTS, "ways": {}}
    try:
        engine = make_engine(direct, pool_size=2)
        await migrate(engine)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO warehouses (id, name, country, lat, lon, priority, created_at)"
                    " VALUES (:w, 'bench', 'DE', 52.5, 13.4, 1, now())"
                ),
                {"w": WAREHOUSE},
            )
            await conn.execute(
                text(
                    "INSERT INTO stock (warehouse_id, sku, on_hand, reserved, updated_at) "
                    "SELECT :w, 'BENCH-POOL-' || n, 1000, 0, now() FROM generate_series(0, :k) n"
                ),
                {"w": WAREHOUSE, "k": SKUS - 1},
            )
        await engine.dispose()
        ways = report["ways"]
        ways["direct"] = await _one_way(direct, statements, pgdata.resolve(), None)
        pooled = direct.model_copy(update={"database_pooler": "transaction"})
        ways["direct, pooler mode"] = await _one_way(pooled, statements, pgdata.resolve(), None)
        with pgbouncer.running(server.get_uri(), pool_size=CLIENTS // 2) as bouncer:
            pid = int((bouncer.log.parent / "pgbouncer.pid").read_text().split()[0])
            through = pooled.model_copy(update={"database_url": bouncer.url})
            ways["PgBouncer"] = await _one_way(through, statements, pgdata.resolve(), pid)
    finally:
        server.cleanup()
    report["ok"] = all(w["errors"] == 0 for w in report["ways"].values())
    return report


def render(r: dict[str, Any]) -> str:
    lines = [
        f"{r['clients']} clients; CPU ms a statement (half single reads, half in "
        "transactions of 3 statements):",
        f"  {'':22} {'stmt/s':>7} {'client':>7} {'postgres':>9} {'pgbouncer':>10} {'errors':>7}",
    ]
    for name, w in r["ways"].items():
        lines.append(
            f"  {name:22} {w['per_s']:>7,} {w['client_cpu_ms']:>7} {w['postgres_cpu_ms']:>9} "
            f"{w['pgbouncer_cpu_ms']:>10} {w['errors']:>7}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=6000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from oms.commands import exit_now
    from oms.logging import configure_logging

    configure_logging("auto", "error")
    report = asyncio.run(run(args.statements))
    print(json.dumps(report, indent=2) if args.json else render(report))
    exit_now(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
