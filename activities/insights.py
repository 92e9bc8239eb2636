"""The nightly forecast's step: ``oms.insights.run.run_forecast`` for the run day.

Idempotent: the day's forecasts are replaced in one transaction, and a stock-out alert
that is open already is not raised again, so a retry (or a second run of the day) leaves
what one run leaves.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from oms.contract import ForecastSteps
from oms.insights.messages import ForecastRun, ForecastRunResult
from oms.insights.run import AlertSink, run_forecast
from oms.settings import Settings


class ForecastActivities(ForecastSteps):
    def __init__(self, engine: AsyncEngine, settings: Settings, alerts: AlertSink) -> None:
        self._engine = engine
        self._settings = settings
        self._alerts = alerts

    @activity.defn
    async def forecast_demand(self, req: ForecastRun) -> ForecastRunResult:
        run_date = date.fromisoformat(req.run_date)
        return await run_forecast(self._engine, self._settings, run_date, self._alerts)
