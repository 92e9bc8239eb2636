"""The KPIs' reads (``oms.reports.kpis``, docs/kpis.md), and the owner of their tables.

This module owns ``order_kpi_facts`` (one narrow row per order: its channel, when it was
received, its first dispatch and delivery, the flags that spoil accuracy, late for
dispatch, backordered, its parcels, who cancelled it) and ``order_kpi_holds`` (one row per
hold: its reasons and what ended it). Both are written only by the triggers of migration
0015, in the statements that write ``orders``, ``order_events``, ``payments`` and
``shipments``; nothing here writes. A report aggregates them in PostgreSQL and returns a
row per day and channel, never a row per order.

Every figure is about the orders *received* in the range ``[start, end)``, grouped by the
UTC day they were received and by channel; shadow orders (status ``shadowed``) are left
out of everything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

# What spoils an order's accuracy (besides a capture declined in the ledger); migration
# 0015's trigger sets ``flawed`` on these.
FLAW_EVENTS = (
    "shipment_failed",
    "shipment_rerouted",
    "reroute_failed",
    "payment_capture_failed",
    "address_changed",
)
# Who cancelled (``order_kpi_facts.cancelled_by``, from the view's ``cancellation {by,
# reason, code}`` and hold reasons: migration 0015's ``oms_kpi_cancelled_by``).
WHO = ("customer", "operator", "rule", "expiry", "platform")

# The orders of the range: one index range scan of ``ix_order_kpi_facts_received``.
_RANGE = """
      f.received_at >= :start AND f.received_at < :end AND NOT f.shadow
      AND (CAST(:channel AS text) IS NULL OR f.channel = CAST(:channel AS text))"""

_KPIS = text(
    f"""
    WITH f AS (
      SELECT (f.received_at AT TIME ZONE 'UTC')::date AS day, f.channel,
             f.cancelled_by AS who,
             extract(epoch FROM f.first_dispatched_at - f.received_at) AS processing_s,
             extract(epoch FROM f.delivered_at - f.first_dispatched_at) AS delivery_s,
             f.delivered_at IS NOT NULL AS delivered,
             f.flawed,
             f.first_dispatched_at IS NOT NULL AS dispatched,
             f.late_dispatch,
             f.backordered,
             f.parcels_shipped > 0 AS shipped,
             f.parcels
      FROM order_kpi_facts f
      WHERE {_RANGE}
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

# Each hold per reason, with what ended it: the first approval, cancel or failure after it
# on the timeline (``ended_by``), or nothing yet.
_HOLDS = text(
    f"""
    WITH h AS (
      SELECT (f.received_at AT TIME ZONE 'UTC')::date AS day, f.channel, r.reason,
             CASE
               WHEN h.ended_by = 'hold_approved' THEN 'approved'
               WHEN h.ended_by = 'order_cancelled' AND f.cancel_code = 'rejected'
                 THEN 'rejected'
               WHEN h.ended_by = 'order_cancelled' AND f.cancel_code = 'hold_expired'
                 THEN 'expired'
               WHEN h.ended_by IS NOT NULL THEN 'cancelled'
               ELSE 'waiting'
             END AS outcome
      FROM order_kpi_holds h
      JOIN order_kpi_facts f ON f.order_id = h.order_id
      CROSS JOIN LATERAL unnest(h.reasons) AS r(reason)
      WHERE {_RANGE}
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
