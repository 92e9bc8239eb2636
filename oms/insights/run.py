"""One forecast run, and the reads the API and the console make of the latest one.

``run_forecast`` reads the order history of the ``OMS_FORECAST_HISTORY_DAYS`` days before
the run day, forecasts every SKU (over all warehouses) and every warehouse-SKU pair,
stores the forecasts in one transaction (replacing what a run of the same day stored:
running it twice is running it once) and raises a ``stockout_risk`` alert for each pair
that runs out within its lead time (one open alert per pair: a second run raises none).
The nightly ``insights.forecast`` workflow runs it through its activity; ``oms insights
forecast`` runs it in the calling process.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from typing import Any, Protocol

import numpy as np
from sqlalchemy.ext.asyncio import AsyncEngine

from oms.domain.messages import AlertRequest
from oms.insights.forecast import Forecast, forecast_many
from oms.insights.hints import Hint, Hot, Policy, hint, hot, hottest, risk_order
from oms.insights.messages import ForecastRunResult
from oms.logging import get_logger
from oms.settings import Settings
from oms.store import insights as store

log = get_logger(__name__)

ALERT_KIND = "stockout_risk"
KEEP_RUNS_DAYS = 90  # forecasts of older runs are deleted by the next run


class AlertSink(Protocol):
    async def raise_alert(self, req: AlertRequest) -> int: ...


def _midnight(day: date) -> datetime:
    return datetime.combine(day, day_time(0), tzinfo=UTC)


def series_matrix(
    rows: Iterable[tuple[tuple[str, str], date, float]], first: date, days: int
) -> tuple[list[tuple[str, str]], np.ndarray]:
    """Keys in a stable order and their daily units (keys, days) from (key, day, units)."""
    index: dict[tuple[str, str], int] = {}
    cells: list[tuple[int, int, float]] = []
    for key, day, units in rows:
        offset = (day - first).days
        if 0 <= offset < days:
            cells.append((index.setdefault(key, len(index)), offset, units))
    matrix = np.zeros((len(index), days))
    for row, offset, units in cells:
        matrix[row, offset] += units
    return list(index), matrix


def _stored(key: tuple[str, str], f: Forecast) -> dict[str, Any]:
    return {
        "warehouse_id": key[0],
        "sku": key[1],
        "demand_class": f.demand_class.value,
        "method": f.method.value,
        "daily": list(f.daily),
        "sigma": f.sigma,
        "adi": f.adi,
        "cv2": f.cv2,
        "params": list(f.params),
        "history_days": f.history_days,
        "last_7": f.last_7,
        "last_28": f.last_28,
    }


def policy_of(row: Any, settings: Settings) -> Policy:
    """A pair's policy: its own values, its warehouse's, then the settings'."""
    return Policy(
        lead_time_days=(
            row.lead_time_days
            if row.lead_time_days is not None
            else settings.replenish_lead_time_days
        ),
        review_days=row.review_days
        if row.review_days is not None
        else settings.replenish_review_days,
        service_level=(
            row.service_level if row.service_level is not None else settings.replenish_service_level
        ),
    )


def hint_of(row: Any, settings: Settings) -> Hint:
    return hint(
        row.warehouse_id,
        row.sku,
        int(row.on_hand),
        int(row.reserved),
        list(row.daily),
        float(row.sigma),
        policy_of(row, settings),
        row.demand_class,
        row.method,
    )


async def run_forecast(
    engine: AsyncEngine, settings: Settings, run_date: date, alerts: AlertSink | None
) -> ForecastRunResult:
    began = time.perf_counter()
    days = settings.forecast_history_days
    first = run_date - timedelta(days=days)
    since, until = _midnight(first), _midnight(run_date)
    async with engine.connect() as conn:
        by_sku = await store.demand_by_sku(conn, since, until)
        by_pair = await store.demand_by_warehouse(conn, since, until)
    read_s = time.perf_counter() - began
    keys, matrix = series_matrix(
        [
            *((("", r.sku), r.day, float(r.units)) for r in by_sku),
            *(((r.warehouse_id, r.sku), r.day, float(r.units)) for r in by_pair),
        ],
        first,
        days,
    )
    fit_began = time.perf_counter()
    forecasts = forecast_many(matrix, settings.forecast_horizon_days) if keys else []
    fit_s = time.perf_counter() - fit_began
    rows = [_stored(k, f) for k, f in zip(keys, forecasts, strict=True)]
    async with engine.begin() as conn:
        await store.replace_run(
            conn, run_date, rows, keep_after=run_date - timedelta(days=KEEP_RUNS_DAYS)
        )
    classes: dict[str, int] = {}
    for key, f in zip(keys, forecasts, strict=True):
        if not key[0]:
            classes[f.demand_class.value] = classes.get(f.demand_class.value, 0) + 1
    hints = [hint_of(r, settings) for r in await store.pair_forecasts(engine, run_date, None, None)]
    risks = [h for h in hints if h.status == "stockout_risk"]
    if alerts is not None:
        for h in risks:
            subject = f"{h.warehouse_id}/{h.sku}"
            detail = {**alert_detail(h), "subject": subject, "run_date": run_date.isoformat()}
            await alerts.raise_alert(AlertRequest("", ALERT_KIND, detail))
    result = ForecastRunResult(
        run_date=run_date.isoformat(),
        series=len(keys),
        skus=sum(1 for k in keys if not k[0]),
        pairs=sum(1 for k in keys if k[0]),
        classes=classes,
        stockout_risks=len(risks),
        reorders=sum(1 for h in hints if h.status == "reorder"),
        seconds=round(time.perf_counter() - began, 3),
        read_s=round(read_s, 3),
        fit_s=round(fit_s, 3),
    )
    log.info("forecast_run", **asdict(result))
    return result


def alert_detail(h: Hint) -> dict[str, Any]:
    return {
        "warehouse_id": h.warehouse_id,
        "sku": h.sku,
        "available": h.available,
        "days_of_cover": h.days_of_cover,
        "lead_time_days": h.lead_time_days,
        "daily_rate": h.daily_rate,
        "order_quantity": h.order_quantity,
    }


async def replenishment(
    engine: AsyncEngine, settings: Settings, warehouse: str | None, sku: str | None
) -> tuple[date | None, list[Hint]]:
    """The latest run's hints, stock-out risks first (``risk_order``); its day."""
    run_date = await store.latest_run(engine)
    if run_date is None:
        return None, []
    rows = await store.pair_forecasts(engine, run_date, warehouse, sku)
    return run_date, sorted((hint_of(r, settings) for r in rows), key=risk_order)


async def hot_products(
    engine: AsyncEngine, min_units: float, limit: int
) -> tuple[date | None, list[Hot]]:
    """The latest run's fastest rising SKUs (``hottest``); its day."""
    run_date = await store.latest_run(engine)
    if run_date is None:
        return None, []
    rows = await store.sku_forecasts(engine, run_date, None)
    candidates = [
        hot(r.sku, r.last_7, r.last_28, list(r.daily), r.demand_class, r.method) for r in rows
    ]
    return run_date, hottest(candidates, min_units, limit)
