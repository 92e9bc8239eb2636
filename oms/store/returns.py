"""``returns``, ``return_lines``, ``refunds``, ``refund_parts`` and ``store_credits``
(docs/returns.md), and the steps they add to an order's timeline.

Every check that two requests could race is made under the order's row lock
(``lock_order``): the units already in returns, and the money already refunded, are read
and the new return or refund written in the same transaction, so two concurrent returns
can never take back more than was delivered, nor two refunds more than was captured.

A return's or a refund's step goes on the order's timeline as the next ``seq`` (read under
the same lock), once per step: its data carries a ``key`` and a step already there is not
written again, so a retried activity adds nothing. A delivered order's workflow has
written its last step; an order still on its way (one of its shipments delivered) goes on
writing its own, so the steps of its returns and refunds are numbered from
``AFTER_SALES_SEQ`` on, clear of the workflow's numbers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oms.domain.status import TERMINAL
from oms.store import stock

_LOCK_ORDER = text(
    "SELECT id, channel, external_id, customer_id, status, view FROM orders "
    "WHERE id = :id FOR UPDATE"
)
# When the order was delivered; an order on its way, when its last shipment was.
_DELIVERED_AT = text(
    "SELECT COALESCE(max(created_at) FILTER (WHERE type = 'order_delivered'), "
    "max(created_at) FILTER (WHERE type = 'shipment_delivered')) FROM order_events "
    "WHERE order_id = :id AND type IN ('order_delivered', 'shipment_delivered')"
)
_RETURNED = text(
    """
    SELECT l.sku, sum(l.quantity) AS quantity FROM return_lines l
    JOIN returns r ON r.id = l.return_id
    WHERE r.order_id = :id AND r.status <> 'rejected'
    GROUP BY l.sku
    """
)
_COUNT_RETURNS = text("SELECT count(*) FROM returns WHERE order_id = :id")
_COUNT_REFUNDS = text("SELECT count(*) FROM refunds WHERE order_id = :id AND return_id IS NULL")
_INSERT_RETURN = text(
    """
    INSERT INTO returns (id, order_id, status, reason, resolution, requested_by, note,
                         warehouse_id, created_at, updated_at)
    VALUES (:id, :order_id, 'requested', :reason, :resolution, :by, :note, :warehouse_id,
            now(), now())
    """
)
_INSERT_LINE = text(
    "INSERT INTO return_lines (return_id, sku, quantity) VALUES (:return_id, :sku, :quantity)"
)
_RETURN = text(
    "SELECT id, order_id, status, reason, resolution, requested_by, note, warehouse_id, "
    "decided_by, decision_note, tracking_number, refund_id, exchange_order_id, created_at, "
    "updated_at FROM returns WHERE id = :id"
)
_RETURNS_OF_ORDER = text(
    "SELECT id, order_id, status, reason, resolution, requested_by, note, warehouse_id, "
    "decided_by, decision_note, tracking_number, refund_id, exchange_order_id, created_at, "
    "updated_at FROM returns WHERE order_id = :id ORDER BY created_at, id"
)
_BY_STATUS = (
    "SELECT id, order_id, status, reason, resolution, requested_by, note, warehouse_id, "
    "decided_by, decision_note, tracking_number, refund_id, exchange_order_id, created_at, "
    "updated_at FROM returns WHERE (CAST(:status AS text) IS NULL OR status = :status) "
)
_RETURNS_BY_STATUS = text(_BY_STATUS + "ORDER BY created_at, id LIMIT :limit")
_RETURNS_BY_STATUS_NEWEST = text(_BY_STATUS + "ORDER BY created_at DESC, id DESC LIMIT :limit")
_LINES = text(
    "SELECT return_id, sku, quantity, restockable, damaged, missing, received_at, restocked "
    "FROM return_lines WHERE return_id = ANY(:ids) ORDER BY return_id, sku"
)
_SET_STATUS = text(
    """
    UPDATE returns SET status = :status, updated_at = now(),
        decided_by = COALESCE(:decided_by, decided_by),
        decision_note = COALESCE(:decision_note, decision_note)
    WHERE id = :id
    """
)
_SET_FIELDS = text(
    """
    UPDATE returns SET tracking_number = COALESCE(:tracking, tracking_number),
        refund_id = COALESCE(:refund_id, refund_id),
        exchange_order_id = COALESCE(:exchange, exchange_order_id), updated_at = now()
    WHERE id = :id
    """
)
_LOCK_RETURN = text("SELECT id, order_id, status FROM returns WHERE id = :id FOR UPDATE")
_RECEIVE_LINE = text(
    """
    UPDATE return_lines SET restockable = :restockable, damaged = :damaged,
        missing = :missing, received_at = now()
    WHERE return_id = :return_id AND sku = :sku AND received_at IS NULL
    """
)
_TO_RESTOCK = text(
    "SELECT sku, restockable FROM return_lines "
    "WHERE return_id = :id AND received_at IS NOT NULL AND NOT restocked FOR UPDATE"
)
_RESTOCKED = text("UPDATE return_lines SET restocked = true WHERE return_id = :id AND sku = :sku")
_RESTOCK = text(
    """
    INSERT INTO stock AS s (warehouse_id, sku, on_hand, reserved, updated_at)
    VALUES (:w, :sku, :n, 0, now())
    ON CONFLICT (warehouse_id, sku) DO UPDATE SET on_hand = s.on_hand + :n, updated_at = now()
    """
)
_RESTOCK_JOURNAL = text(
    stock.journal("VALUES (:w, :sku, 'return', :n, 0, :reason, :order_id, now())")
)
# An order still on its way (a shipment delivered, another not yet) has a workflow that
# goes on numbering its own timeline entries: a return's or a refund's step is then
# numbered from AFTER_SALES_SEQ on, so it never takes a number the order's workflow will
# write; it is listed after the order's own steps.
AFTER_SALES_SEQ = 1_000_000
_TERMINAL = ", ".join(f"'{status}'" for status in sorted(TERMINAL))
_APPEND = text(
    f"""
    INSERT INTO order_events (order_id, seq, type, status, data, created_at)
    SELECT o.id,
           GREATEST(COALESCE((SELECT max(seq) FROM order_events WHERE order_id = o.id), 0),
                    CASE WHEN o.status IN ({_TERMINAL}) THEN 0 ELSE {AFTER_SALES_SEQ} END) + 1,
           CAST(:type AS varchar), o.status, CAST(:data AS jsonb), now()
    FROM orders o
    WHERE o.id = :id AND NOT EXISTS (
        SELECT 1 FROM order_events e
        WHERE e.order_id = :id AND e.type = CAST(:type AS varchar)
          AND e.data ->> 'key' = CAST(:key AS text))
    """
)
_LOCK_ONLY = text("SELECT 1 FROM orders WHERE id = :id FOR UPDATE")

# Refunds ---------------------------------------------------------------------------------

_CAPTURED = text(
    "SELECT COALESCE(sum(amount), 0) FROM payments "
    "WHERE order_id = :id AND kind = 'capture' AND status = 'succeeded'"
)
# What refunds have taken or hold of the order's captures: a pending or succeeded refund
# its whole amount, a failed one what it did give back.
_PROMISED = text(
    "SELECT COALESCE(sum(CASE WHEN status = 'failed' THEN refunded ELSE amount END), 0) "
    "FROM refunds WHERE order_id = :id"
)
_REFUNDED = text(
    "SELECT COALESCE(sum(refunded), 0) FROM refunds WHERE order_id = :id AND status <> 'pending'"
)
_INSERT_REFUND = text(
    """
    INSERT INTO refunds (id, order_id, return_id, amount, currency, status, reason, note,
                         requested_by, created_at, updated_at)
    VALUES (:id, :order_id, :return_id, :amount, :currency, 'pending', :reason, :note, :by,
            now(), now())
    ON CONFLICT (id) DO NOTHING
    """
)
_REFUND = text(
    "SELECT id, order_id, return_id, amount, currency, status, reason, note, requested_by, "
    "refunded, error, created_at, updated_at FROM refunds WHERE id = :id"
)
_REFUNDS_OF_ORDER = text(
    "SELECT id, order_id, return_id, amount, currency, status, reason, note, requested_by, "
    "refunded, error, created_at, updated_at FROM refunds WHERE order_id = :id "
    "ORDER BY created_at, id"
)
_PARTS = text(
    "SELECT part, capture_key, amount FROM refund_parts WHERE refund_id = :id ORDER BY part"
)
# Each succeeded capture with what is left of it: its amount less the parts drawn on it by
# refunds that are pending or succeeded, or whose part the gateway did give back.
_CAPTURES_LEFT = text(
    """
    SELECT c.idempotency_key AS key,
           c.amount - COALESCE((
               SELECT sum(p.amount) FROM refund_parts p JOIN refunds r ON r.id = p.refund_id
               WHERE p.capture_key = c.idempotency_key
                 AND (r.status <> 'failed' OR EXISTS (
                     SELECT 1 FROM payments g
                     WHERE g.idempotency_key = p.refund_id || '-' || p.part
                       AND g.status = 'succeeded'))), 0) AS left_amount
    FROM payments c
    WHERE c.order_id = :id AND c.kind = 'capture' AND c.status = 'succeeded'
    ORDER BY c.created_at, c.id
    """
)
_INSERT_PART = text(
    "INSERT INTO refund_parts (refund_id, part, capture_key, amount) "
    "VALUES (:id, :part, :key, :amount)"
)
_FINISH_REFUND = text(
    """
    UPDATE refunds SET status = :status, refunded = :refunded, error = :error,
        updated_at = now()
    WHERE id = :id AND status = 'pending'
    """
)
_AUTHORIZATION = text(
    "SELECT gateway_reference FROM payments WHERE order_id = :id AND kind = 'authorize' "
    "AND status = 'succeeded' ORDER BY id LIMIT 1"
)
_CREDIT = text(
    """
    INSERT INTO store_credits (return_id, order_id, customer_id, amount, currency, created_at)
    VALUES (:return_id, :order_id, :customer_id, :amount, :currency, now())
    ON CONFLICT (return_id) DO NOTHING
    """
)
_CREDIT_OF = text(
    "SELECT return_id, order_id, customer_id, amount, currency, created_at "
    "FROM store_credits WHERE return_id = :id"
)


# --- the order, under its lock -------------------------------------------------------------


async def lock_order(conn: AsyncConnection, order_id: str) -> Any:
    """The order's row (id, channel, external_id, customer_id, status, view), locked
    until the caller's transaction ends; None when there is no such order."""
    return (await conn.execute(_LOCK_ORDER, {"id": order_id})).first()


