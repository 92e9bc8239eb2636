"""Orders waiting for a person, read for the console (read-only: ``orders``,
``order_events``, ``alerts``; nothing here writes).

- the hold queue: orders on hold, the longest held first, with what the hold reasons need
  to be told in words (the manual hold's author, the customers at the address);
- late orders still open, with the moment the order was flagged late;
- open alerts, the oldest first.

Each list is bounded by its ``limit``: the pages show the first ones and a count.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from oms.store.sql_enums import ON_HOLD, TERMINAL_STATUSES

# The hold's start, as the workflow recorded it in the view (the row's last change for a
# view without one, which no current workflow writes).
_SINCE = "coalesce(CAST(o.view->'hold'->>'since' AS timestamptz), o.updated_at)"

# ``customers_at_address``: distinct customers with orders to the order's address in the
# velocity window that ended when it was held (what the address rule counted), only for
# the orders the address rule held. ``held_by``: who asked for a manual hold.
_QUEUE = text(
    f"""
    SELECT o.id, o.channel, o.external_id, o.customer_id, o.created_at, o.view,
           {_SINCE} AS since,
           CASE WHEN o.view->'hold'->'reasons' @> '["address_velocity"]'
                     AND o.address_key IS NOT NULL THEN
             (SELECT count(DISTINCT a.customer_id) FROM orders a
               WHERE a.address_key = o.address_key
                 AND a.created_at > {_SINCE} - make_interval(secs => :window)
                 AND a.created_at <= {_SINCE})
           END AS customers_at_address,
           CASE WHEN o.view->'hold'->'reasons' @> '["manual"]' THEN
             (SELECT e.data->>'by' FROM order_events e
               WHERE e.order_id = o.id AND e.type = 'order_held'
               ORDER BY e.seq DESC LIMIT 1)
           END AS held_by
    FROM orders o
    WHERE o.status = {ON_HOLD}
      AND (CAST(:rule AS text) IS NULL
           OR o.view->'hold'->'reasons' @> jsonb_build_array(CAST(:rule AS text)))
      AND (CAST(:channel AS text) IS NULL OR o.channel = CAST(:channel AS text))
      AND (CAST(:after_since AS timestamptz) IS NULL
           OR ({_SINCE}, o.id) > (CAST(:after_since AS timestamptz), CAST(:after_id AS text)))
    ORDER BY {_SINCE}, o.id
    LIMIT :limit
    """
)
_QUEUE_FACETS = text(
    f"""
    SELECT 'channel' AS facet, channel AS value, count(*) AS n FROM orders
     WHERE status = {ON_HOLD} GROUP BY channel
    UNION ALL
    SELECT 'rule', r.reason, count(*) FROM orders o
     CROSS JOIN LATERAL jsonb_array_elements_text(o.view->'hold'->'reasons') AS r(reason)
     WHERE o.status = {ON_HOLD} GROUP BY r.reason
    ORDER BY facet, value
    """
)
_HOLDS_OLDEST = text(
    f"""
    SELECT o.id, o.channel, o.status, o.view->'hold'->'reasons' AS reasons, {_SINCE} AS since
    FROM orders o WHERE o.status = {ON_HOLD}
      AND (CAST(:channel AS text) IS NULL OR o.channel = CAST(:channel AS text))
    ORDER BY {_SINCE}, o.id LIMIT :limit
    """
)
_LATE = text(
    f"""
    SELECT o.id, o.channel, o.status, o.created_at,
           coalesce(
             (SELECT e.created_at FROM order_events e
               WHERE e.order_id = o.id AND e.type = 'order_late'
               ORDER BY e.seq DESC LIMIT 1),
             o.created_at) AS since,
           (SELECT e.data->>'stage' FROM order_events e
             WHERE e.order_id = o.id AND e.type = 'order_late'
             ORDER BY e.seq DESC LIMIT 1) AS stage
    FROM orders o
    WHERE o.status <> ALL({TERMINAL_STATUSES}) AND o.view->>'late' = 'true'
      AND (CAST(:channel AS text) IS NULL OR o.channel = CAST(:channel AS text))
    ORDER BY since, o.id
    LIMIT :limit
    """
)
# An alert's channel is its order's (an alert about no known order has none).
_OPEN_ALERTS = text(
    """
    SELECT a.id, a.order_id, a.subject, a.kind, a.detail, a.created_at FROM alerts a
    WHERE a.status = 'open'
      AND (CAST(:channel AS text) IS NULL
           OR EXISTS (SELECT 1 FROM orders o
                       WHERE o.id = a.order_id AND o.channel = CAST(:channel AS text)))
    ORDER BY a.created_at, a.id LIMIT :limit
    """
)


async def hold_queue(
    engine: AsyncEngine,
    *,
    rule: str | None,
    channel: str | None,
    limit: int,
    velocity_window_s: float,
    after: tuple[datetime, str] | None = None,
) -> list[Any]:
    """Orders on hold, the longest held first (after ``after``, a (since, id) position):
    id, channel, external_id, customer_id, created_at, view, since, customers_at_address
    (address rule only), held_by (manual holds only)."""
    params = {
        "rule": rule,
        "channel": channel,
        "limit": limit,
        "window": velocity_window_s,
        "after_since": after[0] if after else None,
        "after_id": after[1] if after else None,
    }
    async with engine.connect() as conn:
        return list((await conn.execute(_QUEUE, params)).all())


async def hold_queue_facets(engine: AsyncEngine) -> dict[str, dict[str, int]]:
    """How many orders on hold per channel and per rule: {"channel": {...}, "rule": {...}}."""
    found: dict[str, dict[str, int]] = {"channel": {}, "rule": {}}
    async with engine.connect() as conn:
        for row in await conn.execute(_QUEUE_FACETS):
            found[row.facet][row.value] = int(row.n)
    return found


async def waiting(
    engine: AsyncEngine, limit: int, channel: str | None = None
) -> tuple[list[Any], list[Any], list[Any]]:
    """The oldest ``limit`` of each, of one channel or all: holds (id, channel, status,
    reasons, since), late open orders (id, channel, status, created_at, since: when flagged
    late, stage) and open alerts (id, order_id, subject, kind, detail, created_at)."""
    params = {"limit": limit, "channel": channel}
    async with engine.connect() as conn:
        holds = list((await conn.execute(_HOLDS_OLDEST, params)).all())
        late = list((await conn.execute(_LATE, params)).all())
        alerts = list((await conn.execute(_OPEN_ALERTS, params)).all())
    return holds, late, alerts
