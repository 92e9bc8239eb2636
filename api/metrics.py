"""``GET /metrics``: the API's own numbers in the Prometheus text format (docs/metrics.md).

- Every request is counted and timed by :class:`RequestMetrics`, an ASGI middleware,
  under its method, its route's template (``/v1/orders/{order_id}``, never the raw path:
  ids would make a series per order) and its status code. Paths that match no route are
  counted under ``route="unmatched"``.
- The business gauges (orders per status, holds, late orders, open alerts, backorders,
  webhook deliveries, channel pull lag) are read from PostgreSQL when a scrape comes, at
  most once per ``OMS_METRICS_CACHE_S`` (``oms.store.metrics``); however many scrapes
  arrive, one read runs at a time. When the database does not answer, the scrape still
  answers 200 with ``oms_metrics_db_up 0`` and without the business gauges.
- Each app has a registry of its own (nothing in ``prometheus_client``'s global one): a
  process that builds several apps, as the tests do, counts each apart. ``oms api`` is
  one process (uvicorn without workers), so its counters are the whole of what it served;
  replicas are scraped one by one.
- Open to whoever reaches the port unless ``OMS_METRICS_TOKEN`` is set; then only
  ``Authorization: Bearer <token>``. Not in the OpenAPI document.
"""

from __future__ import annotations

import asyncio
import hmac
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.backlog import BacklogSampler
from api.errors import Problem
from oms.domain.status import OrderStatus
from oms.logging import get_logger
from oms.store import metrics as business

log = get_logger(__name__)
# No ``*_created`` series beside every counter and histogram: they double what a scrape
# carries and nothing here reads them (the process's setting, for every registry).
disable_created_metrics()

# Request latency buckets, seconds: most answers take milliseconds; a Temporal update or
# a query that waits on a worker takes up to a few seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


@dataclass(frozen=True)
class Gauge:
    """A business gauge the collector can produce: its name, labels and meaning."""

    name: str
    help: str
    labels: tuple[str, ...] = ()


DB_UP = Gauge("oms_metrics_db_up", "1 if the business gauges were read from PostgreSQL, else 0")
DB_READ = Gauge("oms_metrics_db_read_seconds", "How long the last read of the gauges took")
DB_AGE = Gauge("oms_metrics_db_age_seconds", "How old the business gauges are (the cache)")
ORDERS = Gauge("oms_orders", "Orders in the read model per status", ("status",))
HOLDS = Gauge("oms_holds_waiting", "Orders on hold, waiting for an operator's decision")
HOLD_AGE = Gauge("oms_hold_oldest_age_seconds", "Age of the oldest waiting hold (0: none)")
LATE = Gauge("oms_orders_late", "Open orders flagged late (past their dispatch or delivery SLA)")
ALERTS = Gauge("oms_alerts_open", "Open alerts per kind", ("kind",))
BACKORDER_UNITS = Gauge("oms_backorder_units", "Units waiting for stock in the backorder queue")
BACKORDERED = Gauge("oms_backorder_orders", "Orders with lines in the backorder queue")
DELIVERIES_FAILING = Gauge(
    "oms_webhook_deliveries_failing",
    "Webhook deliveries whose last attempt failed, waiting for a retry (enabled endpoints)",
)
DELIVERIES_PENDING = Gauge(
    "oms_webhook_deliveries_pending", "Webhook deliveries not yet attempted (enabled endpoints)"
)
DELIVERY_AGE = Gauge(
    "oms_webhook_delivery_oldest_age_seconds",
    "Age of the oldest undelivered webhook delivery (0: none)",
)
ENDPOINTS_FAILING = Gauge(
    "oms_webhook_endpoints_failing", "Enabled webhook endpoints whose every attempt fails"
)
ENDPOINTS_DISABLED = Gauge("oms_webhook_endpoints_disabled", "Webhook endpoints disabled")
PULL_LAG = Gauge(
    "oms_channel_pull_lag_seconds",
    "How far behind now a pull channel has taken every order (its cursor's age)",
    ("channel",),
)
PULL_FAILING = Gauge(
    "oms_channel_pull_failing", "1 while a pull channel's platform calls fail", ("channel",)
)
# Everything the collector can produce (docs/metrics.md lists them; a test checks that
# the alert rules and the dashboard name only these, the request metrics and Temporal's).
BUSINESS_GAUGES = (
    DB_UP,
    DB_READ,
    DB_AGE,
    ORDERS,
    HOLDS,
    HOLD_AGE,
    LATE,
    ALERTS,
    BACKORDER_UNITS,
    BACKORDERED,
    DELIVERIES_FAILING,
    DELIVERIES_PENDING,
    DELIVERY_AGE,
    ENDPOINTS_FAILING,
    ENDPOINTS_DISABLED,
    PULL_LAG,
    PULL_FAILING,
)


