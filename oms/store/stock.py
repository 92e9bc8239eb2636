"""``stock`` and its journal ``stock_movements``.

Every change to stock is journalled, and every journal row is written by a statement built
with ``journal()``: the one way to write a movement, whether on its own (a level set or
adjusted through the API) or as the last part of a statement that changes the counters (a
reservation round and a settle in ``oms.store.reservations``, a sync batch in
``oms.store.stock_sync``). The ``reserved <= on_hand`` CHECK holds whatever a statement
here does: a change that would break it fails, or (with a ``WHERE``) changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oms.db.engine import one_statement

_JOURNAL = (
    "INSERT INTO stock_movements (warehouse_id, sku, kind, on_hand_delta, reserved_delta, "
    "reason, order_id, created_at)"
)


def journal(rows: str) -> str:
    """The statement (or the data-modifying CTE) that journals ``rows``: a ``SELECT`` or
    ``VALUES`` giving warehouse_id, sku, kind, on_hand_delta, reserved_delta, reason,
    order_id and created_at, in that order."""
    return f"{_JOURNAL}\n{rows}"


_MOVEMENT = text(journal("VALUES (:w, :sku, :kind, :delta, 0, :reason, CAST(NULL AS text), now())"))
_SET = text(
    """
    WITH before AS (SELECT on_hand FROM stock WHERE warehouse_id = :w AND sku = :sku)
    INSERT INTO stock AS s (warehouse_id, sku, on_hand, reserved, updated_at)
    VALUES (:w, :sku, :on_hand, 0, now())
    ON CONFLICT (warehouse_id, sku) DO UPDATE
        SET on_hand = excluded.on_hand, updated_at = now()
        WHERE s.reserved <= excluded.on_hand
    RETURNING s.warehouse_id, s.sku, s.on_hand, s.reserved,
              s.on_hand - COALESCE((SELECT on_hand FROM before), 0) AS delta
    """
)
_ADJUST_UP = text(
    """
    INSERT INTO stock AS s (warehouse_id, sku, on_hand, reserved, updated_at)
    VALUES (:w, :sku, :delta, 0, now())
    ON CONFLICT (warehouse_id, sku) DO UPDATE
        SET on_hand = s.on_hand + :delta, updated_at = now()
        WHERE s.on_hand + :delta <= :max
    RETURNING s.warehouse_id, s.sku, s.on_hand, s.reserved
    """
)
_ADJUST_DOWN = text(
    """
    UPDATE stock SET on_hand = on_hand + :delta, updated_at = now()
    WHERE warehouse_id = :w AND sku = :sku AND on_hand + :delta >= reserved
    RETURNING warehouse_id, sku, on_hand, reserved
    """
)
_CURRENT = text("SELECT on_hand, reserved FROM stock WHERE warehouse_id = :w AND sku = :sku")
_OF_SKU = text(
    "SELECT s.warehouse_id, s.sku, s.on_hand, s.reserved, s.as_of, s.source "
    "FROM stock s "
    "JOIN warehouses w ON w.id = s.warehouse_id WHERE s.sku = :sku "
    "ORDER BY w.priority, s.warehouse_id"
)
_KNOWN_SKUS = text("SELECT DISTINCT sku FROM stock WHERE sku = ANY(:skus)")
_AVAILABLE = (
    "SELECT sku, sum(on_hand - reserved) AS available FROM stock WHERE sku = ANY($1::text[]) "
    "GROUP BY sku"
)


async def record_movement(
    conn: AsyncConnection, warehouse_id: str, sku: str, kind: str, delta: int, reason: str | None
) -> None:
    """Journal a change of ``on_hand`` by ``delta`` made by hand (``set``, ``adjust``)."""
    await conn.execute(
        _MOVEMENT,
        {"w": warehouse_id, "sku": sku, "kind": kind, "delta": delta, "reason": reason},
    )


async def set_on_hand(conn: AsyncConnection, warehouse_id: str, sku: str, on_hand: int) -> Any:
    """Set the level, creating the row; None (nothing changed) when ``on_hand`` is below
    what is reserved. The row has ``delta``, the change, for the journal."""
    params = {"w": warehouse_id, "sku": sku, "on_hand": on_hand}
    return (await conn.execute(_SET, params)).first()


async def adjust_on_hand(
    conn: AsyncConnection, warehouse_id: str, sku: str, delta: int, maximum: int
) -> Any:
    """Add ``delta`` to ``on_hand``; None when the result would pass ``maximum`` or drop
    below what is reserved. Only a positive delta may create the row."""
    params = {"w": warehouse_id, "sku": sku, "delta": delta}
    if delta > 0:
        return (await conn.execute(_ADJUST_UP, {**params, "max": maximum})).first()
    return (await conn.execute(_ADJUST_DOWN, params)).first()


async def current(conn: AsyncConnection, warehouse_id: str, sku: str) -> Any:
    """``on_hand`` and ``reserved`` of the pair, or None."""
    return (await conn.execute(_CURRENT, {"w": warehouse_id, "sku": sku})).first()


async def of_sku(engine: AsyncEngine, sku: str) -> list[Any]:
    """The SKU's stock rows, by warehouse priority."""
    async with engine.connect() as conn:
        return list((await conn.execute(_OF_SKU, {"sku": sku})).all())


async def known_skus(engine: AsyncEngine, skus: Sequence[str]) -> set[str]:
    """Which of ``skus`` some warehouse has a stock row for (one autocommit statement)."""
    async with one_statement(engine) as conn:
        return {r.sku for r in await conn.execute(_KNOWN_SKUS, {"skus": list(skus)})}


