"""Recovery: start the workflow of any order that was recorded but never started.

Intake writes the order row, then starts its workflow. If Temporal was unreachable at that
moment the client got a 503, and if it never retried, the order would sit as ``received``
for good. The worker sweeps for such rows (still ``received``, no step recorded, a payment
token kept, older than a grace period) and starts them; the start is idempotent, and a
row whose workflow turns out to exist already just has its token dropped.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.converter import value_to_type

from oms import channel_registry
from oms.domain.messages import OrderView
from oms.logging import get_logger
from oms.order_start import start_order
from oms.settings import Settings
from oms.store import orders

log = get_logger(__name__)


async def start_unstarted_orders(
    client: Client, engine: AsyncEngine, settings: Settings, older_than_s: float
) -> int:
    """One sweep; returns how many workflows it started."""
    rows = await orders.unstarted(engine, older_than_s)
    started = 0
    for row in rows:
        view = value_to_type(OrderView, row.view, [])
        # The order's channel: its shortage and split, a platform order's payment timer.
        channel = await channel_registry.load_channel(engine, view.channel)
        if await start_order(client, settings, view, row.payment_token, channel=channel):
            started += 1
            log.warning("order_workflow_recovered", order_id=row.id)
        # Started now or before: either way the workflow holds the token from here on.
        await orders.forget_token(engine, row.id)
    return started


async def recovery_loop(client: Client, engine: AsyncEngine, settings: Settings) -> None:
    while True:
        try:
            await start_unstarted_orders(client, engine, settings, settings.recovery_age_s)
        except Exception as exc:  # Temporal or the database down: try again next round
            log.warning("recovery_sweep_failed", error=str(exc)[:200])
        await asyncio.sleep(settings.recovery_interval_s)