def _family(gauge: Gauge) -> GaugeMetricFamily:
    return GaugeMetricFamily(gauge.name, gauge.help, labels=list(gauge.labels))


def _single(gauge: Gauge, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(gauge.name, gauge.help, value=value)


class BusinessGauges:
    """A collector of the gauges read from PostgreSQL; :meth:`refresh` reads them (async),
    :meth:`collect` (called by the registry, synchronously) gives the last reading."""

    def __init__(self, engine: AsyncEngine, cache_s: float, timeout_s: float = 3.0) -> None:
        self._engine = engine
        self._cache_s = cache_s
        self._timeout_s = timeout_s
        self._lock = asyncio.Lock()
        self._fresh_until = 0.0
        self._read_at = 0.0
        self._read_s = 0.0
        self._snapshot: business.BusinessSnapshot | None = None

    async def refresh(self) -> None:
        if time.monotonic() < self._fresh_until:
            return
        async with self._lock:  # a scrape storm waits for one read, then shares it
            if time.monotonic() < self._fresh_until:
                return
            started = time.perf_counter()
            try:
                self._snapshot = await asyncio.wait_for(
                    business.snapshot(self._engine, self._timeout_s), self._timeout_s + 0.5
                )
            except Exception as exc:  # down, unreachable, slow: the scrape still answers
                self._snapshot = None
                log.warning("metrics_db_unavailable", error=str(exc)[:200] or type(exc).__name__)
            self._read_s = time.perf_counter() - started
            self._read_at = time.monotonic()
            # A failed read is kept as long as a good one: a storm of scrapes while the
            # database is down tries it once per period, not once per scrape.
            self._fresh_until = self._read_at + self._cache_s

    def describe(self) -> Iterable[Metric]:
        return []  # the registry must not collect (and so read nothing) when registering

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot
        yield _single(DB_UP, 1 if snap is not None else 0)
        yield _single(DB_READ, self._read_s)
        if snap is None:
            return
        yield _single(DB_AGE, max(0.0, time.monotonic() - self._read_at))
        orders = _family(ORDERS)
        by_status = {str(s): 0 for s in OrderStatus} | snap.orders_by_status
        for status, n in sorted(by_status.items()):
            orders.add_metric([status], n)
        yield orders
        yield _single(HOLDS, snap.holds_waiting)
        yield _single(HOLD_AGE, snap.oldest_hold_s)
        yield _single(LATE, snap.late)
        alerts = _family(ALERTS)
        for kind, n in sorted(snap.open_alerts.items()):
            alerts.add_metric([kind], n)
        yield alerts
        yield _single(BACKORDER_UNITS, snap.backorder_units)
        yield _single(BACKORDERED, snap.backordered_orders)
        yield _single(DELIVERIES_FAILING, snap.deliveries_failing)
        yield _single(DELIVERIES_PENDING, snap.deliveries_pending)
        yield _single(DELIVERY_AGE, snap.oldest_delivery_s)
        yield _single(ENDPOINTS_FAILING, snap.endpoints_failing)
        yield _single(ENDPOINTS_DISABLED, snap.endpoints_disabled)
        lag, failing = _family(PULL_LAG), _family(PULL_FAILING)
        for pull in snap.pulls:
            lag.add_metric([pull.channel], pull.lag_s)
            failing.add_metric([pull.channel], 1 if pull.failing else 0)
        yield lag
        yield failing


BACKLOG = Gauge(
    "oms_backlog",
    "Work waiting: the larger of the task queue's backlog and the unstarted orders "
    "(NaN without a fresh sample)",
)
BACKLOG_TASKS = Gauge(
    "oms_backlog_temporal_tasks",
    "Workflow and activity tasks on the task queue that no worker has taken (Temporal's "
    "approximate count; NaN when Temporal did not answer)",
)
BACKLOG_UNSTARTED = Gauge(
    "oms_backlog_unstarted_orders",
    "Orders accepted whose workflow has recorded no step yet (NaN when unread)",
)
BACKLOG_DISPATCH = Gauge(
    "oms_backlog_dispatch_per_second", "Tasks the workers take from the task queue a second"
)
BACKLOG_LIMIT = Gauge("oms_backlog_limit", "New orders are refused at this backlog (0: never)")
BACKLOG_AGE = Gauge(
    "oms_backlog_sample_age_seconds", "How old the last backlog sample is (NaN: none yet)"
)
BACKLOG_REFUSED = "oms_backlog_refusals"
# The intakes whose new orders the limit refuses (the refusals' label).
INTAKES = ("orders", "webhooks")
BACKLOG_GAUGES = (
    BACKLOG,
    BACKLOG_TASKS,
    BACKLOG_UNSTARTED,
    BACKLOG_DISPATCH,
    BACKLOG_LIMIT,
    BACKLOG_AGE,
)


class BacklogGauges:
    """The backlog sampler's last sample and refusals (``api.backlog``); no I/O here."""

    def __init__(self, sampler: BacklogSampler) -> None:
        self._sampler = sampler

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        sampler = self._sampler
        sample = sampler.sample
        nan = float("nan")
        fresh = sampler.fresh()
        stats = sample.temporal if sample is not None else None
        unstarted = sample.unstarted if sample is not None else None
        yield _single(BACKLOG, nan if fresh is None else float(fresh.backlog or 0))
        yield _single(BACKLOG_TASKS, nan if stats is None else stats.backlog)
        yield _single(BACKLOG_UNSTARTED, nan if unstarted is None else unstarted)
        yield _single(BACKLOG_DISPATCH, nan if stats is None else stats.dispatch_per_s)
        yield _single(BACKLOG_LIMIT, sampler.limit)
        age = nan if sample is None else max(0.0, time.monotonic() - sample.at)
        yield _single(BACKLOG_AGE, age)
        refused = CounterMetricFamily(
            BACKLOG_REFUSED,
            "New orders refused with 429 backlog-full, per intake (orders: POST /v1/orders; "
            "webhooks: the platforms' pushes)",
            labels=["intake"],
        )
        for intake in INTAKES:
            refused.add_metric([intake], sampler.refused.get(intake, 0))
        yield refused


class ApiMetrics:
    """One app's registry: the request metrics, the business gauges, the process's own."""

    def __init__(
        self, engine: AsyncEngine, cache_s: float, backlog: BacklogSampler | None = None
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter(
            "oms_http_requests",
            "HTTP requests answered, per method, route template and status code",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "oms_http_request_duration_seconds",
            "Time from a request's arrival to its answer's end, per method, route and status",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)
        self.business = BusinessGauges(engine, cache_s)
        self.registry.register(self.business)
        if backlog is not None:
            self.registry.register(BacklogGauges(backlog))
        # (method, route, status) -> the counter's and the histogram's children: looking
        # a child up by labels takes a lock and builds a tuple; this is one dict lookup.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            labels = (method, route, str(status))
            children = (self.requests.labels(*labels), self.latency.labels(*labels))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    async def render(self) -> bytes:
        await self.business.refresh()
        return generate_latest(self.registry)


class Routes:
    """The route template of a request. The router records the route it chose in the
    scope; a request answered before routing (a body over the size limit) is matched here
    against the templates of the OpenAPI document, built once, on the first such request."""

    def __init__(self) -> None:
        self._templates: list[tuple[re.Pattern[str], str]] | None = None

    def of(self, scope: Scope, status: int) -> str:
        path = getattr(scope.get("route"), "path", None)
        if isinstance(path, str):
            return path
        app = scope.get("app")
        if status == 404 or app is None:
            return UNMATCHED
        if self._templates is None:
            # Static segments before parameters: /v1/ops/stuck before /v1/ops/{x}.
            paths = sorted(app.openapi().get("paths", {}), key=lambda p: (p.count("{"), p))
            self._templates = [(compile_path(p)[0], p) for p in paths]
        for pattern, template in self._templates:
            if pattern.match(scope["path"]):
                return template
        return UNMATCHED


class RequestMetrics:
    """Counts and times every HTTP request (the outermost middleware, so a refusal by
    another middleware is counted too)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = Routes()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, capture)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "other"
            self.metrics.observe(
                method, self.routes.of(scope, status), status, time.perf_counter() - started
            )


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def read_metrics(request: Request) -> Response:
    token = request.app.state.settings.metrics_token
    if token:
        sent = request.headers.get("authorization", "")
        scheme, _, value = sent.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            value.strip().encode(), token.encode()
        ):
            raise Problem(
                401,
                "send the metrics token as 'Authorization: Bearer <token>'",
                kind="unauthenticated",
                headers={"WWW-Authenticate": "Bearer"},
            )
    metrics: ApiMetrics = request.app.state.metrics
    return Response(await metrics.render(), media_type=CONTENT_TYPE_PLAIN_0_0_4)