async def delivered_at(conn: AsyncConnection, order_id: str) -> Any:
    """When the order was recorded delivered (its timeline), or, for an order still on
    its way, when its last delivered shipment was; None when nothing was delivered."""
    return (await conn.execute(_DELIVERED_AT, {"id": order_id})).scalar()


async def returned_units(conn: AsyncConnection, order_id: str) -> dict[str, int]:
    """Units per SKU in the order's returns that were not rejected."""
    rows = (await conn.execute(_RETURNED, {"id": order_id})).all()
    return {r.sku: int(r.quantity) for r in rows}


async def next_return_id(conn: AsyncConnection, order_id: str) -> str:
    count = int((await conn.execute(_COUNT_RETURNS, {"id": order_id})).scalar_one())
    return f"{order_id}-r{count + 1}"


async def next_refund_id(conn: AsyncConnection, order_id: str) -> str:
    count = int((await conn.execute(_COUNT_REFUNDS, {"id": order_id})).scalar_one())
    return f"{order_id}-f{count + 1}"


async def insert_return(
    conn: AsyncConnection,
    *,
    return_id: str,
    order_id: str,
    reason: str,
    resolution: str,
    by: str,
    note: str | None,
    warehouse_id: str,
    lines: Sequence[tuple[str, int]],
) -> None:
    await conn.execute(
        _INSERT_RETURN,
        {
            "id": return_id,
            "order_id": order_id,
            "reason": reason,
            "resolution": resolution,
            "by": by,
            "note": note,
            "warehouse_id": warehouse_id,
        },
    )
    for sku, quantity in lines:
        await conn.execute(_INSERT_LINE, {"return_id": return_id, "sku": sku, "quantity": quantity})


