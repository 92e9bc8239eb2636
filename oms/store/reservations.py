"""``reservations`` and ``backorder_lines``: what orders hold of the stock, and what they
wait for.

A reservation step is one short transaction (``activities/inventory.py``): it takes the
order's advisory lock, locks the stock rows it touches in (warehouse, sku) order, so
concurrent orders queue on the rows instead of deadlocking, and writes the reservations,
the stock counters and their journal (``oms.store.stock.journal``) together. Each step only
moves reservations in the state it expects, so a retried step changes nothing the second
time. The backorder queue is served by order time: stock for a SKU goes to the earliest
waiting order first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from oms.domain.status import ReservationStatus
from oms.store.sql_enums import HELD
from oms.store.stock import journal

_ORDER_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('order-stock:' || :order_id))")
_EXISTING = text(
    "SELECT warehouse_id, sku, quantity, status FROM reservations WHERE order_id = :order_id "
    "ORDER BY warehouse_id, sku"
)
_ROUND_ROWS = text(
    "SELECT warehouse_id, sku, quantity, status, shipment_id FROM reservations "
    "WHERE order_id = :order_id AND round = :round ORDER BY shipment_id, warehouse_id, sku"
)
# Units that orders placed earlier wait for, per SKU: a later order must leave them.
_AHEAD_SQL = """
    SELECT sku, sum(quantity) AS units FROM backorder_lines
    WHERE sku = ANY(:skus) AND (ordered_at, order_id) < (:ordered_at, :order_id)
    GROUP BY sku
    """
_AHEAD = text(_AHEAD_SQL)
# The same, as one JSON object (to read or compare within another statement).
_AHEAD_OF = f"""(SELECT coalesce(jsonb_object_agg(sku, units), '{{}}'::jsonb) FROM (
        {_AHEAD_SQL}) AS earlier)"""
# The stock rows, locked, and (read in the same statement) the units held back for earlier
# backorders. That read's snapshot predates the lock, so the write checks it again.
_LOCK_STOCK = text(
    f"""
    SELECT s.warehouse_id, s.sku, s.on_hand - s.reserved AS available, w.priority,
           {_AHEAD_OF} AS ahead
    FROM stock s JOIN warehouses w ON w.id = s.warehouse_id
    WHERE s.sku = ANY(:skus)
    ORDER BY s.warehouse_id, s.sku
    FOR UPDATE OF s
    """
)
# A round's reservations in one statement: the stock counters, the reservation rows and
# the journal (one round trip while the stock rows are locked).
# Written only if the held-back units are still those the allocation assumed (a statement
# started under the lock sees every queue change made before it): else nothing, and the
# round is worked out again. Without that check (``ahead_seen`` NULL) always written.
_RESERVE_JOURNAL = journal(
    "SELECT w, sku, 'reserve', 0, q, 'order', :order_id, now() FROM wanted\n    RETURNING 1"
)
_RESERVE_ROWS = text(
    f"""
    WITH wanted AS (
        SELECT * FROM unnest(CAST(:ws AS text[]), CAST(:line_skus AS text[]),
                             CAST(:qs AS int[]), CAST(:sids AS text[])) AS t(w, sku, q, sid)
        WHERE CAST(:ahead_seen AS jsonb) IS NULL OR {_AHEAD_OF} = CAST(:ahead_seen AS jsonb)
    ), counted AS (
        UPDATE stock s SET reserved = s.reserved + wanted.q, updated_at = now()
        FROM wanted WHERE s.warehouse_id = wanted.w AND s.sku = wanted.sku
        RETURNING s.warehouse_id
    ), held AS (
        INSERT INTO reservations (order_id, warehouse_id, sku, quantity, status, created_at,
                                  updated_at, round, shipment_id)
        SELECT :order_id, w, sku, q, {HELD}, now(), now(), :round, sid FROM wanted
        RETURNING id
    )
    {_RESERVE_JOURNAL}
    """
)
_QUEUE = text(
    """
    INSERT INTO backorder_lines AS b (order_id, sku, quantity, ordered_at, created_at)
    VALUES (:order_id, :sku, :q, :ordered_at, now())
    ON CONFLICT (order_id, sku) DO UPDATE SET quantity = excluded.quantity
        WHERE b.quantity <> excluded.quantity
    """
)
_UNQUEUE = text("DELETE FROM backorder_lines WHERE order_id = :order_id AND NOT (sku = ANY(:keep))")
_QUEUED_AT = text("SELECT min(ordered_at) FROM backorder_lines WHERE order_id = :id")
# Which held rows a step moves: all of the order's, one warehouse's (orders from before
# rounds), or one shipment's. Rows from before rounds have no shipment id.
_WHICH = """
      AND (CAST(:w AS text) IS NULL OR warehouse_id = :w)
      AND (CAST(:sid AS text) IS NULL OR shipment_id = :sid OR shipment_id IS NULL)
