"""A warehouse that refuses a dispatch: the order does not wait forever."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio import activity

from activities.errors import DISPATCH_REJECTED, business_error
from oms.domain.messages import DispatchRequest, DispatchResult, ShipmentRecord
from tests.conftest import System, custom_stack
from tests.integration.helpers import (
    TERMINAL,
    add_warehouse,
    order_body,
    real_activity,
    set_stock,
    stocked,
    submit,
    unique,
)
from tests.integration.helpers import wait_for_status as wait

REFUSING = "refusing-"


@pytest.fixture(scope="module")
async def picky_api(system: System) -> AsyncIterator[httpx.AsyncClient]:
    """A stack whose WMS refuses every warehouse whose id starts with ``refusing-``."""
    real = real_activity(system, "dispatch_shipment")

    @activity.defn(name="dispatch_shipment")
    async def picky_dispatch(req: DispatchRequest) -> DispatchResult:
        if req.warehouse_id.startswith(REFUSING):
            raise business_error(DISPATCH_REJECTED, f"unknown warehouse {req.warehouse_id}")
        return await real(req)

    async with custom_stack(system, "picky-wms", {"dispatch_shipment": picky_dispatch}) as http:
        yield http


async def _refusing_warehouse(http: httpx.AsyncClient, priority: int) -> str:
    wid = unique(REFUSING + "wh")
    response = await http.post(
        "/v1/warehouses",
        json={
            "id": wid,
            "name": "Refusing",
            "country": "DE",
            "lat": 1,
            "lon": 1,
            "priority": priority,
        },
    )
    assert response.status_code == 201
    return wid


async def test_a_refused_dispatch_fails_the_order_and_compensates(picky_api):
    wh = await _refusing_warehouse(picky_api, 1)
    sku = unique("SKU")
    await set_stock(picky_api, wh, sku, 3)

    order = await submit(picky_api, order_body([(sku, 2)]))
    done = await wait(picky_api, order["id"], TERMINAL)

    assert done["status"] == "failed"
    assert done["failure_reason"] == "dispatch_failed"
    assert done["payment"]["status"] == "voided"
    assert [s["status"] for s in done["shipments"]] == ["failed"]
    stock = (await picky_api.get(f"/v1/stock/{sku}")).json()
    assert stock["warehouses"][0]["reserved"] == 0
    types = [
        e["type"] for e in (await picky_api.get(f"/v1/orders/{order['id']}/events")).json()["items"]
    ]
    assert "shipment_failed" in types and types[-1] == "order_failed"


async def test_when_one_of_two_shipments_is_refused_the_rest_delivers_and_is_charged(picky_api):
    good = await add_warehouse(picky_api, priority=1)
    bad = await _refusing_warehouse(picky_api, 2)
    a, b = unique("SKU"), unique("SKU")
    await set_stock(picky_api, good, a, 5)
    await set_stock(picky_api, bad, b, 5)

    order = await submit(picky_api, order_body([(a, 2, "10.00"), (b, 1, "4.50")]))
    done = await wait(picky_api, order["id"], TERMINAL)

    assert done["status"] == "delivered"
    statuses = {s["warehouse_id"]: s["status"] for s in done["shipments"]}
    assert statuses == {good: "delivered", bad: "failed"}
    assert done["totals"]["total"] == "24.50"
    assert done["payment"]["captured"] == "20.00"
    stock_b = (await picky_api.get(f"/v1/stock/{b}")).json()
    assert stock_b["warehouses"][0] == {
        "warehouse_id": bad,
        "on_hand": 5,
        "reserved": 0,
        "available": 5,
        "as_of": None,
        "source": None,
    }
    # Operators hear of the refusal: one alert for that shipment.
    alerts = (await picky_api.get("/v1/alerts", params={"status": "open"})).json()["items"]
    mine = [(a["kind"], a["subject"]) for a in alerts if a["order_id"] == order["id"]]
    refused = next(s["id"] for s in done["shipments"] if s["status"] == "failed")
    assert mine == [("shipment_refused", refused)]


# The carrier's in_transit scan is being recorded (set by the record step, which then
# lingers until ``tracking_over`` is set).
in_transit_recorded = asyncio.Event()
tracking_over = asyncio.Event()


@pytest.fixture(scope="module")
async def lingering_api(system: System) -> AsyncIterator[httpx.AsyncClient]:
    """A stack whose shipments linger after the carrier's first scan, until the test is
    done with them."""
    real = real_activity(system, "record_shipment")

    @activity.defn(name="record_shipment")
    async def lingering_record(record: ShipmentRecord) -> None:
        await real(record)
        if record.status == "in_transit":
            in_transit_recorded.set()
            await asyncio.wait_for(tracking_over.wait(), 30)

    # The shipment's own tracking workflow is the "order" type's (orders started before
    # the lean order, still served until they drain).
    replace = {"record_shipment": lingering_record}
    async with custom_stack(system, "lingering", replace, order_workflow="order") as http:
        yield http


async def test_a_shipped_parcel_whose_tracking_is_terminated_still_counts_as_shipped(
    lingering_api, system
):
    _, sku = await stocked(lingering_api, 1)
    order = await submit(lingering_api, order_body([(sku, 1, "7.00")]))
    await wait(lingering_api, order["id"], {"shipped"})
    await asyncio.wait_for(in_transit_recorded.wait(), 30)
    await system.client.get_workflow_handle(f"shipment-{order['id']}-1").terminate("ops")
    tracking_over.set()

    done = await wait(lingering_api, order["id"], TERMINAL)

    assert done["status"] == "delivered"
    assert done["payment"]["captured"] == "7.00"
    assert done["shipments"][0]["status"] != "failed"
    events = (await lingering_api.get(f"/v1/orders/{order['id']}/events")).json()["items"]
    assert "shipment_tracking_lost" in [e["type"] for e in events]
    stock = (await lingering_api.get(f"/v1/stock/{sku}")).json()
    assert stock["warehouses"][0]["on_hand"] == 0  # committed when it shipped, not released
