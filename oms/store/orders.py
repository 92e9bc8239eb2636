"""``orders`` and ``order_events``: the orders read model and each order's timeline.

The row is written at intake, then only by the order's records, which move it forward
(``last_seq < :seq``) so that a retried or late write never rolls the view back; the
timeline is keyed by (order id, seq), so a record written twice is kept once. The payment
token is kept only until the workflow records its first step (or the recovery sweep has
started the workflow): both paths clear it here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oms.db.engine import one_statement
from oms.store.shipments import FOLLOW_CTE, follow
from oms.store.sql_enums import ON_HOLD, RECEIVED, TERMINAL_STATUSES

_FIND = text(
    "SELECT id, request_hash, view, status, last_seq FROM orders "
    "WHERE (channel = :channel AND external_id = :external_id) "
    "OR (CAST(:key AS text) IS NOT NULL AND channel = :channel AND idempotency_key = :key)"
)
_INSERT = text(
    f"""
    INSERT INTO orders (id, channel, external_id, idempotency_key, request_hash, customer_id,
                        status, last_seq, view, payment_token, created_at, updated_at)
    VALUES (:id, :channel, :external_id, :key, :hash, :customer_id, {RECEIVED}, 0,
            CAST(:view AS jsonb), :token, :now, :now)
    ON CONFLICT DO NOTHING
    RETURNING id
    """
)
_FIRST_EVENT = text(
    "INSERT INTO order_events (order_id, seq, type, status, data, created_at) "
    f"VALUES (:id, 0, 'order_received', {RECEIVED}, CAST(:data AS jsonb), :now)"
)
_ROW = text("SELECT id, channel, status, view, last_seq, payment_token FROM orders WHERE id = :id")
_EXISTS = text("SELECT 1 FROM orders WHERE id = :id")
# The console's order page: the row with its intake facts, and the latest events.
_PAGE_ROW = text(
    "SELECT id, channel, external_id, customer_id, status, failure_reason, view, last_seq, "
    "created_at, updated_at FROM orders WHERE id = :id"
)
_LATEST_EVENTS = text(
    "SELECT seq, type, status, data, created_at FROM order_events "
    "WHERE order_id = :id ORDER BY seq DESC LIMIT :limit"
)
_EVENTS = text(
    "SELECT seq, type, status, data, created_at FROM order_events "
    "WHERE order_id = :id AND seq > :after ORDER BY seq LIMIT :limit"
)
# The steps of some of an order's shipments, as its timeline recorded them.
_SHIPMENT_STEPS = text(
    """
    SELECT data->>'shipment_id' AS shipment_id, substr(type, 10) AS status, created_at
    FROM order_events
    WHERE order_id = :id AND type LIKE 'shipment\\_%'
      AND data->>'shipment_id' = ANY(CAST(:shipments AS text[]))
    ORDER BY seq
    """
)
_APPEND = text(
    """
    INSERT INTO order_events (order_id, seq, type, status, data, created_at)
    VALUES (:order_id, :seq, :type, :status, CAST(:data AS jsonb), :at)
    ON CONFLICT (order_id, seq) DO NOTHING
    """
)
# Folding a record into the row: the view moves forward only, and the payment token is
# dropped (the workflow holds it from its first step on).
_FOLD_SQL = """
    UPDATE orders SET status = :status, view = CAST(:view AS jsonb), failure_reason = :reason,
                      last_seq = :seq, updated_at = :at, payment_token = NULL
    WHERE id = :order_id AND last_seq < :seq"""
_FOLD = text(_FOLD_SQL)
# A batch of the lean order's records (one workflow task's): appended to the timeline,
# folded into the order row, and followed by its shipment rows, in one statement. One
# statement is atomic on its own, so it runs without BEGIN and COMMIT: one round trip.
_WRITE_BATCH = text(
    f"""
    WITH appended AS (
        INSERT INTO order_events (order_id, seq, type, status, data, created_at)
        SELECT :order_id, e.seq, e.type, e.status, CAST(e.data AS jsonb), e.at
        FROM unnest(CAST(:seqs AS integer[]), CAST(:types AS varchar[]),
                    CAST(:statuses AS varchar[]), CAST(:datas AS text[]),
                    CAST(:ats AS timestamptz[])) AS e(seq, type, status, data, at)
        ON CONFLICT (order_id, seq) DO NOTHING
        RETURNING 1
    ), folded AS ({_FOLD_SQL}
        RETURNING 1
    ), followed AS ({FOLLOW_CTE}
    )
    SELECT (SELECT count(*) FROM appended) AS appended,
           (SELECT count(*) FROM folded) AS folded,
           (SELECT count(*) FROM followed) AS followed
    """
)
_UNSTARTED = text(
    f"""
    SELECT id, view, payment_token FROM orders
    WHERE status = {RECEIVED} AND last_seq = 0 AND payment_token IS NOT NULL
      AND jsonb_typeof(view->'imported') IS DISTINCT FROM 'object'
      AND created_at < now() - make_interval(secs => :age)
    ORDER BY created_at
    LIMIT 100
    """
)
_FORGET_TOKEN = text("UPDATE orders SET payment_token = NULL WHERE id = :id")
_RESERVE_FACTS = text(
    "SELECT channel, created_at, view->'shipping_address' AS address FROM orders WHERE id = :id"
)


_KEEP_ADDRESS = text("UPDATE orders SET address_key = :k WHERE id = :id")
# Both hold facts in time that does not grow with the customer's or the address's orders:
# the rules only ask whether the customer ordered before (at most one earlier order is
# looked for) and whether ``velocity_count`` distinct customers ordered to the address in
# the window (customers are walked one at a time along ix_orders_address_customer, and no
# more than that many). A soak of one customer's orders to one address found the plain
# counts at 16 and 27 ms each after 20,000 orders, growing with every order.
_HOLD_FACTS = text(
    """
    WITH RECURSIVE at_address(customer_id, n) AS (
        SELECT min(customer_id), 1 FROM orders
         WHERE address_key = :k AND created_at > now() - make_interval(secs => :window)
      UNION ALL
        SELECT (SELECT min(o.customer_id) FROM orders o
                 WHERE o.address_key = :k AND o.customer_id > a.customer_id
                   AND o.created_at > now() - make_interval(secs => :window)),
               a.n + 1
          FROM at_address a
         WHERE a.customer_id IS NOT NULL AND a.n < :cap
    )
    SELECT
      (SELECT count(*) FROM (
         SELECT 1 FROM orders o
          WHERE o.customer_id = :customer AND o.id <> :id
            AND o.created_at <= (SELECT created_at FROM orders WHERE id = :id)
          LIMIT 1) AS earlier) AS earlier_orders,
      (SELECT count(customer_id) FROM at_address) AS customers_at_address
    """
)
# Operators' reads (``/v1/ops``).
_QUIET = text(
    f"SELECT id, status, view, updated_at FROM orders WHERE status <> ALL({TERMINAL_STATUSES}) "
    "AND updated_at < now() - interval '5 seconds' ORDER BY updated_at LIMIT :limit"
)
_STALE_HOLDS = text(
    f"SELECT id, status, view FROM orders WHERE status = {ON_HOLD} "
    "AND (view->'hold'->>'since')::timestamptz < now() - make_interval(secs => :stale) "
    "ORDER BY view->'hold'->>'since'"
)
_LATE = text(
    f"SELECT id, status, view FROM orders WHERE status <> ALL({TERMINAL_STATUSES}) "
    "AND view->>'late' = 'true' ORDER BY created_at LIMIT 500"
)
_BY_STATUS = text("SELECT status, count(*) AS n FROM orders GROUP BY status")
_HOLDS = text(
    "SELECT count(*) AS n, min(view->'hold'->>'since') AS oldest FROM orders "
    f"WHERE status = {ON_HOLD}"
)
_LATE_COUNT = text(
    f"SELECT count(*) FROM orders WHERE status <> ALL({TERMINAL_STATUSES}) "
    "AND view->>'late' = 'true'"
)


async def find(
    engine: AsyncEngine, channel: str, external_id: str, idempotency_key: str | None
) -> list[Any]:
    """Orders recorded with the channel's reference or Idempotency-Key (id, request_hash,
    view, status, last_seq)."""
    params = {"channel": channel, "external_id": external_id, "key": idempotency_key}
    async with engine.connect() as conn:
        return list((await conn.execute(_FIND, params)).all())


async def insert(engine: AsyncEngine, order: dict[str, Any], first_event: str) -> bool:
    """Record a new order (``received``) and its first event (``order_received``, data
    ``first_event`` as JSON) in one transaction; False if it exists already. ``order``:
    id, channel, external_id, key, hash, customer_id, view (JSON), token and now."""
    async with engine.begin() as conn:
        row = (await conn.execute(_INSERT, order)).first()
        if row is None:
            return False
        await conn.execute(
            _FIRST_EVENT, {"id": order["id"], "now": order["now"], "data": first_event}
        )
    return True


async def insert_in(conn: AsyncConnection, order: dict[str, Any], first_event: str) -> bool:
    """:func:`insert` in the caller's transaction (the intake's, which holds its channel's
    switch lock until the row is committed)."""
    row = (await conn.execute(_INSERT, order)).first()
    if row is None:
        return False
    await conn.execute(_FIRST_EVENT, {"id": order["id"], "now": order["now"], "data": first_event})
    return True


async def row(engine: AsyncEngine, order_id: str) -> Any:
    """The read-model row (id, channel, status, view, last_seq, payment_token), or None."""
    async with one_statement(engine) as conn:
        return (await conn.execute(_ROW, {"id": order_id})).first()


async def exists(conn: AsyncConnection, order_id: str) -> bool:
    return (await conn.execute(_EXISTS, {"id": order_id})).first() is not None


async def page(
    engine: AsyncEngine,
    *,
    equal: dict[str, str],
    late: bool,
    before: tuple[datetime, str] | None,
    limit: int,
    channels: Sequence[str] | None = None,
) -> list[Any]:
    """Orders newest first (id, created_at, view): those whose columns in ``equal``
    (status, channel, customer_id, and ``mode``: live or shadow) have the values given,
    of one of ``channels`` when given, flagged late if ``late``, created before the
    position ``before`` (created_at, id)."""
    clauses = []
    params: dict[str, Any] = {"limit": limit}
    for column in ("status", "channel", "customer_id"):
        if equal.get(column):
            clauses.append(f"{column} = :{column}")
            params[column] = equal[column]
    if equal.get("mode"):
        # The mode the order got at intake (its view's platform part; none: live).
        clauses.append("COALESCE(view->'platform'->>'mode', 'live') = :mode")
        params["mode"] = equal["mode"]
    if channels is not None:
        clauses.append("channel = ANY(:channels)")
        params["channels"] = list(channels)
    if late:
        clauses.append("view @> '{\"late\": true}'")
    if before is not None:
        params["c_at"], params["c_id"] = before
        clauses.append("(created_at, id) < (:c_at, :c_id)")
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    query = text(
        f"SELECT id, created_at, view FROM orders {where} "
        "ORDER BY created_at DESC, id DESC LIMIT :limit"
    )
    async with engine.connect() as conn:
        return list((await conn.execute(query, params)).all())


async def events(engine: AsyncEngine, order_id: str, after: int, limit: int) -> list[Any]:
    """The timeline after ``seq`` ``after`` (seq, type, status, data, created_at)."""
    params = {"id": order_id, "after": after, "limit": limit}
    async with engine.connect() as conn:
        return list((await conn.execute(_EVENTS, params)).all())


async def page_row(conn: AsyncConnection, order_id: str) -> Any:
    """The row for the console's order page (id, channel, external_id, customer_id,
    status, failure_reason, view, last_seq, created_at, updated_at), or None."""
    return (await conn.execute(_PAGE_ROW, {"id": order_id})).first()


async def latest_events(conn: AsyncConnection, order_id: str, limit: int) -> list[Any]:
    """The last ``limit`` events of the timeline, oldest first (seq, type, status, data,
    created_at)."""
    rows = (await conn.execute(_LATEST_EVENTS, {"id": order_id, "limit": limit})).all()
    return list(reversed(rows))


async def record(engine: AsyncEngine, record: dict[str, Any], shipments: Sequence[Any]) -> None:
    """Append one record to the timeline and fold its view into the row, and move the
    view's ``shipments`` rows forward, in one transaction. ``record``: order_id, seq, type,
    status, data (JSON), view (JSON), reason, at."""
    async with engine.begin() as conn:
        await conn.execute(_APPEND, record)
        await conn.execute(_FOLD, record)
        await follow(conn, shipments)


async def shipment_steps(
    engine: AsyncEngine, order_id: str, shipment_ids: Sequence[str]
) -> list[Any]:
    """The timeline's steps of these shipments of the order, in order (shipment_id, status,
    created_at): ``shipment_delivered`` is status ``delivered``."""
    params = {"id": order_id, "shipments": list(shipment_ids)}
    async with one_statement(engine) as conn:
        return list((await conn.execute(_SHIPMENT_STEPS, params)).all())


async def record_batch(engine: AsyncEngine, batch: dict[str, Any]) -> None:
    """A batch of records, folded, with its shipments followed: one autocommit statement.
    ``batch``: the columns of ``_WRITE_BATCH`` (per record: seqs, types, statuses, datas,
    ats; the fold: order_id, seq, status, view, reason, at; per shipment: ship_ids,
    ship_statuses, ship_tracking, ship_carriers)."""
    async with one_statement(engine) as conn:
        await conn.execute(_WRITE_BATCH, batch)


async def unstarted(engine: AsyncEngine, older_than_s: float) -> list[Any]:
    """Orders recorded but with no step recorded, a payment token kept, older than
    ``older_than_s`` (id, view, payment_token): their workflow may never have started.
    Imported open orders (the view's ``imported``) are never among them: ``oms import
    start`` starts those (``oms.store.imports.open_imported_not_started``)."""
    async with engine.connect() as conn:
        return list((await conn.execute(_UNSTARTED, {"age": older_than_s})).all())


async def forget_token(engine: AsyncEngine, order_id: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(_FORGET_TOKEN, {"id": order_id})


async def reserve_facts(conn: AsyncConnection, order_id: str) -> Any:
    """What the reservation step needs of the order (channel, created_at, address), or None
    (a direct call, without a read-model row)."""
    return (await conn.execute(_RESERVE_FACTS, {"id": order_id})).first()


async def hold_facts(
    engine: AsyncEngine,
    order_id: str,
    customer_id: str,
    address_key: str | None,
    window_s: float,
    cap: int,
) -> Any:
    """Record the order's normalised address and read the hold rules' facts about it
    (earlier_orders, customers_at_address), in one transaction."""
    params = {"id": order_id, "customer": customer_id, "k": address_key}
    async with engine.begin() as conn:
        await conn.execute(_KEEP_ADDRESS, {"k": address_key, "id": order_id})
        return (await conn.execute(_HOLD_FACTS, {**params, "window": window_s, "cap": cap})).one()


async def needing_attention(
    conn: AsyncConnection, candidates: int, hold_stale_s: float
) -> tuple[list[Any], list[Any], list[Any]]:
    """Open orders without progress for a while, the longest first (at most
    ``candidates``); holds waiting past ``hold_stale_s``; open orders flagged late. Rows of
    id, status, view."""
    quiet = (await conn.execute(_QUIET, {"limit": candidates})).all()
    stale = (await conn.execute(_STALE_HOLDS, {"stale": hold_stale_s})).all()
    late = (await conn.execute(_LATE)).all()
    return list(quiet), list(stale), list(late)


async def counts(conn: AsyncConnection) -> tuple[dict[str, int], Any, int]:
    """Orders per status; holds waiting (n) and the oldest (oldest); open orders late."""
    by_status = {r.status: int(r.n) for r in await conn.execute(_BY_STATUS)}
    holds = (await conn.execute(_HOLDS)).one()
    late = int((await conn.execute(_LATE_COUNT)).scalar_one())
    return by_status, holds, late


_SHADOWED = text(
    """
    SELECT id, external_id, created_at, status, view->'shadow' AS shadow
    FROM orders
    WHERE channel = :channel AND jsonb_typeof(view->'shadow') = 'object'
      AND created_at >= :since
    ORDER BY created_at, id
    LIMIT :limit
    """
)


async def shadowed(engine: AsyncEngine, channel: str, since: datetime, limit: int) -> list[Any]:
    """A shadow channel's decided orders since ``since``, oldest first (id, external_id,
    created_at, status, shadow)."""
    params = {"channel": channel, "since": since, "limit": limit}
    async with engine.connect() as conn:
        return list((await conn.execute(_SHADOWED, params)).all())


# Every order of a channel with what the side-by-side report needs: the mode it got, its
# shadow decision, when the decision was recorded, and its first event's facts.
_SIDE_BY_SIDE = text(
    """
    SELECT o.id, o.external_id, o.created_at, o.status,
           COALESCE(o.view->'platform'->>'mode', 'live') AS mode,
           o.view->'shadow' AS shadow, e.data AS first,
           (SELECT d.created_at FROM order_events d
             WHERE d.order_id = o.id AND d.type = 'order_shadowed'
             ORDER BY d.seq LIMIT 1) AS decided_at
    FROM orders o
    LEFT JOIN order_events e ON e.order_id = o.id AND e.seq = 0
    WHERE o.channel = :channel
    ORDER BY o.created_at, o.id
    """
)


async def side_by_side(engine: AsyncEngine, channel: str) -> list[Any]:
    """The channel's orders for the shadow report (id, external_id, created_at, status,
    mode, shadow, first, decided_at), oldest first."""
    async with engine.connect() as conn:
        return list((await conn.execute(_SIDE_BY_SIDE, {"channel": channel})).all())