async def append_event(
    conn: AsyncConnection, order_id: str, type_: str, key: str, data: dict[str, Any]
) -> None:
    """The order's next timeline entry, once per (type, key), in the caller's transaction
    (which must hold the order's lock: ``lock_order``)."""
    body = json.dumps({**data, "key": key}, default=str)
    await conn.execute(_APPEND, {"id": order_id, "type": type_, "key": key, "data": body})


async def add_event(
    engine: AsyncEngine, order_id: str, type_: str, key: str, data: dict[str, Any]
) -> None:
    """:func:`append_event` in a transaction of its own."""
    async with engine.begin() as conn:
        await conn.execute(_LOCK_ONLY, {"id": order_id})
        await append_event(conn, order_id, type_, key, data)


# --- reading returns -------------------------------------------------------------------------


async def _with_lines(conn: AsyncConnection, rows: Sequence[Any]) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    lines: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for line in (await conn.execute(_LINES, {"ids": ids})).all():
            lines[line.return_id].append(
                {
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "restockable": line.restockable,
                    "damaged": line.damaged,
                    "missing": line.missing,
                    "received_at": line.received_at.isoformat() if line.received_at else None,
                    "restocked": line.restocked,
                }
            )
    return [{**r._asdict(), "lines": lines[r.id]} for r in rows]


