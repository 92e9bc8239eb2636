"""Routing per sales channel: the strategy and the warehouses it weighed are on the
timeline, and the same stock ships from different warehouses under different strategies."""

from __future__ import annotations

import httpx

from tests.conftest import custom_stack
from tests.integration.helpers import (
    TERMINAL,
    order_body,
    set_stock,
    submit,
    unique,
    wait_for_status,
)


async def _warehouse(http: httpx.AsyncClient, priority: int, lat: float, lon: float) -> str:
    wid = unique("wh")
    body = {"id": wid, "name": wid, "country": "DE", "lat": lat, "lon": lon, "priority": priority}
    assert (await http.post("/v1/warehouses", json=body)).status_code == 201
    return wid


async def test_each_channel_ships_by_its_own_strategy_and_the_timeline_says_why(system):
    routing = {"routing": "webshop:priority,marketplace:nearest"}
    async with custom_stack(system, "routing", {}, **routing) as http:
        lisbon = await _warehouse(http, priority=1, lat=38.7, lon=-9.1)
        berlin = await _warehouse(http, priority=5, lat=52.5, lon=13.4)
        sku = unique("SKU")
        await set_stock(http, lisbon, sku, 5)
        await set_stock(http, berlin, sku, 5)

        by_priority = await submit(http, order_body([(sku, 1)], channel="webshop"))
        by_distance = await submit(http, order_body([(sku, 1)], channel="marketplace"))
        first = await wait_for_status(http, by_priority["id"], TERMINAL)
        second = await wait_for_status(http, by_distance["id"], TERMINAL)
        events = (await http.get(f"/v1/orders/{by_distance['id']}/events")).json()["items"]

    assert [s["warehouse_id"] for s in first["shipments"]] == [lisbon]
    assert [s["warehouse_id"] for s in second["shipments"]] == [berlin]
    reserved = next(e for e in events if e["type"] == "stock_reserved")["data"]
    assert reserved["strategy"] == "nearest"
    assert reserved["allocations"] == [
        {
            "warehouse_id": berlin,
            "lines": [{"sku": sku, "quantity": 1}],
            "shipment_id": f"{by_distance['id']}-1",
        }
    ]
    weighed = {c["warehouse_id"]: c["distance_km"] for c in reserved["candidates"]}
    assert weighed[berlin] < weighed[lisbon]  # from the DE centroid: Berlin is the nearer