async def available_by_sku(conn: asyncpg.Connection, skus: Sequence[str]) -> dict[str, int]:
    """Units available per SKU over every warehouse, on the backorder waker's own
    (asyncpg, LISTEN) connection."""
    return {r["sku"]: int(r["available"]) for r in await conn.fetch(_AVAILABLE, skus)}


# Absolute levels from a source, applied as a set (the rules are in ``oms.stock_sync``).
# The batch, with the index of the level that counts for each pair (newest, later on a tie)
# and whether its warehouse exists. Dropped at commit or rollback.
_LOAD = text(
    """
    CREATE TEMPORARY TABLE stock_sync_batch ON COMMIT DROP AS
    SELECT b.idx, b.warehouse_id, b.sku, b.on_hand, b.as_of,
           first_value(b.idx) OVER (
               PARTITION BY b.warehouse_id, b.sku ORDER BY b.as_of DESC, b.idx DESC
           ) AS newest,
           EXISTS (SELECT 1 FROM warehouses w WHERE w.id = b.warehouse_id) AS known
    FROM unnest(CAST(:idx AS integer[]), CAST(:warehouse AS text[]), CAST(:sku AS text[]),
                CAST(:on_hand AS integer[]), CAST(:as_of AS timestamptz[]))
         AS b(idx, warehouse_id, sku, on_hand, as_of)
    """
)
# Without statistics the planner takes a temporary table for a small one; and sorts of a
# big batch stay in memory rather than spill to disk (for this transaction only).
_ANALYZE = text("ANALYZE stock_sync_batch")
_WORK_MEM = text("SET LOCAL work_mem = '64MB'")
# The rows the batch will write, locked in (warehouse, sku) order so that two syncs, or a
# sync and a reservation, never deadlock; what they held before, for the journal and the
# stale check.
_LOCK = text(
    """
    CREATE TEMPORARY TABLE stock_sync_before ON COMMIT DROP AS
    SELECT s.warehouse_id, s.sku, s.on_hand, s.as_of
    FROM stock s
    JOIN stock_sync_batch b
      ON b.warehouse_id = s.warehouse_id AND b.sku = s.sku AND b.idx = b.newest AND b.known
    ORDER BY s.warehouse_id, s.sku
    FOR UPDATE OF s
    """
)
_DROP = text("DROP TABLE stock_sync_batch, stock_sync_before")
# The WHERE on the conflict keeps a newer level that another transaction applied between
# the lock and here (a row that did not exist yet could not be locked).
_SYNC_JOURNAL = journal(
    """
        SELECT a.warehouse_id, a.sku, 'sync', a.on_hand - COALESCE(o.on_hand, 0), 0,
               :reason, CAST(NULL AS text), now()
        FROM applied a
        LEFT JOIN stock_sync_before o ON o.warehouse_id = a.warehouse_id AND o.sku = a.sku
        WHERE a.on_hand <> COALESCE(o.on_hand, 0)
        ORDER BY a.warehouse_id, a.sku"""
)
_APPLY = text(
    f"""
    WITH applied AS (
        INSERT INTO stock AS s (warehouse_id, sku, on_hand, reserved, updated_at, as_of, source)
        SELECT b.warehouse_id, b.sku, b.on_hand, 0, now(), b.as_of, :source
        FROM stock_sync_batch b
        LEFT JOIN stock_sync_before o ON o.warehouse_id = b.warehouse_id AND o.sku = b.sku
        WHERE b.idx = b.newest AND b.known AND (o.as_of IS NULL OR b.as_of > o.as_of)
        ORDER BY b.warehouse_id, b.sku
        ON CONFLICT (warehouse_id, sku) DO UPDATE
            SET on_hand = GREATEST(excluded.on_hand, s.reserved), updated_at = now(),
                as_of = excluded.as_of, source = excluded.source
            WHERE s.as_of IS NULL OR excluded.as_of > s.as_of
        RETURNING s.warehouse_id, s.sku, s.on_hand, s.reserved
    ), journal AS (
        {_SYNC_JOURNAL}
    )
    SELECT b.idx, b.warehouse_id, b.sku, b.on_hand AS level, b.known, b.newest,
           o.as_of AS held_as_of, a.on_hand, a.reserved
    FROM stock_sync_batch b
    LEFT JOIN stock_sync_before o ON o.warehouse_id = b.warehouse_id AND o.sku = b.sku
    LEFT JOIN applied a
      ON a.warehouse_id = b.warehouse_id AND a.sku = b.sku AND b.idx = b.newest
    ORDER BY b.idx
    """
)


async def apply_levels(
    conn: AsyncConnection,
    warehouse_ids: Sequence[str],
    skus: Sequence[str],
    on_hands: Sequence[int],
    as_ofs: Sequence[Any],
    source: str,
) -> list[Any]:
    """Apply a batch of absolute levels in the caller's transaction, whatever its size:
    loaded into a temporary table with ``unnest()``, the stock rows they touch locked in
    (warehouse, sku) order, one ``INSERT ... ON CONFLICT`` applying them and its journal
    in the same statement. One row per level, by its index: ``level``, ``known``,
    ``newest``, ``held_as_of``, and ``on_hand``/``reserved`` when it was applied."""
    await conn.execute(
        _LOAD,
        {
            "idx": list(range(len(warehouse_ids))),
            "warehouse": list(warehouse_ids),
            "sku": list(skus),
            "on_hand": list(on_hands),
            "as_of": list(as_ofs),
        },
    )
    await conn.execute(_ANALYZE)
    await conn.execute(_WORK_MEM)
    await conn.execute(_LOCK)
    rows = list(await conn.execute(_APPLY, {"source": source, "reason": f"sync from {source}"}))
    await conn.execute(_DROP)  # another batch may follow in the same transaction
    return rows