async def get(engine: AsyncEngine, return_id: str) -> dict[str, Any] | None:
    """The return with its lines, or None."""
    async with engine.connect() as conn:
        row = (await conn.execute(_RETURN, {"id": return_id})).first()
        if row is None:
            return None
        return (await _with_lines(conn, [row]))[0]


async def of_order(engine: AsyncEngine, order_id: str) -> list[dict[str, Any]]:
    """The order's returns with their lines, oldest first."""
    async with engine.connect() as conn:
        rows = (await conn.execute(_RETURNS_OF_ORDER, {"id": order_id})).all()
        return await _with_lines(conn, rows)


async def by_status(
    engine: AsyncEngine, status: str | None, limit: int, *, newest: bool = False
) -> list[dict[str, Any]]:
    """Returns in ``status`` (any when None), oldest first (the API's queue) or newest
    first (the console's)."""
    query = _RETURNS_BY_STATUS_NEWEST if newest else _RETURNS_BY_STATUS
    async with engine.connect() as conn:
        rows = (await conn.execute(query, {"status": status, "limit": limit})).all()
        return await _with_lines(conn, rows)


# --- a return's steps ----------------------------------------------------------------------


async def record_step(
    engine: AsyncEngine,
    *,
    return_id: str,
    order_id: str,
    status: str,
    type_: str,
    data: dict[str, Any],
    decided_by: str | None = None,
    decision_note: str | None = None,
) -> None:
    """The return moves to ``status`` and the order's timeline gets ``type_``, together."""
    async with engine.begin() as conn:
        await conn.execute(_LOCK_ONLY, {"id": order_id})
        await conn.execute(
            _SET_STATUS,
            {
                "id": return_id,
                "status": status,
                "decided_by": decided_by,
                "decision_note": decision_note,
            },
        )
        await append_event(conn, order_id, type_, return_id, {"return_id": return_id, **data})


async def set_fields(
    engine: AsyncEngine,
    return_id: str,
    *,
    tracking: str | None = None,
    refund_id: str | None = None,
    exchange_order_id: str | None = None,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            _SET_FIELDS,
            {
                "id": return_id,
                "tracking": tracking,
                "refund_id": refund_id,
                "exchange": exchange_order_id,
            },
        )


async def receive(
    engine: AsyncEngine,
    *,
    return_id: str,
    order_id: str,
    warehouse_id: str,
    counts: dict[str, tuple[int, int, int]],
) -> tuple[dict[str, tuple[int, int, int]], int]:
    """The warehouse's counts (sku -> restockable, damaged, missing) on the return's lines
    (a line counted before keeps its first counts), and every counted line's restockable
    units back on the warehouse's ``on_hand`` with a ``return`` movement, once: a line is
    marked restocked in the same transaction. Answers the counts as recorded and the
    units restocked now."""
    async with engine.begin() as conn:
        await conn.execute(_LOCK_RETURN, {"id": return_id})
        for sku, (restockable, damaged, missing) in counts.items():
            await conn.execute(
                _RECEIVE_LINE,
                {
                    "return_id": return_id,
                    "sku": sku,
                    "restockable": restockable,
                    "damaged": damaged,
                    "missing": missing,
                },
            )
        restocked = 0
        for line in (await conn.execute(_TO_RESTOCK, {"id": return_id})).all():
            if line.restockable:
                params = {"w": warehouse_id, "sku": line.sku, "n": line.restockable}
                await conn.execute(_RESTOCK, params)
                await conn.execute(
                    _RESTOCK_JOURNAL,
                    {**params, "reason": f"return {return_id}", "order_id": order_id},
                )
                restocked += line.restockable
            await conn.execute(_RESTOCKED, {"id": return_id, "sku": line.sku})
        recorded = {
            line.sku: (line.restockable or 0, line.damaged or 0, line.missing or 0)
            for line in (await conn.execute(_LINES, {"ids": [return_id]})).all()
            if line.received_at is not None
        }
    return recorded, restocked


async def grant_credit(
    engine: AsyncEngine,
    *,
    return_id: str,
    order_id: str,
    customer_id: str,
    amount: Decimal,
    currency: str,
) -> Any:
    """The return's store credit, written once; the row as it stands."""
    async with engine.begin() as conn:
        await conn.execute(
            _CREDIT,
            {
                "return_id": return_id,
                "order_id": order_id,
                "customer_id": customer_id,
                "amount": amount,
                "currency": currency,
            },
        )
        return (await conn.execute(_CREDIT_OF, {"id": return_id})).first()


