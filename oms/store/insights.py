"""``demand_forecasts`` and ``replenishment_settings`` (migration 0019), and the reads of
the order history and stock that the forecasts and the replenishment hints are made from
(docs/intelligence-forecast.md).

Demand is read from the orders read model: an order counts on the UTC day it was
received, unless it is a shadow channel's, was cancelled, or failed on its payment (an
order that failed for want of stock counts: it is the demand replenishment exists for).
Per SKU it is the units of the order's lines; per warehouse and SKU the units of the
order's shipments that the warehouse ships or shipped (a refused shipment counts where it
was re-routed to).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_COUNTED = (
    "o.created_at >= :since AND o.created_at < :until "
    "AND o.status NOT IN ('shadowed', 'cancelled') "
    "AND NOT (o.status = 'failed' AND coalesce(o.failure_reason, '') LIKE 'payment%')"
)
_BY_SKU = text(
    "SELECT l->>'sku' AS sku, (o.created_at AT TIME ZONE 'UTC')::date AS day, "
    "sum((l->>'quantity')::bigint) AS units "
    "FROM orders o CROSS JOIN LATERAL jsonb_array_elements(o.view->'lines') l "
    f"WHERE {_COUNTED} GROUP BY 1, 2"
)
_BY_WAREHOUSE = text(
    "SELECT s->>'warehouse_id' AS warehouse_id, l->>'sku' AS sku, "
    "(o.created_at AT TIME ZONE 'UTC')::date AS day, sum((l->>'quantity')::bigint) AS units "
    "FROM orders o "
    "CROSS JOIN LATERAL jsonb_array_elements(coalesce(o.view->'shipments', '[]'::jsonb)) s "
    "CROSS JOIN LATERAL jsonb_array_elements(coalesce(s->'lines', '[]'::jsonb)) l "
    f"WHERE {_COUNTED} AND coalesce(s->>'status', '') <> 'failed' GROUP BY 1, 2, 3"
)
_CLEAR_RUN = text("DELETE FROM demand_forecasts WHERE run_date = :run_date")
_EXPIRE = text("DELETE FROM demand_forecasts WHERE run_date < :before")
_INSERT = text(
    """
    INSERT INTO demand_forecasts (run_date, warehouse_id, sku, demand_class, method, daily,
        sigma, adi, cv2, params, history_days, last_7, last_28, created_at)
    SELECT CAST(:run_date AS date), r.warehouse_id, r.sku, r.demand_class, r.method,
        ARRAY(SELECT CAST(v AS float8) FROM jsonb_array_elements_text(r.daily) v),
        r.sigma, r.adi, r.cv2,
        ARRAY(SELECT CAST(v AS float8) FROM jsonb_array_elements_text(r.params) v),
        r.history_days, r.last_7, r.last_28, now()
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(warehouse_id text, sku text,
        demand_class text, method text, daily jsonb, sigma float8, adi float8, cv2 float8,
        params jsonb, history_days int, last_7 float8, last_28 float8)
    """
)
_LATEST = text("SELECT max(run_date) FROM demand_forecasts")
_FORECAST_COLUMNS = (
    "f.run_date, f.warehouse_id, f.sku, f.demand_class, f.method, f.daily, f.sigma, f.adi, "
    "f.cv2, f.history_days, f.last_7, f.last_28, f.created_at"
)
_ALL_WAREHOUSES = text(
    f"SELECT {_FORECAST_COLUMNS} FROM demand_forecasts f "
    "WHERE f.run_date = :run_date AND f.warehouse_id = '' "
    "AND (CAST(:sku AS text) IS NULL OR f.sku = :sku)"
)
# Each warehouse's forecast with its stock (none: 0 on hand) and its settings; only the
# warehouses the OMS has (imported history may name a former one, or none).
_PAIRS = text(
    f"SELECT {_FORECAST_COLUMNS}, coalesce(s.on_hand, 0) AS on_hand, "
    "coalesce(s.reserved, 0) AS reserved, "
    "coalesce(own.lead_time_days, wh.lead_time_days) AS lead_time_days, "
    "coalesce(own.review_days, wh.review_days) AS review_days, "
    "coalesce(own.service_level, wh.service_level) AS service_level "
    "FROM demand_forecasts f JOIN warehouses w ON w.id = f.warehouse_id "
    "LEFT JOIN stock s ON s.warehouse_id = f.warehouse_id AND s.sku = f.sku "
    "LEFT JOIN replenishment_settings own ON own.warehouse_id = f.warehouse_id "
    "AND own.sku = f.sku "
    "LEFT JOIN replenishment_settings wh ON wh.warehouse_id = f.warehouse_id AND wh.sku = '' "
    "WHERE f.run_date = :run_date AND f.warehouse_id <> '' "
    "AND (CAST(:warehouse AS text) IS NULL OR f.warehouse_id = :warehouse) "
    "AND (CAST(:sku AS text) IS NULL OR f.sku = :sku)"
)
_SET = text(
    """
    INSERT INTO replenishment_settings (warehouse_id, sku, lead_time_days, review_days,
        service_level, updated_at, updated_by)
    VALUES (:warehouse_id, :sku, :lead_time_days, :review_days, :service_level, now(), :by)
    ON CONFLICT (warehouse_id, sku) DO UPDATE SET
        lead_time_days = coalesce(EXCLUDED.lead_time_days,
                                  replenishment_settings.lead_time_days),
        review_days = coalesce(EXCLUDED.review_days, replenishment_settings.review_days),
        service_level = coalesce(EXCLUDED.service_level, replenishment_settings.service_level),
        updated_at = now(), updated_by = EXCLUDED.updated_by
    RETURNING warehouse_id, sku, lead_time_days, review_days, service_level, updated_at,
        updated_by
    """
)
_SETTINGS = text(
    "SELECT warehouse_id, sku, lead_time_days, review_days, service_level, updated_at, "
    "updated_by FROM replenishment_settings "
    "WHERE CAST(:warehouse AS text) IS NULL OR warehouse_id = :warehouse "
    "ORDER BY warehouse_id, sku"
)
_CHUNK = 5000


async def demand_by_sku(conn: AsyncConnection, since: datetime, until: datetime) -> list[Any]:
    """(sku, day, units) for every SKU and UTC day with demand in [since, until)."""
    return list(await conn.execute(_BY_SKU, {"since": since, "until": until}))


async def demand_by_warehouse(conn: AsyncConnection, since: datetime, until: datetime) -> list[Any]:
    """(warehouse_id, sku, day, units) for every shipping warehouse, SKU and UTC day."""
    return list(await conn.execute(_BY_WAREHOUSE, {"since": since, "until": until}))


async def replace_run(
    conn: AsyncConnection, run_date: date, rows: Sequence[dict[str, Any]], keep_after: date
) -> None:
    """The run's rows, replacing any the same day's run stored before, and the rows of
    runs before ``keep_after`` deleted; in the caller's transaction."""
    await conn.execute(_CLEAR_RUN, {"run_date": run_date})
    for at in range(0, len(rows), _CHUNK):
        chunk = json.dumps(list(rows[at : at + _CHUNK]), separators=(",", ":"))
        await conn.execute(_INSERT, {"run_date": run_date, "rows": chunk})
    await conn.execute(_EXPIRE, {"before": keep_after})


