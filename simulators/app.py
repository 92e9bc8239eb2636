"""The simulators' process: the sandbox gateway, the WMS and the carrier in one app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from oms.db.engine import make_engine
from oms.settings import Settings, SettingsError
from simulators import (
    admin,
    alert_sink,
    carrier,
    gateway,
    marketplace,
    wms,
    wms_returns,
    wms_stock,
)
from simulators.faults import FaultBook
from simulators.refusals import Refusals
from simulators.tables import create_tables


def create_sim_app(settings: Settings, engine: AsyncEngine | None = None) -> FastAPI:
    try:
        faults = FaultBook(settings.sim_faults)
    except ValueError as exc:
        raise SettingsError(f"OMS_SIM_FAULTS: {exc}") from exc
    owned = engine is None
    db = engine or make_engine(settings, pool_size=5)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await create_tables(db)
        courier = wms.Courier(db, settings, faults)
        task = asyncio.create_task(courier.run())
        market_task = asyncio.create_task(market_loop.run())
        yield
        for running in (task, market_task):
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
        await courier.aclose()
        await market_pusher.aclose()
        if owned:
            await db.dispose()

    app = FastAPI(title="OMS simulators", lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = db
    # One book for the endpoints, the courier and PUT /sim/faults, so a change applies to all.
    app.state.faults = faults
    # Warehouses refusing dispatches: OMS_SIM_REFUSE_WAREHOUSES, then PUT /sim/wms/refusals.
    app.state.refusals = Refusals.from_setting(settings.sim_refuse_warehouses)
    app.include_router(gateway.router)
    app.include_router(wms.router)
    app.include_router(wms_stock.router)
    app.include_router(wms_returns.router)
    # Returned units the sandbox WMS counts damaged or missing: PUT /sim/wms/return-conditions.
    app.state.return_conditions = {}
    app.include_router(carrier.router)
    app.include_router(admin.router)
    app.include_router(alert_sink.router)
    app.state.alerts_received = []
    # The marketplaces (Taobao, JD, PDD, Amazon, Shopify, WooCommerce): in memory.
    try:
        market_loop, market_pusher = marketplace.install(app, settings)
    except ValueError as exc:
        raise SettingsError(f"OMS_SIM_MARKET_PLATFORMS: {exc}") from exc
    return app
