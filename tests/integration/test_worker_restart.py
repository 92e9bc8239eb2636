"""The worker dies in the middle of an order: another one finishes it, nothing done twice."""

from __future__ import annotations

import asyncio

import httpx

from devtools.ports import free_port
from tests.conftest import ADMIN_KEY, System, _serve
from tests.integration.helpers import TERMINAL, order_body, stocked, submit, wait_for_status
from tests.integration.test_inventory_api import NOT_SYNCED


async def test_an_order_survives_its_worker_and_finishes_on_a_new_one(system: System):
    from api.app import create_app
    from worker.main import build_worker

    settings = system.settings.model_copy(
        update={
            "task_queue": "oms-test-worker-restart",
            "api_port": free_port(),
            "release_delay_s": 1.0,
        }
    )
    server, server_task = await _serve(
        create_app(settings, system.engine, system.client), settings.api_port
    )
    first = build_worker(system.client, system.engine, settings)
    first_task = asyncio.create_task(first.run())
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{settings.api_port}",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            timeout=30,
        ) as http:
            wh, sku = await stocked(http, 3)
            order = await submit(http, order_body([(sku, 2, "5.00")]))
            await wait_for_status(http, order["id"], {"reserved"})

            await first.shutdown()  # mid-order: reserved, its release timer running
            await asyncio.gather(first_task, return_exceptions=True)
            await asyncio.sleep(2)  # the timer fires with no worker to see it
            # With no worker, reads fall back to the read model.
            assert (await http.get(f"/v1/orders/{order['id']}")).json()["status"] == "reserved"

            second = build_worker(system.client, system.engine, settings)
            async with second:
                done = await wait_for_status(http, order["id"], TERMINAL)
            ledger = (await http.get("/v1/payments", params={"order_id": order["id"]})).json()
            stock = (await http.get(f"/v1/stock/{sku}")).json()
    finally:
        server.should_exit = True
        await server_task

    assert done["status"] == "delivered"
    assert [(p["kind"], p["amount"]) for p in ledger["items"]] == [
        ("authorize", "10.00"),
        ("capture", "10.00"),
    ]
    assert stock["warehouses"] == [
        {"warehouse_id": wh, "on_hand": 1, "reserved": 0, "available": 1, **NOT_SYNCED}
    ]
