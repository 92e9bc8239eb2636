"""The worker: order and shipment workflows plus every activity, on one task queue."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.worker import Worker

from activities.alerts import AlertActivities, AlertStore
from activities.bookkeeping import BookkeepingActivities
from activities.holds import HoldActivities
from activities.inventory import InventoryActivities
from activities.payments import PaymentActivities
from activities.read_model import ReadModelActivities
from activities.stock_sync import StockSyncActivities
from activities.warehouse import WarehouseActivities
from oms.adapters.payment_gateway import HttpPaymentGateway
from oms.adapters.wms import HttpWarehouseSystem
from oms.db.engine import make_engine
from oms.domain.routing import parse_routing
from oms.logging import configure_logging, get_logger
from oms.settings import Settings
from oms.temporal_client import connect, register_search_attributes
from worker.backorder_waker import BackorderWaker, listen_dsn
from worker.recovery import recovery_loop
from worker.retry_alerts import RetryAlerts
from worker.schedules import ensure_wms_stock_sync
from worker.tuning import worker_options
from workflows.order import OrderWorkflow
from workflows.order_lean import BatchedOrderWorkflow, LeanOrderWorkflow
from workflows.shipment import ShipmentWorkflow
from workflows.stock_sync import WmsStockSyncWorkflow

log = get_logger(__name__)

WORKFLOWS = [
    BatchedOrderWorkflow,
    LeanOrderWorkflow,
    OrderWorkflow,
    ShipmentWorkflow,
    WmsStockSyncWorkflow,
]


def build_activities(engine: AsyncEngine, settings: Settings) -> dict[str, Callable[..., Any]]:
    """Every activity by its registered name."""
    gateway = HttpPaymentGateway(settings.gateway_base_url, settings.payment_gateway_key)
    wms = HttpWarehouseSystem(settings.wms_base_url, settings.wms_api_key)
    payments = PaymentActivities(engine, gateway)
    holds = HoldActivities(engine, settings.hold_policy())
    alerts = AlertActivities(alert_store(engine, settings))
    inventory = InventoryActivities(engine, parse_routing(settings.routing))
    warehouse = WarehouseActivities(engine, wms)
    read_model = ReadModelActivities(engine)
    stock_sync = StockSyncActivities(engine, wms, alert_store(engine, settings))
    activities: dict[str, Callable[..., Any]] = {
        "authorize_payment": payments.authorize_payment,
        "capture_payment": payments.capture_payment,
        "void_payment": payments.void_payment,
        "reserve_stock": inventory.reserve_stock,
        "release_stock": inventory.release_stock,
        "commit_stock": inventory.commit_stock,
        "dispatch_shipment": warehouse.dispatch_shipment,
        "record_order_event": read_model.record_order_event,
        "record_shipment": read_model.record_shipment,
        "check_holds": holds.check_holds,
        "raise_alert": alerts.raise_alert,
        "pull_wms_stock": stock_sync.pull_wms_stock,
    }
    # The lean order's records and next local step in one local activity; its steps are
    # looked up in this dict when they run, so a swapped activity is the one they run.
    activities["bookkeep"] = BookkeepingActivities(read_model, activities).bookkeep
    return activities


def alert_store(engine: AsyncEngine, settings: Settings) -> AlertStore:
    return AlertStore(engine, settings.alert_webhook_url, settings.alert_webhook_secret)


def build_worker(
    client: Client,
    engine: AsyncEngine,
    settings: Settings,
    replace: dict[str, Callable[..., Any]] | None = None,
) -> Worker:
    """The worker; ``replace`` swaps activities by name (tests slow or break one step)."""
    activities = build_activities(engine, settings)
    activities.update(replace or {})  # in place: ``bookkeep`` finds the swapped steps
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=list(activities.values()),
        interceptors=[RetryAlerts(alert_store(engine, settings))],
        **worker_options(settings),
    )


async def connect_with_retry(settings: Settings, max_delay_s: float = 30.0) -> Client:
    """Connect to Temporal, waiting for it as long as it takes: a worker started before
    its server (or while the server restarts) comes up on its own when the server does."""
    delay = 0.5
    attempt = 1
    while True:
        try:
            return await asyncio.wait_for(connect(settings), timeout=10)
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


async def run_worker(settings: Settings, singletons: bool = True) -> None:
    """The worker until SIGTERM or SIGINT. ``singletons``: also the schedule, the search
    attributes, the recovery sweep and the backorder waker (one process of several runs
    them: ``worker.processes``)."""
    configure_logging(settings.log_format, settings.log_level)
    client = await connect_with_retry(settings)
    if singletons:
        await _ensure_namespace_setup(client, settings)
    engine = make_engine(settings)
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
        waker = BackorderWaker(client, listen_dsn(settings.async_database_url()))
        background = [
            asyncio.create_task(recovery_loop(client, engine, settings)),
            asyncio.create_task(waker.run(stop)),
        ]
    async with worker:
        await stop.wait()
        log.info("worker_stopping")
        if background:
            background[0].cancel()  # the recovery loop; the waker ends on ``stop``
            await asyncio.gather(*background, return_exceptions=True)
    await engine.dispose()


async def _ensure_namespace_setup(client: Client, settings: Settings) -> None:
    try:
        await register_search_attributes(client, settings.temporal_namespace)
    except Exception as exc:  # e.g. a hosted namespace where only its admins may register
        log.warning("search_attributes_not_registered", error=str(exc)[:200])
    try:
        await ensure_wms_stock_sync(client, settings)
    except Exception as exc:  # e.g. a namespace where this worker may not manage schedules
        log.warning("schedule_not_updated", schedule="wms-stock-sync", error=str(exc)[:200])
