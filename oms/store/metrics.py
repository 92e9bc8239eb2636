"""The business gauges of the API's ``/metrics`` (docs/metrics.md), read in one statement.

Read only: this module owns no table and writes nothing. It reads ``orders``, ``alerts``,
``backorder_lines``, the events-out tables, ``pull_cursors`` and ``channels`` in a
read-only transaction with a short statement timeout, so a scrape can never hold a lock or
load the database for long. Every part is a count over an indexed column or a small table
(the orders per status use ``ix_orders_status``; the open deliveries the partial
``ix_webhook_deliveries_due``); the caller caches the answer for a few seconds. No
personal data leaves: statuses, alert kinds and channel names only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from oms.store.outbox import OPEN as OPEN_DELIVERIES
from oms.store.sql_enums import ON_HOLD, RECEIVED, TERMINAL_STATUSES

_READ_ONLY = text("SET TRANSACTION READ ONLY")
_TIMEOUT = text("SELECT set_config('statement_timeout', :ms, true)")
_SNAPSHOT = text(
    f"""
    SELECT by_status.orders, holds.waiting, holds.oldest_s, late.n AS late,
           alerts.by_kind AS alerts, backorders.units, backorders.orders AS backordered,
           deliveries.failing, deliveries.pending, deliveries.oldest_s AS delivery_oldest_s,
           endpoints.failing AS endpoints_failing, endpoints.disabled AS endpoints_disabled,
           pulls.channels AS pulls
    FROM
      (SELECT coalesce(jsonb_object_agg(status, n), '{{}}'::jsonb) AS orders
         FROM (SELECT status, count(*) AS n FROM orders GROUP BY status) s) AS by_status,
      (SELECT count(*) AS waiting,
              extract(epoch FROM now() - min((view->'hold'->>'since')::timestamptz))
                AS oldest_s
         FROM orders WHERE status = {ON_HOLD}) AS holds,
      (SELECT count(*) AS n FROM orders
        WHERE status <> ALL({TERMINAL_STATUSES}) AND view->>'late' = 'true') AS late,
      (SELECT coalesce(jsonb_object_agg(kind, n), '{{}}'::jsonb) AS by_kind
         FROM (SELECT kind, count(*) AS n FROM alerts WHERE status = 'open'
                GROUP BY kind) k) AS alerts,
      (SELECT coalesce(sum(quantity), 0) AS units, count(DISTINCT order_id) AS orders
         FROM backorder_lines) AS backorders,
      (SELECT count(*) FILTER (WHERE d.status = 'failed') AS failing,
              count(*) FILTER (WHERE d.status = 'pending') AS pending,
              extract(epoch FROM now() - min(d.created_at)) AS oldest_s
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
        WHERE d.status IN {OPEN_DELIVERIES} AND e.enabled AND e.deleted_at IS NULL)
        AS deliveries,
      (SELECT count(*) FILTER (WHERE enabled AND failing_since IS NOT NULL) AS failing,
              count(*) FILTER (WHERE NOT enabled) AS disabled
         FROM webhook_endpoints WHERE deleted_at IS NULL) AS endpoints,
      (SELECT coalesce(jsonb_agg(jsonb_build_object(
                'channel', p.channel,
                'lag_s', extract(epoch FROM now() - p.cursor),
                'failing', p.failing_since IS NOT NULL) ORDER BY p.channel), '[]'::jsonb)
                AS channels
         FROM pull_cursors p JOIN channels c ON c.name = p.channel
        WHERE c.enabled AND p.cursor IS NOT NULL) AS pulls
    """
)


@dataclass(frozen=True)
class PullLag:
    channel: str
    lag_s: float
    failing: bool


@dataclass(frozen=True)
class BusinessSnapshot:
    """What the business gauges show, as read at one moment."""

    orders_by_status: dict[str, int] = field(default_factory=dict)
    holds_waiting: int = 0
    # Seconds since the oldest waiting hold began; 0 when none waits.
    oldest_hold_s: float = 0.0
    late: int = 0
    open_alerts: dict[str, int] = field(default_factory=dict)
    backorder_units: int = 0
    backordered_orders: int = 0
    deliveries_failing: int = 0
    deliveries_pending: int = 0
    oldest_delivery_s: float = 0.0
    endpoints_failing: int = 0
    endpoints_disabled: int = 0
    pulls: tuple[PullLag, ...] = ()


async def snapshot(engine: AsyncEngine, timeout_s: float = 3.0) -> BusinessSnapshot:
    """Read the business gauges in one read-only statement, ended by the database after
    ``timeout_s``."""
    async with engine.connect() as conn:
        await conn.execute(_READ_ONLY)
        await conn.execute(_TIMEOUT, {"ms": str(int(timeout_s * 1000))})
        row = (await conn.execute(_SNAPSHOT)).one()
        await conn.rollback()
    return _from_row(row)


def _from_row(row: Any) -> BusinessSnapshot:
    return BusinessSnapshot(
        orders_by_status={k: int(v) for k, v in row.orders.items()},
        holds_waiting=int(row.waiting),
        oldest_hold_s=max(0.0, float(row.oldest_s or 0)),
        late=int(row.late),
        open_alerts={k: int(v) for k, v in row.alerts.items()},
        backorder_units=int(row.units),
        backordered_orders=int(row.backordered),
        deliveries_failing=int(row.failing),
        deliveries_pending=int(row.pending),
        oldest_delivery_s=max(0.0, float(row.delivery_oldest_s or 0)),
        endpoints_failing=int(row.endpoints_failing),
        endpoints_disabled=int(row.endpoints_disabled),
        pulls=tuple(
            PullLag(p["channel"], max(0.0, float(p["lag_s"])), bool(p["failing"]))
            for p in row.pulls
        ),
    )


# Orders accepted whose workflow has recorded no step yet (``oms.domain.status
# .never_started``): the part of the backlog that is orders, not Temporal tasks. Counted
# over the (status, created_at, id) index and capped, so the statement stays cheap however
# deep the backlog.
_UNSTARTED = text(
    f"""
    SELECT count(*) AS n FROM
      (SELECT 1 FROM orders WHERE status = {RECEIVED} AND last_seq = 0 LIMIT :cap) AS u
    """
)


async def unstarted_orders(engine: AsyncEngine, cap: int, timeout_s: float = 1.0) -> int:
    """How many orders wait for their workflow's first step, up to ``cap``."""
    async with engine.connect() as conn:
        await conn.execute(_READ_ONLY)
        await conn.execute(_TIMEOUT, {"ms": str(int(timeout_s * 1000))})
        n = (await conn.execute(_UNSTARTED, {"cap": cap})).scalar_one()
        await conn.rollback()
    return int(n)