async def latest_run(engine: AsyncEngine) -> date | None:
    async with engine.connect() as conn:
        found: date | None = (await conn.execute(_LATEST)).scalar()
        return found


async def sku_forecasts(engine: AsyncEngine, run_date: date, sku: str | None) -> list[Any]:
    """The run's forecasts over all warehouses (one per SKU; only ``sku`` if given)."""
    async with engine.connect() as conn:
        return list(await conn.execute(_ALL_WAREHOUSES, {"run_date": run_date, "sku": sku}))


async def pair_forecasts(
    engine: AsyncEngine, run_date: date, warehouse: str | None, sku: str | None
) -> list[Any]:
    """The run's forecasts per warehouse and SKU, each with its stock (on_hand, reserved)
    and its own or its warehouse's settings (NULL where neither has one)."""
    params = {"run_date": run_date, "warehouse": warehouse, "sku": sku}
    async with engine.connect() as conn:
        return list(await conn.execute(_PAIRS, params))


async def set_replenishment(
    engine: AsyncEngine,
    warehouse_id: str,
    sku: str,
    lead_time_days: int | None,
    review_days: int | None,
    service_level: float | None,
    by: str,
) -> Any:
    """Set the values given (None keeps what was there); the row after."""
    params = {
        "warehouse_id": warehouse_id,
        "sku": sku,
        "lead_time_days": lead_time_days,
        "review_days": review_days,
        "service_level": service_level,
        "by": by,
    }
    async with engine.begin() as conn:
        return (await conn.execute(_SET, params)).one()


async def replenishment_settings(engine: AsyncEngine, warehouse: str | None) -> list[Any]:
    async with engine.connect() as conn:
        return list(await conn.execute(_SETTINGS, {"warehouse": warehouse}))
