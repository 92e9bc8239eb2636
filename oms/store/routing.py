"""``routing_lead_times``, ``routing_costs`` and ``routing_decisions`` (migration 0021):
what the learned routing strategies read at allocation time (a few rows by primary key,
never a scan of the shipments), the samples a refresh learns from, and the per-order
comparison of strategies.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oms.domain.delivery import ANY, Key, LeadTime, Rate

# One row per parcel of the orders placed since :since that was dispatched and delivered:
# its warehouse, the order's destination and the days between the two timeline entries.
# A live order records ``shipment_delivered`` per parcel; an imported one
# ``order_delivered`` naming its parcel. Orders are walked by ix_orders_created, their
# entries by the timeline's primary key.
_SAMPLES = text(
    """
    WITH recent AS (
        SELECT id, view->'shipping_address' AS address FROM orders WHERE created_at >= :since
    ), parcels AS (
        SELECT e.order_id, e.data->>'shipment_id' AS shipment_id,
               min(e.created_at) FILTER (WHERE e.type = 'shipment_dispatched') AS dispatched,
               min(e.created_at) FILTER (WHERE e.type IN ('shipment_delivered',
                                                          'order_delivered')) AS delivered,
               max(e.data->>'warehouse_id') AS warehouse_id
        FROM recent r JOIN order_events e ON e.order_id = r.id
        WHERE e.type IN ('shipment_dispatched', 'shipment_delivered', 'order_delivered')
          AND e.data->>'shipment_id' IS NOT NULL
        GROUP BY e.order_id, e.data->>'shipment_id'
    )
    SELECT coalesce(s.warehouse_id, p.warehouse_id) AS warehouse_id,
           coalesce(r.address->>'country', '') AS country,
           r.address->>'postal_code' AS postal_code, r.address->>'region' AS region,
           extract(epoch FROM p.delivered - p.dispatched) / 86400.0 AS days
    FROM parcels p JOIN recent r ON r.id = p.order_id
    LEFT JOIN shipments s ON s.id = p.shipment_id
    WHERE p.dispatched IS NOT NULL AND p.delivered IS NOT NULL
      AND coalesce(s.warehouse_id, p.warehouse_id) IS NOT NULL
    """
)
# Readers (allocations) are never blocked by a refresh: EXCLUSIVE lets plain reads through
# and keeps a second refresh waiting until the first commits.
_LOCK = text("LOCK TABLE routing_lead_times IN EXCLUSIVE MODE")
_CLEAR = text("DELETE FROM routing_lead_times")
_INSERT_TIMES = text(
    """
    INSERT INTO routing_lead_times (warehouse_id, country, area, samples, mean_days,
                                    median_days, p90_days, refreshed_at)
    SELECT r->>'w', r->>'c', r->>'a', CAST(r->>'n' AS integer), CAST(r->>'mean' AS float8),
           CAST(r->>'median' AS float8), CAST(r->>'p90' AS float8), now()
    FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS r
    """
)
_TIMES_FOR = text(
    "SELECT warehouse_id, country, area, samples, mean_days, median_days, p90_days "
    "FROM routing_lead_times WHERE warehouse_id = ANY(:ids) "
    "AND country = ANY(:countries) AND area = ANY(:areas)"
)
_TIMES = text(
    "SELECT warehouse_id, country, area, samples, mean_days, median_days, p90_days, "
    "refreshed_at FROM routing_lead_times ORDER BY warehouse_id, country, area"
)
_COSTS_FOR = text(
    "SELECT warehouse_id, country, area, base, per_unit FROM routing_costs "
    "WHERE warehouse_id = ANY(:ids) AND country = ANY(:countries) AND area = ANY(:areas)"
)
_COSTS = text(
    "SELECT warehouse_id, country, area, base, per_unit, updated_at, updated_by "
    "FROM routing_costs ORDER BY warehouse_id, country, area"
)
_UPSERT_COSTS = text(
    """
    INSERT INTO routing_costs (warehouse_id, country, area, base, per_unit, updated_at,
                               updated_by)
    SELECT r->>'w', r->>'c', r->>'a', CAST(r->>'base' AS numeric),
           CAST(r->>'per_unit' AS numeric), now(), :by
    FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS r
    ON CONFLICT (warehouse_id, country, area) DO UPDATE SET
        base = EXCLUDED.base, per_unit = EXCLUDED.per_unit,
        updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
    """
)
_KNOWN = text("SELECT id FROM warehouses WHERE id = ANY(:ids)")
_DECIDE = text(
    """
    INSERT INTO routing_decisions (order_id, channel, strategy, country, area, shipments,
                                   expected_days, expected_cost, options, created_at)
    VALUES (:order_id, :channel, :strategy, :country, :area, :shipments, :days, :cost,
            CAST(:options AS jsonb), now())
    ON CONFLICT (order_id) DO NOTHING
    """
)
_FILTER = (
    "WHERE d.created_at >= :since AND (CAST(:channel AS varchar) IS NULL OR d.channel = :channel)"
)
_SUMMARY = text(
    f"""
    SELECT o.key AS strategy, count(*) AS orders,
           avg(CAST(o.value->>'days' AS float8)) AS mean_days,
           avg(CAST(o.value->>'cost' AS float8)) AS mean_cost,
           count(*) FILTER (WHERE CAST(o.value->>'shipments' AS integer) > 1) AS splits,
           count(*) FILTER (WHERE o.key = d.strategy) AS chosen,
           count(*) FILTER (WHERE o.value->'warehouses' = d.options->d.strategy->'warehouses')
               AS same_as_chosen
    FROM routing_decisions d, jsonb_each(d.options) AS o
    {_FILTER}
    GROUP BY o.key
    """
)
_CHOSEN = text(
    f"""
    SELECT count(*) AS orders, avg(d.expected_days) AS mean_days,
           avg(d.expected_cost) AS mean_cost,
           count(*) FILTER (WHERE d.shipments > 1) AS splits
    FROM routing_decisions d {_FILTER}
    """
)
_DECISIONS = text(
    f"""
    SELECT d.order_id, d.channel, d.strategy, d.country, d.area, d.shipments,
           d.expected_days, d.expected_cost, d.options, d.created_at
    FROM routing_decisions d {_FILTER}
    ORDER BY d.created_at DESC, d.order_id DESC LIMIT :limit
    """
)
_DECISION = text(
    "SELECT order_id, channel, strategy, country, area, shipments, expected_days, "
    "expected_cost, options, created_at FROM routing_decisions WHERE order_id = :id"
)


async def shipment_samples(
    engine: AsyncEngine, since: datetime
) -> list[tuple[str, str, str | None, str | None, float]]:
    """(warehouse, country, postal code, region, days) of each parcel dispatched and
    delivered of the orders placed since ``since``."""
    async with engine.connect() as conn:
        rows = (await conn.execute(_SAMPLES, {"since": since})).all()
    return [(r.warehouse_id, r.country, r.postal_code, r.region, float(r.days)) for r in rows]


async def replace_lead_times(engine: AsyncEngine, learned: Mapping[Key, LeadTime]) -> int:
    """The learned table replaced by ``learned``, in one transaction. Rows written."""
    rows = [
        {
            "w": w,
            "c": c,
            "a": a,
            "n": t.count,
            "mean": t.mean_days,
            "median": t.median_days,
            "p90": t.p90_days,
        }
        for (w, c, a), t in learned.items()
    ]
    async with engine.begin() as conn:
        await conn.execute(_LOCK)
        await conn.execute(_CLEAR)
        if rows:
            await conn.execute(_INSERT_TIMES, {"rows": json.dumps(rows)})
    return len(rows)


def _scope(country: str, area: str) -> dict[str, list[str]]:
    return {"countries": sorted({country, ANY}), "areas": sorted({area, ANY})}


async def facts_for(
    conn: AsyncConnection, warehouse_ids: Sequence[str], country: str, area: str
) -> tuple[dict[Key, LeadTime], dict[Key, Rate]]:
    """The learned times and the cost rows that can apply to parcels from
    ``warehouse_ids`` to (country, area): by primary key, a few rows per warehouse."""
    params: dict[str, Any] = {"ids": list(warehouse_ids), **_scope(country, area)}
    times = {
        (r.warehouse_id, r.country, r.area): LeadTime(
            r.samples, r.mean_days, r.median_days, r.p90_days
        )
        for r in await conn.execute(_TIMES_FOR, params)
    }
    rates = {
        (r.warehouse_id, r.country, r.area): Rate(float(r.base), float(r.per_unit))
        for r in await conn.execute(_COSTS_FOR, params)
    }
    return times, rates


async def lead_times(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(_TIMES)).all())


async def costs(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(_COSTS)).all())


async def load_costs(
    engine: AsyncEngine, rows: Sequence[tuple[str, str, str, float, float]], by: str
) -> list[str]:
    """Store the cost rows (a row of the same key replaced), all or nothing; the unknown
    warehouses they name instead, when there are any (then nothing is stored)."""
    named = sorted({r[0] for r in rows})
    payload = [
        {"w": w, "c": c, "a": a, "base": str(base), "per_unit": str(unit)}
        for w, c, a, base, unit in rows
    ]
    async with engine.begin() as conn:
        known = {r.id for r in await conn.execute(_KNOWN, {"ids": named})}
        unknown = [w for w in named if w not in known]
        if unknown:
            return unknown
        await conn.execute(_UPSERT_COSTS, {"rows": json.dumps(payload), "by": by})
    return []


async def record_decision(
    conn: AsyncConnection,
    order_id: str,
    channel: str,
    strategy: str,
    region: tuple[str, str],
    chosen: tuple[int, float, float],
    options: Mapping[str, Any],
) -> None:
    """The order's first allocation and the comparison of strategies (a later round of
    the same order leaves the first one be)."""
    shipments, days, cost = chosen
    params = {
        "order_id": order_id,
        "channel": channel,
        "strategy": strategy,
        "country": region[0],
        "area": region[1],
        "shipments": shipments,
        "days": days,
        "cost": cost,
        "options": json.dumps(options, sort_keys=True),
    }
    await conn.execute(_DECIDE, params)


async def summary(
    engine: AsyncEngine, since: datetime, channel: str | None
) -> tuple[Any, list[Any]]:
    """The chosen allocations' figures and each compared strategy's (strategy, orders,
    mean_days, mean_cost, splits, chosen, same_as_chosen) over the orders allocated since
    ``since``."""
    params = {"since": since, "channel": channel}
    async with engine.connect() as conn:
        chosen = (await conn.execute(_CHOSEN, params)).one()
        per = list((await conn.execute(_SUMMARY, params)).all())
    return chosen, per


async def decisions(
    engine: AsyncEngine, since: datetime, channel: str | None, limit: int
) -> list[Any]:
    """The newest allocations since ``since``, each with its comparison."""
    params = {"since": since, "channel": channel, "limit": limit}
    async with engine.connect() as conn:
        return list((await conn.execute(_DECISIONS, params)).all())


async def decision(engine: AsyncEngine, order_id: str) -> Any | None:
    async with engine.connect() as conn:
        return (await conn.execute(_DECISION, {"id": order_id})).first()
