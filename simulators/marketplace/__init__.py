"""The marketplace simulator: Taobao, JD, PDD and Amazon seller APIs to pull orders from,
Shopify, WooCommerce and native webhooks pushed to the OMS, and every platform's ship call.
See docs/marketplace-simulator.md.

:func:`install` adds its routers to the simulators' app and returns the background loop
the app's lifespan runs; :func:`market_app` serves the marketplaces alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from oms.settings import Settings
from simulators.marketplace import admin, amazon, jd, pdd, shops, taobao
from simulators.marketplace.common import Market
from simulators.marketplace.generator import MARKET_PLATFORMS
from simulators.marketplace.pusher import MarketLoop, Pusher
from simulators.marketplace.store import MarketClock, MarketStore, PlatformFaults, TokenBucket


def platforms_of(setting: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in setting.split(",") if p.strip())
    unknown = [p for p in names if p not in MARKET_PLATFORMS]
    if unknown:
        raise ValueError(f"unknown platforms: {', '.join(unknown)}")
    return names


def install(app: FastAPI, settings: Settings) -> tuple[MarketLoop, Pusher]:
    """Routers on ``app``, the market in ``app.state.market``, the pusher in
    ``app.state.market_pusher``; the loop and the pusher for the lifespan to run and close."""
    store = MarketStore(MarketClock(settings.sim_market_clock_offset_s))
    market = Market(
        store=store,
        faults=PlatformFaults(failure_ratio=settings.sim_market_failure_ratio),
        amazon_bucket=TokenBucket(
            settings.sim_market_amazon_rate, settings.sim_market_amazon_burst
        ),
        app_key=settings.sim_market_app_key,
        app_secret=settings.sim_market_app_secret,
        pdd_lag_s=settings.sim_market_pdd_lag_s,
        amazon_lag_s=settings.sim_market_amazon_lag_s,
        amazon_rate=settings.sim_market_amazon_rate,
    )
    pusher = Pusher(
        store,
        retries=settings.sim_market_push_retries,
        backoff_s=settings.sim_market_push_backoff_s,
        timeout_s=settings.sim_market_push_timeout_s,
        concurrency=settings.sim_market_push_concurrency,
    )
    loop = MarketLoop(
        store,
        rate=settings.sim_market_rate,
        platforms=platforms_of(settings.sim_market_platforms),
        delay_s=settings.sim_market_lifecycle_s,
    )
    app.state.market = market
    app.state.market_pusher = pusher
    for module in (taobao, pdd, jd, amazon, shops, admin):
        app.include_router(module.router)
    return loop, pusher


def market_app(settings: Settings) -> FastAPI:
    """The marketplaces alone, without the database the other partners need: for tests and
    benchmarks that play only the sales platforms."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(loop.run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await pusher.aclose()

    app = FastAPI(title="marketplace simulator", lifespan=lifespan)
    app.state.settings = settings
    loop, pusher = install(app, settings)
    return app
