"""The PostgreSQL readings of ``python -m devtools.bench.costs`` on the test session's database:
a known insert and update show in the table's row counters, its size and the WAL, and an
open connection in the connection count."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from devtools.bench.costs_measure import connections, table_deltas, table_stats, wal_lsn
from tests.integration.helpers import unique


async def test_a_known_insert_shows_in_rows_bytes_wal_and_connections(pg_url: str) -> None:
    table = unique("costs_probe").replace("-", "_")
    reader = await asyncpg.connect(pg_url)
    writer = await asyncpg.connect(pg_url)
    try:
        await writer.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, body text)")
        before, wal_before = await table_stats(reader), await wal_lsn(reader)
        seen = await connections(reader)
        assert seen["connections"] >= 1  # the writer (the reader leaves itself out)
        await writer.executemany(
            f"INSERT INTO {table} VALUES ($1, $2)", [(i, "x" * 500) for i in range(300)]
        )
        await writer.execute(f"UPDATE {table} SET body = 'y' WHERE id < 10")
    finally:
        await writer.close()  # a backend that ends reports its counters
    try:
        delta: dict[str, int] = {}
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            delta = table_deltas(before, await table_stats(reader)).get(table, {})
            if delta.get("inserted") == 300:
                break
            await asyncio.sleep(0.2)
        assert delta["inserted"] == 300 and delta["updated"] == 10 and delta["deleted"] == 0
        assert delta["bytes"] >= 300 * 500  # heap, TOAST and the primary key's index
        assert await wal_lsn(reader) - wal_before >= 300 * 500
    finally:
        await reader.execute(f"DROP TABLE {table}")
        await reader.close()
