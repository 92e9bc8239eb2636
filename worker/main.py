"""The worker: order and shipment workflows plus every activity, on one task queue."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.worker import Worker

from activities.alerts import AlertActivities
from activities.bookkeeping import BookkeepingActivities
from activities.carrier import CarrierActivities
from activities.channel_feedback import ChannelFeedbackActivities
from activities.channel_pull import ChannelPullActivities
from activities.holds import HoldActivities
from activities.insights import ForecastActivities
from activities.inventory import InventoryActivities
from activities.payments import PaymentActivities
from activities.read_model import ReadModelActivities
from activities.refunds import RefundActivities
from activities.returns import ReturnActivities
from activities.stock_sync import StockSyncActivities
from activities.warehouse import WarehouseActivities
from activities.webhook_delivery import DeliveryConfig, OutboxListener, WebhookDeliveryActivities
from oms import channel_registry
from oms.adapters.carrier import HttpCarrier
from oms.adapters.payment_gateway import HttpPaymentGateway
from oms.adapters.wms import HttpWarehouseSystem
from oms.alerts import AlertStore
from oms.channel_registry import pull_channels
from oms.db.engine import make_engine
from oms.domain.routing import parse_routing
from oms.empty_parcel import EmptyParcelWatch, policy_of
from oms.events_out.starter import ensure_endpoint_workflow
from oms.logging import configure_logging, get_logger
from oms.pull_schedules import sync_pull_schedules
from oms.risk.scorer import RiskScorer
from oms.routing_learning import learn_loop
from oms.settings import Settings
from oms.store import webhook_endpoints
from oms.temporal_client import (
    connect,
    metrics_address,
    metrics_runtime,
    register_search_attributes,
)
from worker.backorder_waker import BackorderWaker
from worker.recovery import recovery_loop
from worker.retry_alerts import RetryAlerts
from worker.schedules import ensure_forecast_schedule, ensure_wms_stock_sync
from worker.tuning import worker_options
from workflows.channel_pull import ChannelPullWorkflow
from workflows.forecast import ForecastWorkflow
from workflows.legacy.order import LegacyOrderWorkflow
from workflows.legacy.order_lean import LeanOrderWorkflow
from workflows.legacy.shipment import ShipmentWorkflow
from workflows.order import OrderWorkflow
from workflows.refund import RefundWorkflow
from workflows.returns import ReturnWorkflow
from workflows.stock_sync import WmsStockSyncWorkflow
from workflows.webhook_delivery import WebhookEndpointWorkflow

log = get_logger(__name__)

# The current order, the frozen shapes that may still have orders in flight, the stock
# pull, the channels' order pulls and the nightly forecast. New orders start only as the
# current one.
WORKFLOWS = [
    OrderWorkflow,
    LeanOrderWorkflow,
    LegacyOrderWorkflow,
    ShipmentWorkflow,
    WmsStockSyncWorkflow,
    ChannelPullWorkflow,
    WebhookEndpointWorkflow,
    ForecastWorkflow,
    ReturnWorkflow,
    RefundWorkflow,
]


def build_activities(
    engine: AsyncEngine, settings: Settings, swap: Mapping[str, Callable[..., Any]] | None = None
) -> list[Callable[..., Any]]:
    """Every activity the worker runs. ``swap`` (tests only) runs another function under
    an activity's name, where a test slows or breaks one step; ``bookkeep`` carries the
    swapped step too."""
    gateway = HttpPaymentGateway(settings.gateway_base_url, settings.payment_gateway_key)
    wms = HttpWarehouseSystem(settings.wms_base_url, settings.wms_api_key)
    payments = PaymentActivities(engine, gateway)
    holds = HoldActivities(
        engine,
        settings.hold_policy(),
        RiskScorer(engine, settings.risk_model_recheck_s),
        settings.risk_hold_score,
    )
    alerts = AlertActivities(alert_store(engine, settings))
    channel_registry.configure(settings.payload_keys)  # channels' routing, their secrets
    inventory = InventoryActivities(
        engine,
        parse_routing(settings.routing),
        settings.routing_day_value,
        settings.routing_min_samples,
    )
    warehouse = WarehouseActivities(engine, wms)
    carrier = CarrierActivities(
        engine, HttpCarrier(settings.carrier_base_url, settings.carrier_api_key)
    )
    empty_parcels = EmptyParcelWatch(engine, policy_of(settings), alert_store(engine, settings))
    read_model = ReadModelActivities(engine, empty_parcels)
    stock_sync = StockSyncActivities(engine, wms, alert_store(engine, settings))
    feedback = ChannelFeedbackActivities(engine)
    channel_pull = ChannelPullActivities(engine, settings, alert_store(engine, settings))
    webhooks = webhook_activities(engine, settings)
    forecast = ForecastActivities(engine, settings, alert_store(engine, settings))
    refunds = RefundActivities(engine, gateway)
    carrier_api = HttpCarrier(settings.carrier_base_url, settings.carrier_api_key)
    returns = ReturnActivities(engine, settings, wms, carrier_api)
    own: list[Callable[..., Any]] = [
        payments.authorize_payment,
        payments.capture_payment,
        payments.void_payment,
        payments.record_platform_payment,
        payments.record_imported_payment,
        payments.adjust_authorization,
        inventory.reserve_stock,
        inventory.release_stock,
        inventory.commit_stock,
        inventory.plan_stock,
        inventory.edit_stock,
        feedback.report_shipment,
        warehouse.dispatch_shipment,
        carrier.follow_shipment,
        read_model.record_order_event,
        read_model.record_shipment,
        holds.check_holds,
        alerts.raise_alert,
        stock_sync.pull_wms_stock,
        channel_pull.pull_channel,
        webhooks.deliver_due,
        forecast.forecast_demand,
        refunds.refund_payment,
        returns.record_return,
        returns.send_return_label,
        returns.receive_return,
        returns.resolve_return,
    ]
    swap = swap or {}
    unknown = set(swap) - {fn.__name__ for fn in own}
    if unknown:
        raise ValueError(f"no activity to swap named {sorted(unknown)}")
    chosen = [swap.get(fn.__name__, fn) for fn in own]
    steps = {fn.__name__: fn for fn in own} | dict(swap)
    bookkeeping = BookkeepingActivities(
        read_model.write_batch,
        steps["check_holds"],
        steps["reserve_stock"],
        steps["commit_stock"],
        steps["release_stock"],
    )
    return [*chosen, bookkeeping.bookkeep]


def webhook_activities(engine: AsyncEngine, settings: Settings) -> WebhookDeliveryActivities:
    """Events out (docs/events-out.md): one LISTEN connection per worker for them all."""
    config = DeliveryConfig(
        payload_keys=settings.payload_keys,
        allow_private=settings.webhook_allow_private,
        loopback_only=settings.webhook_loopback_only,
        schedule=settings.webhook_schedule(),
        disable_after_s=settings.webhook_disable_after_s,
        run_s=settings.webhook_activity_s,
        concurrency=settings.webhook_concurrency,
    )
    listener = OutboxListener(settings.listen_dsn)
    return WebhookDeliveryActivities(engine, config, alert_store(engine, settings), listener)


async def ensure_webhook_endpoints(client: Client, engine: AsyncEngine, settings: Settings) -> int:
    """A delivery workflow for every enabled endpoint (one that runs is left as it is)."""
    ids = await webhook_endpoints.enabled_ids(engine)
    for endpoint_id in ids:
        await ensure_endpoint_workflow(client, settings.task_queue, endpoint_id)
    return len(ids)


async def webhook_endpoint_sweep(client: Client, engine: AsyncEngine, settings: Settings) -> None:
    """At start and then every recovery interval: an endpoint created or enabled while
    Temporal could not be reached gets its workflow."""
    while True:
        try:
            await ensure_webhook_endpoints(client, engine, settings)
        except Exception as exc:  # the database or Temporal away: next time
            log.warning("webhook_endpoints_not_ensured", error=str(exc)[:200])
        await asyncio.sleep(max(settings.recovery_interval_s, 1.0))


def alert_store(engine: AsyncEngine, settings: Settings) -> AlertStore:
    return AlertStore(engine, settings.alert_webhook_url, settings.alert_webhook_secret)


def build_worker(
    client: Client,
    engine: AsyncEngine,
    settings: Settings,
    replace: Mapping[str, Callable[..., Any]] | None = None,
) -> Worker:
    """The worker; ``replace`` swaps activities by name (tests slow or break one step)."""
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=build_activities(engine, settings, replace),
        interceptors=[RetryAlerts(alert_store(engine, settings))],
        **worker_options(settings),
    )


def worker_runtime(settings: Settings, process: int = 0) -> Runtime | None:
    """The SDK runtime serving this process's Temporal metrics on
    ``OMS_WORKER_METRICS_ADDRESS`` (port + ``process``), or None when that is not set or
    cannot be bound: a worker without metrics still works its orders (and the alert on
    its absent metrics says so), a worker that refused to start would not."""
    if not settings.worker_metrics_address:
        return None
    try:
        address = metrics_address(settings.worker_metrics_address, process)
        runtime = metrics_runtime(address)
    except ValueError as exc:
        log.error("worker_metrics_unavailable", process=process, error=str(exc)[:200])
        return None
    log.info("worker_metrics", process=process, url=f"http://{address}/metrics")
    return runtime


async def connect_with_retry(
    settings: Settings, max_delay_s: float = 30.0, runtime: Runtime | None = None
) -> Client:
    """Connect to Temporal, waiting for it as long as it takes: a worker started before
    its server (or while the server restarts) comes up on its own when the server does."""
    delay = 0.5
    attempt = 1
    while True:
        try:
            return await asyncio.wait_for(connect(settings, runtime), timeout=10)
        except Exception as exc:  # unreachable, refused, timed out: all mean "not yet"
            log.warning(
                "temporal_unreachable",
                temporal=settings.temporal_target,
                attempt=attempt,
                retry_in_s=delay,
                error=str(exc)[:200] or type(exc).__name__,
            )
        await asyncio.sleep(delay)
        delay = min(max_delay_s, delay * 2)
        attempt += 1


async def run_worker(settings: Settings, singletons: bool = True, process: int = 0) -> None:
    """The worker until SIGTERM or SIGINT. ``singletons``: also the schedule, the search
    attributes, the recovery sweep and the backorder waker (one process of several runs
    them: ``worker.processes``). ``process``: this process's index among several (its
    metrics port is the configured one plus the index)."""
    configure_logging(settings.log_format, settings.log_level)
    # Every worker LISTENs (events out; the waker too with the singletons): a URL it
    # cannot LISTEN on (a transaction pooler without OMS_LISTEN_DATABASE_URL) stops it
    # here with the message, not later in a background task.
    settings.listen_dsn()
    client = await connect_with_retry(settings, runtime=worker_runtime(settings, process))
    engine = make_engine(settings)
    if singletons:
        await _ensure_namespace_setup(client, engine, settings)
    worker = build_worker(client, engine, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker_started",
        task_queue=settings.task_queue,
        temporal=settings.temporal_target,
        singletons=singletons,
    )
    background: list[asyncio.Task[None]] = []
    if singletons:
        waker = BackorderWaker(client, settings.listen_dsn())
        background = [
            asyncio.create_task(recovery_loop(client, engine, settings)),
            asyncio.create_task(waker.run(stop)),
            asyncio.create_task(webhook_endpoint_sweep(client, engine, settings)),
        ]
        if settings.routing_learn_interval_s > 0:  # the learned delivery times
            interval, days = settings.routing_learn_interval_s, settings.routing_learn_days
            background.append(asyncio.create_task(learn_loop(engine, interval, days)))
    async with worker:
        await stop.wait()
        log.info("worker_stopping")
        if background:
            # The loops; the waker (background[1]) ends on ``stop``.
            for n, task in enumerate(background):
                if n != 1:
                    task.cancel()
            # Bounded: a loop that outlived its cancel (asyncio.wait_for on Python 3.11
            # can lose one) must not keep the process from stopping.
            _, pending = await asyncio.wait(background, timeout=10)
            if pending:
                log.warning("worker_loops_not_stopped", count=len(pending))
    await engine.dispose()


async def _ensure_namespace_setup(client: Client, engine: AsyncEngine, settings: Settings) -> None:
    try:
        await register_search_attributes(client, settings.temporal_namespace)
    except Exception as exc:  # e.g. a hosted namespace where only its admins may register
        log.warning("search_attributes_not_registered", error=str(exc)[:200])
    try:
        await ensure_wms_stock_sync(client, settings)
    except Exception as exc:  # e.g. a namespace where this worker may not manage schedules
        log.warning("schedule_not_updated", schedule="wms-stock-sync", error=str(exc)[:200])
    try:
        await ensure_forecast_schedule(client, settings)
    except Exception as exc:  # e.g. a namespace where this worker may not manage schedules
        log.warning("schedule_not_updated", schedule="insights-forecast", error=str(exc)[:200])
    try:
        # One schedule per channel that pulls; those of channels gone or disabled deleted.
        await sync_pull_schedules(client, settings, await pull_channels(engine))
    except Exception as exc:  # the database or Temporal: the channel API syncs them too
        log.warning("schedule_not_updated", schedule="channel-pull-*", error=str(exc)[:200])
