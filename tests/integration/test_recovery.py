"""An order recorded while Temporal was unreachable is started by the worker's recovery."""

from __future__ import annotations

from sqlalchemy import text

from tests.integration.helpers import (
    TERMINAL,
    has_workflow,
    order_body,
    recorded_without_workflow,
    stocked,
    wait_for_status,
)
from worker.recovery import start_unstarted_orders


async def _token(system, order_id: str) -> str | None:
    async with system.engine.connect() as conn:
        return (
            await conn.execute(
                text("SELECT payment_token FROM orders WHERE id = :id"), {"id": order_id}
            )
        ).scalar_one()


async def test_an_order_whose_workflow_never_started_is_started_and_delivered(admin, system):
    _, sku = await stocked(admin, 1)
    body = order_body([(sku, 1)])
    order_id = await recorded_without_workflow(system, body, "received", 0)
    assert not await has_workflow(system, order_id)

    # Younger than the grace period: left alone (intake may still be starting it).
    assert await start_unstarted_orders(system.client, system.engine, system.settings, 3600) == 0
    assert not await has_workflow(system, order_id)

    swept = await start_unstarted_orders(system.client, system.engine, system.settings, 0)

    assert swept >= 1
    done = await wait_for_status(admin, order_id, TERMINAL)
    assert done["status"] == "delivered"
    assert await _token(system, order_id) is None  # not kept once the workflow has it


async def test_recovery_leaves_started_and_finished_orders_alone(admin, system):
    _, sku = await stocked(admin, 2)
    running = await recorded_without_workflow(system, order_body([(sku, 1)]), "received", 0)
    await start_unstarted_orders(system.client, system.engine, system.settings, 0)
    finished = await recorded_without_workflow(system, order_body([(sku, 1)]), "failed", 3)

    again = await start_unstarted_orders(system.client, system.engine, system.settings, 0)

    assert again == 0
    assert not await has_workflow(system, finished)
    assert (await wait_for_status(admin, running, TERMINAL))["status"] == "delivered"
