"""``outbox_events``, ``webhook_deliveries`` and ``webhook_attempts``: what there is to tell
partners, and how each telling went.

Rows of ``outbox_events`` and new ``webhook_deliveries`` are written by the triggers of
migration 0008, in the statement that writes the fact; here they are claimed, answered,
listed and redelivered. A claim takes a lease (``next_attempt_at`` moves a minute on) under
``FOR UPDATE SKIP LOCKED``, so two deliverers never send the same delivery at once and a
deliverer that dies leaves it due again after the lease. For order events only the lowest
``seq`` still open per (endpoint, order) is ever due: an order's events arrive in order,
while other orders go on beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

OPEN = "('pending', 'failed')"
# A delivery no earlier event of the same order waits before.
_HEAD = f"""
    (d.order_id IS NULL OR NOT EXISTS (
        SELECT 1 FROM webhook_deliveries p
        WHERE p.endpoint_id = d.endpoint_id AND p.order_id = d.order_id
          AND p.status IN {OPEN} AND p.seq < d.seq))"""
_CLAIM = text(
    f"""
    WITH due AS (
        SELECT d.id FROM webhook_deliveries d
        WHERE d.endpoint_id = :endpoint_id AND d.status IN {OPEN}
          AND d.next_attempt_at <= now() AND {_HEAD}
        ORDER BY d.next_attempt_at, d.id
        LIMIT :limit
        FOR UPDATE OF d SKIP LOCKED
    )
    UPDATE webhook_deliveries w
       SET next_attempt_at = now() + make_interval(secs => :lease), updated_at = now()
      FROM due, outbox_events e
     WHERE w.id = due.id AND e.id = w.event_id
    RETURNING w.id, w.event_id, w.attempts, w.order_id, w.seq, e.type, e.occurred_at, e.data
    """
)
_NEXT_DUE = text(
    f"""
    SELECT min(d.next_attempt_at) FROM webhook_deliveries d
    WHERE d.endpoint_id = :endpoint_id AND d.status IN {OPEN} AND {_HEAD}
    """
)
_RECORD = text(
    """
    WITH r AS (
        SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:statuses AS varchar[]),
                             CAST(:codes AS integer[]), CAST(:durations AS integer[]),
                             CAST(:errors AS varchar[]), CAST(:nexts AS timestamptz[]),
                             CAST(:ats AS timestamptz[]))
            AS r(id, status, code, duration, error, next_at, at)
    ), updated AS (
        UPDATE webhook_deliveries d
           SET status = r.status, attempts = d.attempts + 1, next_attempt_at = r.next_at,
               last_error = r.error, updated_at = now(),
               delivered_at = CASE WHEN r.status = 'delivered' THEN r.at ELSE d.delivered_at END
          FROM r WHERE d.id = r.id
        RETURNING 1
    ), attempted AS (
        INSERT INTO webhook_attempts (delivery_id, at, status_code, duration_ms, error,
                                      next_attempt_at)
        SELECT r.id, r.at, r.code, r.duration, r.error, r.next_at FROM r
        WHERE EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.id = r.id)
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM updated) AS updated, (SELECT count(*) FROM attempted) AS n
    """
)
_PAGE = text(
    """
    SELECT d.id, d.event_id, e.type, d.order_id, d.seq, d.status, d.attempts,
           d.next_attempt_at, d.last_error, d.delivered_at, d.created_at, e.occurred_at
    FROM webhook_deliveries d JOIN outbox_events e ON e.id = d.event_id
    WHERE d.endpoint_id = :endpoint_id AND d.id < :before
      AND (CAST(:status AS varchar) IS NULL OR d.status = CAST(:status AS varchar))
    ORDER BY d.id DESC LIMIT :limit
    """
)
_ATTEMPTS = text(
    "SELECT delivery_id, at, status_code, duration_ms, error, next_attempt_at "
    "FROM webhook_attempts WHERE delivery_id = ANY(CAST(:ids AS bigint[])) ORDER BY id"
)
_REDELIVER_ONE = text(
    """
    UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(),
        updated_at = now()
    WHERE endpoint_id = :endpoint_id AND id = :id
    RETURNING id
    """
)
_REDELIVER_SINCE = text(
    """
    UPDATE webhook_deliveries d SET status = 'pending', attempts = 0, next_attempt_at = now(),
        updated_at = now()
    FROM outbox_events e
    WHERE d.endpoint_id = :endpoint_id AND e.id = d.event_id AND e.occurred_at >= :since
    RETURNING d.id
    """
)
_NOTIFY = text("SELECT pg_notify('oms_outbox', :endpoint_id)")
_TEST_EVENT = text(
    """
    WITH evt AS (
        INSERT INTO outbox_events (id, type, order_id, seq, occurred_at, data, created_at)
        VALUES (:event_id, 'webhook.test', NULL, NULL, now(),
                jsonb_build_object('endpoint_id', CAST(:endpoint_id AS text)), now())
        RETURNING id
    )
    INSERT INTO webhook_deliveries (endpoint_id, event_id, order_id, seq, status, attempts,
                                    next_attempt_at, created_at, updated_at)
    SELECT :endpoint_id, evt.id, NULL, NULL, 'pending', 0, now(), now(), now() FROM evt
    RETURNING id
    """
)
_EVENTS_OF_ORDER = text(
    "SELECT id, type, seq, occurred_at, data FROM outbox_events WHERE order_id = :order_id "
    "ORDER BY seq, id"
)
_COUNTS = text(
    "SELECT status, count(*) AS n FROM webhook_deliveries WHERE endpoint_id = :endpoint_id "
    "GROUP BY status"
)


async def claim(engine: AsyncEngine, endpoint_id: str, limit: int, lease_s: float) -> list[Any]:
    """Due deliveries, leased for ``lease_s``: id, event_id, attempts, order_id, seq, type,
    occurred_at, data."""
    params = {"endpoint_id": endpoint_id, "limit": limit, "lease": lease_s}
    async with engine.begin() as conn:
        return list((await conn.execute(_CLAIM, params)).all())


async def next_due(engine: AsyncEngine, endpoint_id: str) -> datetime | None:
    """When the endpoint's next delivery falls due (None: nothing open)."""
    async with engine.connect() as conn:
        value = (await conn.execute(_NEXT_DUE, {"endpoint_id": endpoint_id})).scalar()
    return value  # type: ignore[no-any-return]


