"""The learned routing's two costs, on an embedded PostgreSQL of the bench's own (never the
developer's ``.oms``): the refresh over N delivered parcels (``oms routing learn``: read
the timeline of the window's orders, learn, replace the table), and the read an allocation
makes (the learned and cost rows for its candidate warehouses and region, by key).

    python -m devtools.bench.routing_learn --parcels 200000

The parcels go from 20 warehouses to 200 regions (two countries, a hundred postal
prefixes each), written set-based as the order workflow records them (an order, its
shipment, ``shipment_dispatched`` and ``shipment_delivered`` on the timeline).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

WAREHOUSES = 20

_ORDERS = text(
    """
    INSERT INTO orders (id, channel, external_id, request_hash, customer_id, status, last_seq,
                        view, created_at, updated_at)
    SELECT 'o' || g, 'bench', 'e' || g, 'h', 'c' || (g % 5000), 'delivered', 2,
           jsonb_build_object('id', 'o' || g, 'shipping_address', jsonb_build_object(
               'country', CASE WHEN g % 2 = 0 THEN 'DE' ELSE 'FR' END,
               'postal_code', lpad(((g / 2) % 100)::text, 2, '0') || '123')),
           now() - interval '30 days' + (g % 100000) * interval '10 seconds',
           now()
    FROM generate_series(CAST(:lo AS integer), CAST(:hi AS integer)) g
    """
)
_SHIPMENTS = text(
    """
    INSERT INTO shipments (id, order_id, warehouse_id, status, created_at, updated_at)
    SELECT 'o' || g || '-1', 'o' || g, 'wh-' || ((g / 200) % CAST(:w AS integer)),
           'delivered', now(), now()
    FROM generate_series(CAST(:lo AS integer), CAST(:hi AS integer)) g
    """
)
_EVENTS = text(
    """
    INSERT INTO order_events (order_id, seq, type, status, data, created_at)
    SELECT 'o' || g, s.seq, s.type, s.status, jsonb_build_object('shipment_id', 'o' || g || '-1'),
           now() - interval '20 days'
             + CASE WHEN s.seq = 2 THEN (1 + (g % 7) * 0.5 + random()) * interval '1 day'
                    ELSE interval '0' END
    FROM generate_series(CAST(:lo AS integer), CAST(:hi AS integer)) g,
         (VALUES (1, 'shipment_dispatched', 'dispatched'),
                 (2, 'shipment_delivered', 'delivered')) AS s(seq, type, status)
    """
)
_WAREHOUSES = text(
    "INSERT INTO warehouses (id, name, country, lat, lon, priority, created_at) "
    "SELECT 'wh-' || w, 'wh-' || w, 'DE', 50 + w * 0.1, 10, w, now() "
    "FROM generate_series(0, CAST(:n AS integer) - 1) w"
)


async def _fill(engine: Any, parcels: int) -> float:
    started = time.perf_counter()
    async with engine.begin() as conn:
        await conn.execute(_WAREHOUSES, {"n": WAREHOUSES})
    for lo in range(1, parcels + 1, 50_000):
        hi = min(parcels, lo + 49_999)
        async with engine.begin() as conn:
            await conn.execute(_ORDERS, {"lo": lo, "hi": hi})
            await conn.execute(_SHIPMENTS, {"lo": lo, "hi": hi, "w": WAREHOUSES})
            await conn.execute(_EVENTS, {"lo": lo, "hi": hi})
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE orders"))
        await conn.execute(text("ANALYZE order_events"))
        await conn.execute(text("ANALYZE shipments"))
    return time.perf_counter() - started


async def run(parcels: int, reads: int) -> dict[str, Any]:
    import pgserver

    from oms.db.engine import make_engine
    from oms.db.migrate import migrate
    from oms.routing_learning import refresh
    from oms.settings import Settings
    from oms.store import routing as routing_store

    folder = Path(tempfile.mkdtemp(prefix="oms-bench-routing-", dir="/tmp"))
    server = pgserver.get_server(folder / "pgdata", cleanup_mode="delete")
    settings = Settings(database_url=server.get_uri(), home=folder)
    engine = make_engine(settings, pool_size=1)
    report: dict[str, Any] = {"parcels": parcels}
    try:
        await migrate(engine)
        report["fill_s"] = round(await _fill(engine, parcels), 1)
        runs = []
        for _ in range(3):
            done = await refresh(engine, 90.0)
            runs.append(done.seconds)
        report.update(learned_from=done.shipments, rows=done.rows, refresh_s=runs)
        ids = [f"wh-{w}" for w in range(5)]
        timings = []
        async with engine.connect() as conn:
            for n in range(reads):
                started = time.perf_counter()
                times, _ = await routing_store.facts_for(conn, ids, "DE", f"{n % 100:02d}")
                timings.append((time.perf_counter() - started) * 1000)
            await conn.rollback()
        timings.sort()
        report.update(
            reads=reads,
            rows_per_read=len(times),
            read_p50_ms=round(statistics.median(timings), 3),
            read_p99_ms=round(timings[int(0.99 * (len(timings) - 1))], 3),
        )
    finally:
        await engine.dispose()
        server.cleanup()
    return report


def render(r: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"{r['parcels']:,} delivered parcels written in {r['fill_s']} s",
            f"  refresh (oms routing learn): learned from {r['learned_from']:,} parcels, "
            f"{r['rows']:,} rows; {', '.join(f'{s} s' for s in r['refresh_s'])} (three runs)",
            f"  an allocation's read (5 warehouses, one region): {r['rows_per_read']} rows, "
            f"p50 {r['read_p50_ms']} ms, p99 {r['read_p99_ms']} ms over {r['reads']} reads",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parcels", type=int, default=200_000)
    parser.add_argument("--reads", type=int, default=2000)
    args = parser.parse_args()
    from oms.commands import exit_now

    print(render(asyncio.run(run(args.parcels, args.reads))), flush=True)
    exit_now(0)


if __name__ == "__main__":
    main()
