"""The FastAPI application: routers, error handlers, middleware, shared clients."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from api import console
from api.backlog import BacklogSampler
from api.errors import install_error_handlers
from api.metrics import ApiMetrics, RequestMetrics
from api.metrics import router as metrics_router
from api.middleware import BodyLimit, RequestLog
from api.rate_limit import RateLimits
from api.routes import (
    admin,
    alerts,
    channel_shadow,
    channel_webhooks,
    channels,
    codec,
    insights,
    insights_routing,
    inventory,
    ops,
    order_changes,
    orders,
    reports,
    returns,
    shadow,
    webhook_endpoints,
    webhooks,
)
from api.schemas.webhooks import document_webhooks
from oms import channel_registry
from oms.codec import EncryptionCodec
from oms.db.engine import make_engine
from oms.logging import get_logger
from oms.settings import Settings
from oms.temporal_client import connect

log = get_logger(__name__)


class TemporalHolder:
    """Connects on first use, so the API starts (and reports health) while Temporal is down."""

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self._settings = settings
        self._client = client
        self._lock = asyncio.Lock()
        self._retry_at = 0.0

    async def get(self) -> Client | None:
        if self._client is not None:
            return self._client
        async with self._lock:
            # One attempt at a time, and none again for a moment after one failed: requests
            # queued behind a failed attempt get their 503 at once, not 5 s each in turn.
            if self._client is None and time.monotonic() >= self._retry_at:
                try:
                    self._client = await asyncio.wait_for(connect(self._settings), timeout=5)
                except Exception as exc:
                    self._retry_at = time.monotonic() + 2
                    log.warning("temporal_unreachable", error=str(exc)[:200])
        return self._client


def create_app(
    settings: Settings, engine: AsyncEngine | None = None, temporal: Client | None = None
) -> FastAPI:
    owned_engine = engine is None
    db = engine or make_engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sampling = asyncio.create_task(backlog.run())
        try:
            yield
        finally:
            await backlog.stop(sampling)
            if owned_engine:
                await db.dispose()

    app = FastAPI(
        title="OMS",
        version="1",
        summary="Order management: every order is a durable Temporal workflow.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = db
    app.state.temporal = TemporalHolder(settings, temporal)
    # Sampled by a task of the lifespan; new orders read its last sample (api.backlog).
    backlog = BacklogSampler(settings, db, app.state.temporal.get)
    app.state.backlog = backlog
    app.state.codec = (
        EncryptionCodec.from_setting(settings.payload_keys) if settings.payload_keys else None
    )
    install_error_handlers(app)
    app.state.rate_limits = RateLimits()
    app.state.metrics = ApiMetrics(db, settings.metrics_cache_s, backlog)
    channel_registry.configure(settings.payload_keys)
    for module in (
        orders,
        order_changes,
        inventory,
        webhooks,
        channels,
        channel_webhooks,
        channel_shadow,
        shadow,
        admin,
        codec,
        ops,
        alerts,
        reports,
        insights,
        insights_routing,
        returns,
    ):
        app.include_router(module.router)
    app.include_router(codec.console_router)
    app.include_router(webhook_endpoints.router)
    app.include_router(metrics_router)
    document_webhooks(app)
    app.add_middleware(
        BodyLimit,
        limit=settings.max_body_bytes,
        larger={
            console.IMPORT_PATH: settings.console_import_max_bytes,
            shadow.DECISIONS_PATH: settings.console_import_max_bytes,
        },
    )
    # After the body limit: the console's error pages wrap its 413 too.
    console.install(app)
    app.add_middleware(RequestLog)
    # Outermost: every request is counted, those another middleware refuses included.
    app.add_middleware(RequestMetrics, metrics=app.state.metrics)
    return app
