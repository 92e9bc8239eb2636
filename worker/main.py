"""The worker: order and shipment workflows plus every activity, on one task queue."""

from __future__ import annotations

import asyncio
import signal

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.worker import Worker

from activities.inventory import InventoryActivities
from activities.payments import PaymentActivities
from activities.read_model import ReadModelActivities
from activities.warehouse import WarehouseActivities
from oms.adapters.payment_gateway import HttpPaymentGateway
from oms.adapters.wms import HttpWarehouseSystem
from oms.db.engine import make_engine
from oms.logging import configure_logging, get_logger
from oms.settings import Settings
from oms.temporal_client import connect
from workflows.order import OrderWorkflow
from workflows.shipment import ShipmentWorkflow

log = get_logger(__name__)

WORKFLOWS = [OrderWorkflow, ShipmentWorkflow]


def build_worker(client: Client, engine: AsyncEngine, settings: Settings) -> Worker:
    gateway = HttpPaymentGateway(settings.gateway_base_url, settings.payment_gateway_key)
    wms = HttpWarehouseSystem(settings.wms_base_url, settings.wms_api_key)
    payments = PaymentActivities(engine, gateway)
    inventory = InventoryActivities(engine)
    warehouse = WarehouseActivities(engine, wms)
    read_model = ReadModelActivities(engine)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=[
            payments.authorize_payment,
            payments.capture_payment,
            payments.void_payment,
            inventory.reserve_stock,
            inventory.release_stock,
            inventory.commit_stock,
            warehouse.dispatch_shipment,
            read_model.record_order_event,
            read_model.record_shipment,
        ],
    )


async def run_worker(settings: Settings) -> None:
    configure_logging(settings.log_format, settings.log_level)
    client = await connect(settings)
    engine = make_engine(settings)
    worker = build_worker(client, engine, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker_started", task_queue=settings.task_queue, temporal=settings.temporal_target)
    async with worker:
        await stop.wait()
        log.info("worker_stopping")
    await engine.dispose()
