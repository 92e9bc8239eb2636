"""Empty parcels (空包) on the real stack: a delivery too soon after the parcel left, or with
no carrier scan between, raises ``empty_parcel_suspected`` on the order once; several in one
channel raise ``empty_parcel_shop``; a parcel scanned on its way at a plausible speed raises
nothing. The session's parcels travel in a fraction of a second, so the speed is judged on
stacks of their own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from temporalio import activity
from temporalio.converter import value_to_type

from oms.alerts import AlertStore
from oms.domain.empty_parcel import Policy
from oms.domain.messages import DispatchRequest, DispatchResult, OrderView
from oms.empty_parcel import EmptyParcelWatch
from oms.store import shipments
from tests.conftest import System, custom_stack
from tests.integration.helpers import (
    TERMINAL,
    order_body,
    stocked,
    submit,
    unique,
    wait_for_status,
)
from tests.integration.test_webhooks_and_reads import workflow_closed


async def _alerts(system: System, kind: str, **where: str) -> list[Any]:
    clauses = " AND ".join(f"{name} = :{name}" for name in where)
    async with system.engine.connect() as conn:
        rows = await conn.execute(
            text(
                f"SELECT id, order_id, subject, status, detail FROM alerts WHERE kind = :kind "
                f"AND {clauses} ORDER BY id"
            ),
            {"kind": kind, **where},
        )
        return list(rows)


async def _order_alerts(system: System, order_id: str, within: float = 10) -> list[Any]:
    """The order's empty-parcel alerts, once there is one (within a bound)."""
    for _ in range(int(within / 0.05)):
        found = await _alerts(system, "empty_parcel_suspected", order_id=order_id)
        if found:
            return found
        await asyncio.sleep(0.05)
    return []


async def _delivered(http: httpx.AsyncClient, system: System, body: dict[str, Any]) -> str:
    order = await submit(http, body)
    done = await wait_for_status(http, order["id"], TERMINAL)
    assert done["status"] == "delivered", done
    await workflow_closed(system, order["id"])  # the step that recorded delivery is over
    return str(order["id"])


async def test_deliveries_too_fast_alert_each_order_once_and_then_their_shop(system):
    channel = unique("brush")
    rules = {"empty_parcel_min_delivery_s": 600.0, "empty_parcel_shop_count": 2}
    async with custom_stack(system, "empty-fast", {}, **rules) as http:
        _, sku = await stocked(http, 10)
        first = await _delivered(http, system, order_body([(sku, 1)], channel=channel))
        [alert] = await _order_alerts(system, first)
        assert alert.subject == "" and alert.status == "open"
        # The simulated carrier scans every parcel: only the speed gives it away.
        assert alert.detail["signs"] == ["too_fast"]
        assert alert.detail["channel"] == channel
        assert 0 <= alert.detail["delivered_in_s"] < 600
        assert not await _alerts(system, "empty_parcel_shop", subject=channel)

        second = await _delivered(http, system, order_body([(sku, 1)], channel=channel))
        assert len(await _order_alerts(system, second)) == 1
        [shop] = await _alerts(system, "empty_parcel_shop", subject=channel)
        assert shop.order_id == "" and shop.detail["channel"] == channel
        assert shop.detail["orders"] == 2
        assert set(shop.detail["order_ids"]) == {first, second}

        # A third while the shop's alert is open: the order's own alert, not a second one
        # for the shop.
        third = await _delivered(http, system, order_body([(sku, 1)], channel=channel))
        assert len(await _order_alerts(system, third)) == 1
        assert len(await _alerts(system, "empty_parcel_shop", subject=channel)) == 1

        # Judged again (a retried step), acknowledged or not: one alert in the order's life.
        row = (await http.get(f"/v1/orders/{first}")).json()
        order_view = value_to_type(OrderView, row, [])
        watch = EmptyParcelWatch(
            system.engine, Policy(min_delivery_s=600.0, shop_count=2), AlertStore(system.engine)
        )
        shipment_id = row["shipments"][0]["id"]
        assert await watch.delivered(order_view, [shipment_id]) == []
        acked = await http.post(f"/v1/alerts/{alert.id}/ack", json={"note": "seen"})
        assert acked.status_code == 200, acked.text
        assert await watch.delivered(order_view, [shipment_id]) == []
        assert len(await _alerts(system, "empty_parcel_suspected", order_id=first)) == 1


async def test_a_parcel_scanned_on_its_way_at_a_plausible_speed_raises_nothing(admin, system):
    # The session's stack judges deliveries without scans only; the speed is judged here
    # against a second, well under what its parcels take.
    async with custom_stack(system, "empty-normal", {}, empty_parcel_min_delivery_s=0.001) as http:
        _, sku = await stocked(http, 5)
        order_id = await _delivered(http, system, order_body([(sku, 1)]))
    assert await _alerts(system, "empty_parcel_suspected", order_id=order_id) == []
    events = (await admin.get(f"/v1/orders/{order_id}/events")).json()["items"]
    kinds = [e["type"] for e in events]
    assert "shipment_in_transit" in kinds and "shipment_delivered" in kinds


@pytest.fixture
async def silent_wms(system: System) -> AsyncIterator[httpx.AsyncClient]:
    """A stack whose warehouse never hears of the dispatch: the shipment's row is made, and
    the test posts the warehouse's and the carrier's events by hand."""

    @activity.defn(name="dispatch_shipment")
    async def unsent(req: DispatchRequest) -> DispatchResult:
        await shipments.create(system.engine, req.shipment_id, req.order_id, req.warehouse_id)
        return DispatchResult(f"held-{req.shipment_id}")

    async with custom_stack(system, "empty-unscanned", {"dispatch_shipment": unsent}) as http:
        yield http


async def test_a_delivery_without_any_carrier_scan_alerts_the_order(silent_wms, system):
    http = silent_wms
    _, sku = await stocked(http, 5)
    order = await submit(http, order_body([(sku, 1)]))
    dispatched = await wait_for_status(http, order["id"], {"dispatched"})
    shipment_id = dispatched["shipments"][0]["id"]
    tracking = unique("TRK")
    shipped = {
        "event_id": unique("evt"),
        "type": "shipped",
        "shipment_id": shipment_id,
        "tracking_number": tracking,
    }
    assert (await http.post("/v1/warehouse-events", json=shipped)).status_code == 202
    await wait_for_status(http, order["id"], {"shipped"})
    # A delivery reported with nothing carried in between.
    delivered = {"event_id": unique("evt"), "tracking_number": tracking, "status": "delivered"}
    assert (await http.post("/v1/carrier-events", json=delivered)).status_code == 202
    done = await wait_for_status(http, order["id"], TERMINAL)
    assert done["status"] == "delivered"

    [alert] = await _order_alerts(system, order["id"])
    assert alert.detail["signs"] == ["no_scans"]  # the speed is not judged on this stack
    assert alert.detail["shipment_id"] == shipment_id