async def record(engine: AsyncEngine, outcomes: Sequence[dict[str, Any]]) -> int:
    """Each attempt's outcome (id, status, code, duration, error, next_at, at), in one
    statement; deliveries forgotten meanwhile (a deleted endpoint) are skipped."""
    if not outcomes:
        return 0
    params = {
        name: [o[key] for o in outcomes]
        for name, key in (
            ("ids", "id"),
            ("statuses", "status"),
            ("codes", "code"),
            ("durations", "duration"),
            ("errors", "error"),
            ("nexts", "next_at"),
            ("ats", "at"),
        )
    }
    async with engine.begin() as conn:
        return int((await conn.execute(_RECORD, params)).one().n)


async def page(
    engine: AsyncEngine, endpoint_id: str, status: str | None, limit: int, before: int | None
) -> tuple[list[Any], dict[int, list[Any]]]:
    """Deliveries newest first, below id ``before``, and the attempts of each."""
    params = {
        "endpoint_id": endpoint_id,
        "status": status,
        "limit": limit,
        "before": before or 2**62,
    }
    async with engine.connect() as conn:
        rows = list((await conn.execute(_PAGE, params)).all())
        attempts: dict[int, list[Any]] = {r.id: [] for r in rows}
        if rows:
            for a in await conn.execute(_ATTEMPTS, {"ids": [r.id for r in rows]}):
                attempts[a.delivery_id].append(a)
    return rows, attempts


async def redeliver(engine: AsyncEngine, endpoint_id: str, delivery_id: int) -> bool:
    """The delivery due again at once, with a fresh schedule (same event id)."""
    params = {"endpoint_id": endpoint_id, "id": delivery_id}
    async with engine.begin() as conn:
        found = (await conn.execute(_REDELIVER_ONE, params)).first() is not None
        if found:
            await conn.execute(_NOTIFY, {"endpoint_id": endpoint_id})
    return found


async def redeliver_since(engine: AsyncEngine, endpoint_id: str, since: datetime) -> int:
    """Every delivery of an event that occurred at or after ``since`` due again; how many."""
    params = {"endpoint_id": endpoint_id, "since": since}
    async with engine.begin() as conn:
        n = len((await conn.execute(_REDELIVER_SINCE, params)).all())
        await conn.execute(_NOTIFY, {"endpoint_id": endpoint_id})
    return n


async def add_test_event(engine: AsyncEngine, endpoint_id: str, event_id: str) -> int:
    """A ``webhook.test`` event for this endpoint only; its delivery id."""
    params = {"endpoint_id": endpoint_id, "event_id": event_id}
    async with engine.begin() as conn:
        delivery = (await conn.execute(_TEST_EVENT, params)).scalar_one()
        await conn.execute(_NOTIFY, {"endpoint_id": endpoint_id})
    return int(delivery)


async def events_of_order(engine: AsyncEngine, order_id: str) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(_EVENTS_OF_ORDER, {"order_id": order_id})).all())


async def counts(engine: AsyncEngine, endpoint_id: str) -> dict[str, int]:
    """Deliveries per status."""
    async with engine.connect() as conn:
        rows = await conn.execute(_COUNTS, {"endpoint_id": endpoint_id})
        return {r.status: int(r.n) for r in rows}