"""
# Whether a step takes the units off on_hand: a commit does, unless the stock row holds a
# level synced from the source as of the time the goods left, or later (already without
# them); a release never does.
_FACTOR = """(CASE WHEN :on_hand_factor = 1 AND (CAST(:shipped_at AS timestamptz) IS NULL
              OR s.as_of IS NULL OR s.as_of < CAST(:shipped_at AS timestamptz))
         THEN 1 ELSE 0 END)"""
# The rows a step moves, and (when the whole order is released) the SKUs it waited for:
# locked in one statement, in the same order every step uses.
_LOCK_HELD = text(
    f"""
    SELECT s.warehouse_id, s.sku FROM stock s
    WHERE (s.warehouse_id, s.sku) IN (
        SELECT warehouse_id, sku FROM reservations
        WHERE order_id = :order_id AND status = {HELD} {_WHICH}
    ) OR (:everything AND s.sku IN (SELECT sku FROM backorder_lines WHERE order_id = :order_id))
    ORDER BY s.warehouse_id, s.sku
    FOR UPDATE OF s
    """
)
# One statement moves the held reservations and the stock counters together.
_SETTLE_JOURNAL = journal(
    """SELECT warehouse_id, sku, :kind, -quantity * factor, -quantity, :reason,
           :order_id, now()
    FROM changed
    RETURNING on_hand_delta, reserved_delta"""
)
_SETTLE = text(
    f"""
    WITH moved AS (
        UPDATE reservations SET status = :new_status, updated_at = now()
        WHERE order_id = :order_id AND status = {HELD} {_WHICH}
        RETURNING warehouse_id, sku, quantity
    ), changed AS (
        UPDATE stock s SET on_hand = s.on_hand - m.quantity * {_FACTOR},
                           reserved = s.reserved - m.quantity, updated_at = now()
        FROM moved m WHERE s.warehouse_id = m.warehouse_id AND s.sku = m.sku
        RETURNING s.warehouse_id, s.sku, m.quantity, {_FACTOR} AS factor
    )
    {_SETTLE_JOURNAL}
    """
)
# The backorder waker's reads, on its own asyncpg connection (the one that LISTENs).
_WAITING_QUEUE = (
    "SELECT sku, order_id, quantity FROM backorder_lines WHERE sku = ANY($1::text[]) "
    "ORDER BY sku, ordered_at, order_id"
)
_WAITED_FOR = "SELECT DISTINCT sku FROM backorder_lines"

# A reservation row to write: warehouse, sku, units, shipment id (None: an order from
# before rounds, whose rows belong to no one shipment).
Row = tuple[str, str, int, str | None]


async def lock_order(conn: AsyncConnection, order_id: str) -> None:
    """The order's stock lock, until the transaction ends: its steps run one at a time."""
    await conn.execute(_ORDER_LOCK, {"order_id": order_id})


async def of_order(conn: AsyncConnection, order_id: str) -> list[Any]:
    """The order's reservations (warehouse_id, sku, quantity, status)."""
    return list((await conn.execute(_EXISTING, {"order_id": order_id})).all())


async def of_round(conn: AsyncConnection, order_id: str, round_: int) -> list[Any]:
    """A round's reservations (warehouse_id, sku, quantity, status, shipment_id)."""
    params = {"order_id": order_id, "round": round_}
    return list((await conn.execute(_ROUND_ROWS, params)).all())


async def lock_stock(
    conn: AsyncConnection, skus: Sequence[str], ordered_at: datetime, order_id: str
) -> list[Any]:
    """Every stock row of ``skus``, locked (warehouse_id, sku, available, priority), and in
    ``ahead`` of each, the units held back for backorders placed before the order."""
    params = {"skus": list(skus), "ordered_at": ordered_at, "order_id": order_id}
    return list((await conn.execute(_LOCK_STOCK, params)).all())


