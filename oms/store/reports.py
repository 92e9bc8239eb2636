"""Read-only reports over several tables: the KPIs (``oms.reports.kpis``, docs/kpis.md).

This module owns no table and writes nothing. It reads ``orders`` (which orders, their
channel, day and end), ``order_events`` (the timeline: dispatch, delivery, holds, faults),
``payments`` (declined captures) and ``shipments`` (how many parcels an order took), in
statements that aggregate in PostgreSQL: a report returns a row per day and channel, never
a row per order.

Every figure is about the orders *received* in the range ``[start, end)``, grouped by the
UTC day they were received and by channel; shadow orders (status ``shadowed``) are left
out of everything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from oms.domain.status import OrderStatus, ShipmentStatus
from oms.store.sql_enums import array, literal

# Timeline entries that a figure reads: the predicate of the partial index
# ``ix_order_events_kpi`` (migration 0012), written here exactly as there, so that the
# planner proves the index applies. Of the late flags only the dispatch one counts.
KPI_EVENTS = (
    "shipment_dispatched",
    "order_delivered",
    "order_backordered",
    "shipment_failed",
    "shipment_rerouted",
    "reroute_failed",
    "payment_capture_failed",
    "address_changed",
)
KPI_EVENTS_WHERE = "(type IN ({}) OR (type = 'order_late' AND data->>'stage' = 'dispatch'))".format(
    ", ".join(f"'{t}'" for t in KPI_EVENTS)
)
# What spoils an order's accuracy (besides a capture declined in the ledger).
FLAW_EVENTS = (
    "shipment_failed",
    "shipment_rerouted",
    "reroute_failed",
    "payment_capture_failed",
    "address_changed",
)
_LEFT = array(
    [
        ShipmentStatus.SHIPPED,
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.OUT_FOR_DELIVERY,
        ShipmentStatus.DELIVERED,
    ]
)
_SHADOWED = literal(OrderStatus.SHADOWED)
_CANCELLED = literal(OrderStatus.CANCELLED)

# Who cancelled, from the view's ``cancellation {by, reason, code}`` and hold reasons.
WHO = ("customer", "operator", "rule", "expiry", "platform")
_WHO_SQL = f"""
    CASE
      WHEN o.status <> {_CANCELLED} THEN NULL
      WHEN o.code IN ('hold_expired', 'backorder_expired', 'unpaid') THEN 'expiry'
      WHEN o.code = 'rejected' AND o.hold_reasons ? 'refund_requested' THEN 'customer'
      WHEN o.code = 'rejected' AND o.hold_reasons <@ '["manual"]'::jsonb THEN 'operator'
      WHEN o.code = 'rejected' THEN 'rule'
      WHEN o.by LIKE 'channel:%' THEN 'platform'
      ELSE 'operator'
    END"""

# The orders of the range, one row each, with what the figures need of the timeline.
_ORDERS_CTE = f"""
    o AS MATERIALIZED (
      SELECT id, channel, status, created_at,
             (created_at AT TIME ZONE 'UTC')::date AS day,
             CASE WHEN status = {_CANCELLED} THEN view->'cancellation'->>'code' END AS code,
             CASE WHEN status = {_CANCELLED} THEN view->'cancellation'->>'by' END AS by,
             CASE WHEN status = {_CANCELLED}
                  THEN coalesce(view->'hold'->'reasons', '[]'::jsonb) END AS hold_reasons
      FROM orders
      WHERE created_at >= :start AND created_at < :end AND status <> {_SHADOWED}
        AND (CAST(:channel AS text) IS NULL OR channel = CAST(:channel AS text))
    )"""

_KPIS = text(
    f"""
    WITH {_ORDERS_CTE},
    ev AS (
      SELECT e.order_id,
             min(e.created_at) FILTER (WHERE e.type = 'shipment_dispatched') AS dispatched_at,
             min(e.created_at) FILTER (WHERE e.type = 'order_delivered') AS delivered_at,
             bool_or(e.type IN ({", ".join(literal(t) for t in FLAW_EVENTS)})) AS flawed,
             bool_or(e.type = 'order_late') AS late_dispatch,
             bool_or(e.type = 'order_backordered') AS backordered
      FROM order_events e
      WHERE {KPI_EVENTS_WHERE} AND e.created_at >= :start
      GROUP BY e.order_id
    ),
    sh AS (
      SELECT s.order_id, count(*) AS parcels,
             bool_or(s.status = ANY({_LEFT})) AS shipped
      FROM shipments s
      WHERE s.created_at >= :start
      GROUP BY s.order_id
    ),
    pay AS (
      SELECT DISTINCT p.order_id
      FROM payments p
      WHERE p.kind = 'capture' AND p.status = 'declined' AND p.created_at >= :start
    ),
    f AS (
      SELECT o.day, o.channel, o.status, {_WHO_SQL} AS who,
             extract(epoch FROM ev.dispatched_at - o.created_at) AS processing_s,
             extract(epoch FROM ev.delivered_at - ev.dispatched_at) AS delivery_s,
             ev.delivered_at IS NOT NULL AS delivered,
             coalesce(ev.flawed, false) OR pay.order_id IS NOT NULL AS flawed,
             ev.dispatched_at IS NOT NULL AS dispatched,
             coalesce(ev.late_dispatch, false) AS late_dispatch,
             coalesce(ev.backordered, false) AS backordered,
             coalesce(sh.shipped, false) AS shipped,
             coalesce(sh.parcels, 0) AS parcels
      FROM o
      LEFT JOIN ev ON ev.order_id = o.id
      LEFT JOIN sh ON sh.order_id = o.id
      LEFT JOIN pay ON pay.order_id = o.id
    )
    SELECT day, channel, GROUPING(day, channel) AS level,
           count(*) AS received,
           count(*) FILTER (WHERE dispatched) AS dispatched,
           percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY processing_s)
               AS processing,
           count(*) FILTER (WHERE processing_s <= :target_s) AS within_target,
           count(*) FILTER (WHERE delivered) AS delivered,
           count(*) FILTER (WHERE delivered AND NOT flawed) AS accurate,
           count(*) FILTER (WHERE dispatched OR late_dispatch) AS sla_due,
           count(*) FILTER (WHERE dispatched AND NOT late_dispatch) AS on_time,
           count(*) FILTER (WHERE shipped) AS shipped,
           count(*) FILTER (WHERE shipped AND parcels = 1) AS filled,
           count(*) FILTER (WHERE backordered) AS backordered,
           count(*) FILTER (WHERE who IS NOT NULL) AS cancelled,
           {", ".join(f"count(*) FILTER (WHERE who = '{w}') AS cancelled_{w}" for w in WHO)},
           percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY delivery_s) AS delivery
    FROM f
    GROUP BY GROUPING SETS ((day, channel), (day), (channel), ())
    """
)

# Each hold (an ``order_held`` entry) per reason, with what ended it: the first approval,
# cancel or failure after it on the timeline, or nothing yet.
_HOLDS = text(
    f"""
    WITH {_ORDERS_CTE},
    h AS (
      SELECT o.day, o.channel, r.reason,
             CASE
               WHEN d.type = 'hold_approved' THEN 'approved'
               WHEN d.type = 'order_cancelled' AND o.code = 'rejected' THEN 'rejected'
               WHEN d.type = 'order_cancelled' AND o.code = 'hold_expired' THEN 'expired'
               WHEN d.type IS NOT NULL THEN 'cancelled'
               ELSE 'waiting'
             END AS outcome
      FROM order_events e
      JOIN o ON o.id = e.order_id
      CROSS JOIN LATERAL jsonb_array_elements_text(e.data->'reasons') AS r(reason)
      LEFT JOIN LATERAL (
        SELECT d.type FROM order_events d
        WHERE d.order_id = e.order_id AND d.seq > e.seq
          AND d.type IN ('hold_approved', 'order_cancelled', 'order_failed')
        ORDER BY d.seq LIMIT 1
      ) d ON true
      WHERE e.type = 'order_held' AND e.created_at >= :start
    )
    SELECT day, channel, GROUPING(day, channel) AS level, reason, outcome, count(*) AS holds
    FROM h
    GROUP BY GROUPING SETS ((day, channel, reason, outcome), (day, reason, outcome),
                            (channel, reason, outcome), (reason, outcome))
    """
)


async def kpi_rows(
    engine: AsyncEngine,
    start: datetime,
    end: datetime,
    channel: str | None,
    target_s: float,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The KPI aggregates of the orders received in ``[start, end)`` (one channel, or all):
    rows per (day, channel), per day, per channel and over everything (``level`` 0, 1, 2
    and 3, PostgreSQL's ``GROUPING``), and the holds per reason and outcome at the same
    levels. One read-only transaction, so both see the same orders."""
    params = {"start": start, "end": end, "channel": channel, "target_s": target_s}
    async with engine.connect() as conn:
        await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        figures = [dict(r) for r in (await conn.execute(_KPIS, params)).mappings()]
        holds = [dict(r) for r in (await conn.execute(_HOLDS, params)).mappings()]
    return figures, holds
