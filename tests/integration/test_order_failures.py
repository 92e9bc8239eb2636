"""Orders that cannot go on: declined payment, no stock, transient gateway faults."""

from __future__ import annotations

from activities.payments import PaymentActivities
from oms.adapters.payment_gateway import HttpPaymentGateway
from tests.conftest import custom_stack
from tests.integration.helpers import (
    TERMINAL,
    add_warehouse,
    order_body,
    set_stock,
    stocked,
    submit,
    unique,
    wait_for_status,
)
from tests.integration.test_inventory_api import NOT_SYNCED


async def test_a_declined_payment_fails_the_order_and_reserves_nothing(admin):
    _wh, sku = await stocked(admin, 5)

    order = await submit(admin, order_body([(sku, 2)], token="tok_declined"))
    done = await wait_for_status(admin, order["id"], TERMINAL)

    assert done["status"] == "failed"
    assert done["failure_reason"] == "payment_declined"
    assert done["payment"]["status"] == "declined"
    assert done["shipments"] == []
    stock = (await admin.get(f"/v1/stock/{sku}")).json()
    assert stock["warehouses"][0]["reserved"] == 0
    ledger = (await admin.get("/v1/payments", params={"order_id": order["id"]})).json()
    assert [(p["kind"], p["status"]) for p in ledger["items"]] == [("authorize", "declined")]


async def test_not_enough_stock_fails_the_order_and_voids_the_payment(admin):
    wh, sku = await stocked(admin, 1)

    order = await submit(admin, order_body([(sku, 2)]))
    done = await wait_for_status(admin, order["id"], TERMINAL)

    assert done["status"] == "failed"
    assert done["failure_reason"] == "out_of_stock"
    assert done["payment"]["status"] == "voided"
    ledger = (await admin.get("/v1/payments", params={"order_id": order["id"]})).json()
    assert [(p["kind"], p["status"]) for p in ledger["items"]] == [
        ("authorize", "succeeded"),
        ("void", "succeeded"),
    ]
    stock = (await admin.get(f"/v1/stock/{sku}")).json()
    assert stock["warehouses"][0] == {
        "warehouse_id": wh,
        "on_hand": 1,
        "reserved": 0,
        "available": 1,
        **NOT_SYNCED,
    }
    events = (await admin.get(f"/v1/orders/{order['id']}/events")).json()["items"]
    failed = events[-1]
    assert failed["type"] == "order_failed"
    assert failed["data"]["skus"] == [sku]


async def test_a_flaky_gateway_is_retried_with_the_same_key_and_the_order_completes(admin):
    _wh, sku = await stocked(admin, 1)

    order = await submit(admin, order_body([(sku, 1)], token="tok_flaky"))
    done = await wait_for_status(admin, order["id"], TERMINAL)

    assert done["status"] == "delivered"
    ledger = (await admin.get("/v1/payments", params={"order_id": order["id"]})).json()
    authorizations = [p for p in ledger["items"] if p["kind"] == "authorize"]
    # Both gateway errors are on the ledger, then the one authorization: all one key.
    assert [p["status"] for p in authorizations] == ["failed", "failed", "succeeded"]
    assert {p["idempotency_key"] for p in authorizations} == {f"{order['id']}-authorize"}
    assert "503" in authorizations[0]["error"]
    assert authorizations[2]["error"] is None


async def test_an_order_split_across_warehouses_ships_one_shipment_per_warehouse(admin):
    near = await add_warehouse(admin, priority=1)
    far = await add_warehouse(admin, priority=2)
    a, b = unique("SKU"), unique("SKU")
    await set_stock(admin, near, a, 5)
    await set_stock(admin, far, b, 5)

    order = await submit(admin, order_body([(a, 2), (b, 3)]))
    done = await wait_for_status(admin, order["id"], TERMINAL)

    assert done["status"] == "delivered"
    by_warehouse = {s["warehouse_id"]: s for s in done["shipments"]}
    assert set(by_warehouse) == {near, far}
    assert by_warehouse[near]["lines"] == [{"sku": a, "quantity": 2}]
    assert by_warehouse[far]["lines"] == [{"sku": b, "quantity": 3}]
    assert all(s["status"] == "delivered" for s in done["shipments"])
    # Each shipment is charged as it leaves: one capture per shipment, by its own key.
    ledger = (await admin.get("/v1/payments", params={"order_id": order["id"]})).json()["items"]
    captures = {p["idempotency_key"]: p["amount"] for p in ledger if p["kind"] == "capture"}
    first, second = (s["id"].rsplit("-", 1)[1] for s in done["shipments"])
    line_value = {near: "19.98", far: "29.97"}  # 2 and 3 units at 9.99
    assert captures == {
        f"{order['id']}-capture-{first}": line_value[done["shipments"][0]["warehouse_id"]],
        f"{order['id']}-capture-{second}": line_value[done["shipments"][1]["warehouse_id"]],
    }
    assert done["payment"] == {**done["payment"], "status": "captured", "captured": "49.95"}


async def test_one_warehouse_that_has_everything_is_preferred_over_a_split(admin):
    first = await add_warehouse(admin, priority=1)
    whole = await add_warehouse(admin, priority=5)
    a, b = unique("SKU"), unique("SKU")
    await set_stock(admin, first, a, 5)
    await set_stock(admin, whole, a, 5)
    await set_stock(admin, whole, b, 5)

    order = await submit(admin, order_body([(a, 1), (b, 1)]))
    done = await wait_for_status(admin, order["id"], TERMINAL)

    assert [s["warehouse_id"] for s in done["shipments"]] == [whole]


async def test_a_payment_that_cannot_be_authorized_fails_the_order_and_is_in_the_ledger(system):
    # A gateway adapter aimed at a path the gateway does not serve: every call is refused.
    misconfigured = PaymentActivities(
        system.engine,
        HttpPaymentGateway(
            system.settings.gateway_base_url + "/v0", system.settings.payment_gateway_key
        ),
    )
    replace = {"authorize_payment": misconfigured.authorize_payment}
    async with custom_stack(system, "gateway-refuses", replace) as http:
        _, sku = await stocked(http, 1)
        order = await submit(http, order_body([(sku, 1)]))
        done = await wait_for_status(http, order["id"], TERMINAL)
        ledger = (await http.get("/v1/payments", params={"order_id": order["id"]})).json()

    assert done["status"] == "failed"
    assert done["failure_reason"] == "payment_unavailable"
    assert done["payment"]["status"] == "failed"
    assert [(p["kind"], p["status"]) for p in ledger["items"]] == [("authorize", "failed")]
    assert "404" in ledger["items"][0]["error"]
