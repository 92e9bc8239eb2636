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

import asyncio
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

# Who cancelled (``order_kpi_facts.cancelled_by``, from the view's ``cancellation {by,
# reason, code}`` and hold reasons: migration 0015's ``oms_kpi_cancelled_by``).
WHO = ("customer", "operator", "rule", "expiry", "platform")

_COUNTS = (
    "received",
    "dispatched",
    "within_target",
    "delivered",
    "accurate",
    "sla_due",
    "on_time",
    "shipped",
    "filled",
    "backordered",
    "cancelled",
    *(f"cancelled_{w}" for w in WHO),
)

# The orders of the range: an index range of ``ix_order_kpi_facts_received`` (or the whole
# table, which the planner prefers when the range holds most of it).
_RANGE = """
      f.received_at >= :start AND f.received_at < :end AND NOT f.shadow
      AND (CAST(:channel AS text) IS NULL OR f.channel = CAST(:channel AS text))"""

_BY_WHO = ", ".join(f"count(*) FILTER (WHERE f.cancelled_by = '{w}') AS cancelled_{w}" for w in WHO)
_DAY = "(f.received_at AT TIME ZONE 'UTC')::date"
_PERCENTILES = """
      percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY f.processing_s) AS processing,
      percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY f.delivery_s) AS delivery"""

# The counts, summed per (day, channel) in one hashed pass, then rolled up from those rows.
_KPIS = text(
    f"""
    WITH fine AS (
      SELECT {_DAY} AS day, f.channel,
             count(*) AS received,
             count(*) FILTER (WHERE f.first_dispatched_at IS NOT NULL) AS dispatched,
             count(*) FILTER (WHERE f.processing_s <= :target_s) AS within_target,
             count(*) FILTER (WHERE f.delivered_at IS NOT NULL) AS delivered,
             count(*) FILTER (WHERE f.delivered_at IS NOT NULL AND NOT f.flawed) AS accurate,
             count(*) FILTER (WHERE f.first_dispatched_at IS NOT NULL OR f.late_dispatch)
                 AS sla_due,
             count(*) FILTER (WHERE f.first_dispatched_at IS NOT NULL AND NOT f.late_dispatch)
                 AS on_time,
             count(*) FILTER (WHERE f.parcels_shipped > 0) AS shipped,
             count(*) FILTER (WHERE f.parcels_shipped > 0 AND f.parcels = 1) AS filled,
             count(*) FILTER (WHERE f.backordered) AS backordered,
             count(*) FILTER (WHERE f.cancelled_by IS NOT NULL) AS cancelled,
             {_BY_WHO}
      FROM order_kpi_facts f
      WHERE {_RANGE}
      GROUP BY 1, 2
    )
    SELECT day, channel, GROUPING(day, channel) AS level,
           {", ".join(f"CAST(sum({c}) AS bigint) AS {c}" for c in _COUNTS)}
    FROM fine
    GROUP BY GROUPING SETS ((day, channel), (day), (channel), ())
    """
)

_FRACTIONS = {"processing_s": "ARRAY[0.5, 0.9, 0.99]", "delivery_s": "ARRAY[0.5, 0.9]"}


def _in_order(column: str, channels: int) -> str:
    """One figure's percentiles per channel (``c0``, ``c1``, ... for ``:channel_0``, ...)
    and over everything (``total``), in one pass over its values read in order from its
    partial index (``ix_order_kpi_facts_processing``, ``..._delivery``): each aggregate's
    sort then finds its values already sorted, and the pass costs no sort."""
    fractions = _FRACTIONS[column]
    per = "".join(
        f"percentile_cont({fractions}) WITHIN GROUP (ORDER BY v) "
        f"FILTER (WHERE channel = CAST(:channel_{i} AS text)) AS c{i}, "
        for i in range(channels)
    )
    return f"""(
      SELECT {per}percentile_cont({fractions}) WITHIN GROUP (ORDER BY v) AS total
      FROM (SELECT f.{column} AS v, f.channel FROM order_kpi_facts f
            WHERE {_RANGE} AND f.{column} IS NOT NULL
            ORDER BY f.{column}) AS s
    )"""


# Percentiles per (day, channel) and per day (levels 0 and 1): the rows sorted by day and
# channel, each group's values sorted by its aggregate.
_DAY_PERCENTILES = text(
    f"""
    SELECT day, channel, GROUPING(day, channel) AS level, {_PERCENTILES}
    FROM (SELECT {_DAY} AS day, f.channel, f.processing_s, f.delivery_s
          FROM order_kpi_facts f WHERE {_RANGE}) AS f
    GROUP BY GROUPING SETS ((day, channel), (day))
    """
)


def _wide_percentiles(channels: int) -> Any:
    """Percentiles per channel (``:channel_0``, ...) and over everything (levels 2 and 3),
    from the values in order."""
    levels = "".join(f"(CAST(:channel_{i} AS text), 2, p.c{i}, d.c{i}), " for i in range(channels))
    return text(
        f"""
        SELECT CAST(NULL AS date) AS day, l.channel, l.level, l.processing, l.delivery
        FROM {_in_order("processing_s", channels)} AS p,
             {_in_order("delivery_s", channels)} AS d,
             LATERAL (VALUES {levels}(CAST(NULL AS text), 3, p.total, d.total))
                 AS l(channel, level, processing, delivery)
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


async def _read_only(conn: AsyncConnection, snapshot: str | None = None) -> str | None:
    """Start a repeatable-read, read-only transaction on ``conn``: on ``snapshot`` (one
    exported by another transaction) when given, else on its own, exported (its id is
    returned)."""
    await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
    if snapshot is not None:
        await conn.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
    # Every value of a level is sorted in memory (some 60 MB for a million orders).
    await conn.execute(text("SET LOCAL work_mem = '128MB'"))
    if snapshot is not None:
        return None
    return str((await conn.execute(text("SELECT pg_export_snapshot()"))).scalar_one())


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
    levels.

    Two connections at once, both on one snapshot (``pg_export_snapshot``), so that every
    statement sees the same orders: one sorts the rows by day for the daily percentiles,
    the other reads the counts, the percentiles per channel and overall, and the holds."""
    params = {"start": start, "end": end, "channel": channel, "target_s": target_s}
    async with engine.connect() as first, engine.connect() as second:
        snapshot = await _read_only(first)
        await _read_only(second, snapshot)

        async def daily() -> list[Any]:
            return list((await first.execute(_DAY_PERCENTILES, params)).mappings())

        async def the_rest() -> tuple[list[dict[str, Any]], list[Any], list[dict[str, Any]]]:
            figures = [dict(r) for r in (await second.execute(_KPIS, params)).mappings()]
            channels = sorted(r["channel"] for r in figures if r["level"] == 2)
            named = {f"channel_{i}": c for i, c in enumerate(channels)}
            wide = await second.execute(_wide_percentiles(len(channels)), params | named)
            holds = [dict(r) for r in (await second.execute(_HOLDS, params)).mappings()]
            return figures, list(wide.mappings()), holds

        days, (figures, wide, holds) = await asyncio.gather(daily(), the_rest())
    percentiles = {(r["level"], r["day"], r["channel"]): r for r in [*days, *wide]}
    for row in figures:
        found = percentiles.get((row["level"], row["day"], row["channel"]))
        row["processing"] = found["processing"] if found else None
        row["delivery"] = found["delivery"] if found else None
    return figures, holds