# --- refunds ---------------------------------------------------------------------------------


async def refundable(conn: AsyncConnection, order_id: str) -> Decimal:
    """What may still be refunded: the order's captures less every refund's hold on them
    (call under the order's lock to act on it)."""
    captured = Decimal((await conn.execute(_CAPTURED, {"id": order_id})).scalar_one())
    promised = Decimal((await conn.execute(_PROMISED, {"id": order_id})).scalar_one())
    return captured - promised


async def open_refund(
    engine: AsyncEngine,
    *,
    refund_id: str,
    order_id: str,
    return_id: str | None,
    amount: Decimal,
    currency: str,
    reason: str,
    by: str,
) -> Decimal:
    """A pending refund of ``amount``, at most what the order may still refund (checked
    under its lock); nothing when that is 0. Written once per id: a second call answers
    the amount of the first. The amount written, or 0."""
    async with engine.begin() as conn:
        await conn.execute(_LOCK_ONLY, {"id": order_id})
        existing = (await conn.execute(_REFUND, {"id": refund_id})).first()
        if existing is not None:
            return Decimal(existing.amount)
        amount = min(amount, await refundable(conn, order_id))
        if amount <= 0:
            return Decimal(0)
        await insert_refund(
            conn,
            refund_id=refund_id,
            order_id=order_id,
            return_id=return_id,
            amount=amount,
            currency=currency,
            reason=reason,
            note=None,
            by=by,
        )
        return amount


async def refunded_total(engine: AsyncEngine, order_id: str) -> Decimal:
    """What the gateway gave back for the order so far."""
    async with engine.connect() as conn:
        return Decimal((await conn.execute(_REFUNDED, {"id": order_id})).scalar_one())


async def insert_refund(
    conn: AsyncConnection,
    *,
    refund_id: str,
    order_id: str,
    return_id: str | None,
    amount: Decimal,
    currency: str,
    reason: str,
    note: str | None,
    by: str,
) -> None:
    """A pending refund (written once per id)."""
    await conn.execute(
        _INSERT_REFUND,
        {
            "id": refund_id,
            "order_id": order_id,
            "return_id": return_id,
            "amount": amount,
            "currency": currency,
            "reason": reason,
            "note": note,
            "by": by,
        },
    )


async def get_refund(engine: AsyncEngine, refund_id: str) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(_REFUND, {"id": refund_id})).first()


async def refunds_of_order(engine: AsyncEngine, order_id: str) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(_REFUNDS_OF_ORDER, {"id": order_id})).all())


async def refund_parts(
    engine: AsyncEngine, refund_id: str, order_id: str, amount: Decimal, plan: Any
) -> list[Any]:
    """The refund's parts (part, capture_key, amount): fixed the first time, under the
    order's lock, by ``plan(amount, [(capture key, left), ...])`` -> [(key, amount)]
    (which raises ValueError when the captures hold too little); read back after."""
    async with engine.begin() as conn:
        await conn.execute(_LOCK_ONLY, {"id": order_id})
        parts = (await conn.execute(_PARTS, {"id": refund_id})).all()
        if parts:
            return list(parts)
        left = [
            (r.key, Decimal(r.left_amount))
            for r in (await conn.execute(_CAPTURES_LEFT, {"id": order_id})).all()
        ]
        for n, (key, share) in enumerate(plan(amount, left), start=1):
            await conn.execute(
                _INSERT_PART, {"id": refund_id, "part": n, "key": key, "amount": share}
            )
        return list((await conn.execute(_PARTS, {"id": refund_id})).all())


async def finish_refund(
    engine: AsyncEngine,
    *,
    refund_id: str,
    order_id: str,
    status: str,
    refunded: Decimal,
    error: str | None,
    event: dict[str, Any],
) -> None:
    """The refund settles (once) and the order's timeline gets ``refund_issued`` or
    ``refund_failed``, together."""
    async with engine.begin() as conn:
        await conn.execute(_LOCK_ONLY, {"id": order_id})
        await conn.execute(
            _FINISH_REFUND,
            {"id": refund_id, "status": status, "refunded": refunded, "error": error},
        )
        kind = "refund_issued" if status == "succeeded" else "refund_failed"
        await append_event(conn, order_id, kind, refund_id, {"refund_id": refund_id, **event})


async def authorization_reference(engine: AsyncEngine, order_id: str) -> str | None:
    """The gateway's id of the order's succeeded authorization, or None."""
    async with engine.connect() as conn:
        return (await conn.execute(_AUTHORIZATION, {"id": order_id})).scalar()