async def write_round(
    conn: AsyncConnection,
    order_id: str,
    round_: int,
    rows: Sequence[Row],
    ordered_at: datetime,
    ahead: dict[str, int] | None,
) -> bool:
    """Reserve ``rows`` (stock counters, reservation rows, journal), if the held-back units
    are still ``ahead`` (None: no check). False if they were not, and nothing was written."""
    if not rows:
        return True
    columns = list(zip(*rows, strict=True))
    written = (
        await conn.execute(
            _RESERVE_ROWS,
            {
                "order_id": order_id,
                "round": round_,
                "ws": list(columns[0]),
                "line_skus": list(columns[1]),
                "skus": sorted(set(columns[1])),
                "qs": list(columns[2]),
                "sids": list(columns[3]),
                "ordered_at": ordered_at,
                "ahead_seen": None if ahead is None else json.dumps(ahead),
            },
        )
    ).all()
    return len(written) == len(rows)


async def ahead_of(
    conn: AsyncConnection, skus: Sequence[str], ordered_at: datetime, order_id: str
) -> dict[str, int]:
    """Units that orders placed before ``ordered_at`` wait for, per SKU."""
    params = {"skus": list(skus), "ordered_at": ordered_at, "order_id": order_id}
    return {r.sku: int(r.units) for r in await conn.execute(_AHEAD, params)}


async def queue(
    conn: AsyncConnection, order_id: str, waiting: dict[str, int], ordered_at: datetime
) -> None:
    """The order waits for ``waiting`` (units by SKU) and for nothing else."""
    await unqueue(conn, order_id, keep=sorted(waiting))
    if waiting:
        await conn.execute(
            _QUEUE,
            [
                {"order_id": order_id, "sku": sku, "q": q, "ordered_at": ordered_at}
                for sku, q in sorted(waiting.items())
            ],
        )


async def unqueue(conn: AsyncConnection, order_id: str, keep: Sequence[str] = ()) -> None:
    """Take the order out of the backorder queue, but for the SKUs in ``keep``."""
    await conn.execute(_UNQUEUE, {"order_id": order_id, "keep": list(keep)})


async def queued_at(conn: AsyncConnection, order_id: str) -> datetime | None:
    """When the order joined the backorder queue, if it is in it."""
    queued: datetime | None = (await conn.execute(_QUEUED_AT, {"id": order_id})).scalar()
    return queued


async def settle(
    conn: AsyncConnection,
    order_id: str,
    *,
    warehouse: str | None,
    shipment: str | None,
    commit: bool,
    kind: str,
    reason: str,
    shipped_at: datetime | None,
    everything: bool,
) -> list[Any]:
    """Move the order's held reservations (all, one warehouse's or one shipment's) to
    committed or released, with the stock counters and the journal; with ``everything``,
    also take the order out of the backorder queue. The journal rows written
    (on_hand_delta, reserved_delta)."""
    which = {"order_id": order_id, "w": warehouse, "sid": shipment}
    await conn.execute(_LOCK_HELD, {**which, "everything": everything})
    rows = (
        await conn.execute(
            _SETTLE,
            {
                **which,
                "kind": kind,
                "reason": reason,
                "new_status": (
                    ReservationStatus.COMMITTED if commit else ReservationStatus.RELEASED
                ).value,
                "on_hand_factor": 1 if commit else 0,
                "shipped_at": shipped_at,
            },
        )
    ).all()
    if everything:
        await unqueue(conn, order_id)
    return list(rows)


async def waited_for(conn: asyncpg.Connection) -> list[str]:
    """Every SKU some order waits for (the waker's sweep)."""
    return [r["sku"] for r in await conn.fetch(_WAITED_FOR)]


async def waiting_queue(
    conn: asyncpg.Connection, skus: Sequence[str]
) -> list[tuple[str, str, int]]:
    """The queue of each SKU: (sku, order_id, units), oldest order first."""
    return [
        (r["sku"], r["order_id"], r["quantity"]) for r in await conn.fetch(_WAITING_QUEUE, skus)
    ]
