"""An order end to end over HTTP, on real PostgreSQL and Temporal, with the simulators."""

from __future__ import annotations

import asyncio

from tests.integration.helpers import (
    order_body,
    stocked,
    submit,
    wait_for_status,
)
from tests.integration.test_inventory_api import NOT_SYNCED


async def test_an_order_goes_from_received_to_delivered(admin, system):
    wh, sku = await stocked(admin, 10)

    order = await submit(admin, order_body([(sku, 3, "12.50")]))
    assert order["status"] == "received"
    assert order["payment"] == {
        "method": "card",
        "status": "pending",
        "authorized": "0.00",
        "captured": "0.00",
    }
    assert order["totals"] == {"subtotal": "37.50", "total": "37.50"}

    done = await wait_for_status(admin, order["id"], {"delivered", "failed", "cancelled"})
    assert done["status"] == "delivered", done
    assert done["payment"]["status"] == "captured"
    assert done["payment"]["captured"] == "37.50"
    [shipment] = done["shipments"]
    assert shipment["warehouse_id"] == wh
    assert shipment["status"] == "delivered"
    assert shipment["tracking_number"]

    stock = (await admin.get(f"/v1/stock/{sku}")).json()
    assert stock["available"] == 7
    assert stock["warehouses"] == [
        {"warehouse_id": wh, "on_hand": 7, "reserved": 0, "available": 7, **NOT_SYNCED}
    ]

    events = (await admin.get(f"/v1/orders/{order['id']}/events")).json()["items"]
    statuses = [e["status"] for e in events]
    for expected in (
        "received",
        "payment_authorized",
        "reserved",
        "dispatched",
        "shipped",
        "delivered",
    ):
        assert expected in statuses
    assert [e["seq"] for e in events] == list(range(len(events)))

    ledger = (await admin.get("/v1/payments", params={"order_id": order["id"]})).json()["items"]
    assert [(p["kind"], p["status"], p["amount"]) for p in ledger] == [
        ("authorize", "succeeded", "37.50"),
        ("capture", "succeeded", "37.50"),
    ]

    # Operators find orders in the Web UI by the OrderStatus search attribute.
    query = f"WorkflowId = 'order-{order['id']}' AND OrderStatus = 'delivered'"
    for _ in range(50):
        found = [w.id async for w in system.client.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.2)
    assert found == [f"order-{order['id']}"]


async def test_an_order_started_as_an_earlier_type_still_runs_to_delivered(system):
    """Orders that started as ``order.lean`` (records one by one) before
    ``order.batched`` became the default go on after the upgrade, on the same worker."""
    from tests.conftest import custom_stack

    async with custom_stack(system, "as-lean", {}, order_workflow="order.lean") as http:
        _, sku = await stocked(http, 2)
        order = await submit(http, order_body([(sku, 1)]))
        done = await wait_for_status(http, order["id"], {"delivered", "failed", "cancelled"})
        assert done["status"] == "delivered", done
        events = (await http.get(f"/v1/orders/{order['id']}/events")).json()["items"]
        assert [e["seq"] for e in events] == list(range(len(events)))
        described = await system.client.get_workflow_handle(f"order-{order['id']}").describe()
        assert described.workflow_type == "order.lean"
