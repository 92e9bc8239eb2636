"""Backorders and re-routing, end to end over HTTP with the sandbox WMS.

A channel set to backorder keeps a short order's authorization and waits for stock, first
come first served; stock arriving (set, adjust, sync, a released reservation) wakes it. A
warehouse that refuses a dispatch has the shipment's lines re-routed to the next one with
stock. The queue, the wake-ups and the stock are the stack's; the workflow's backorder
branches (expiry, rechecks, partial fills) run on the time-skipping server in
tests/workflows/test_backorders.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from activities.inventory import InventoryActivities
from oms.domain.messages import ReserveRequest, SkuQuantity
from tests.conftest import ADMIN_KEY, System, custom_stack
from tests.integration.helpers import (
    TERMINAL,
    add_warehouse,
    order_body,
    set_stock,
    stock_rows,
    submit,
    unique,
)
from tests.integration.helpers import wait_for_status as wait

BACKORDER = {"shortage": "default:backorder"}


@pytest.fixture(scope="module")
async def shop(system: System) -> AsyncIterator[httpx.AsyncClient]:
    """Every channel backorders; split shipments allowed (the default)."""
    async with custom_stack(system, "backorders", {}, **BACKORDER) as http:
        yield http


async def _events(http: httpx.AsyncClient, order_id: str) -> list[dict[str, Any]]:
    return (await http.get(f"/v1/orders/{order_id}/events")).json()["items"]


async def _stock(http: httpx.AsyncClient, sku: str) -> dict[str, dict[str, Any]]:
    body = (await http.get(f"/v1/stock/{sku}")).json()
    return {w["warehouse_id"]: w for w in body["warehouses"]}


async def _queue(system: System, order_id: str) -> dict[str, int]:
    async with system.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT sku, quantity FROM backorder_lines WHERE order_id = :o"), {"o": order_id}
        )
        return {r.sku: r.quantity for r in rows}


async def _adjust(http: httpx.AsyncClient, warehouse: str, sku: str, delta: int) -> None:
    response = await http.post(
        f"/v1/stock/{warehouse}/{sku}/adjust", json={"delta": delta, "reason": "goods in"}
    )
    assert response.status_code == 200, response.text


async def _ledger(http: httpx.AsyncClient, order_id: str) -> list[tuple[str, str, str]]:
    items = (await http.get("/v1/payments", params={"order_id": order_id})).json()["items"]
    return [(p["kind"], p["status"], p["amount"]) for p in items]


async def test_a_short_order_is_backordered_with_its_authorization_and_the_missing_units(
    shop, system
):
    wh = await add_warehouse(shop, priority=1)
    sku = unique("SKU")
    await set_stock(shop, wh, sku, 0)

    order = await submit(shop, order_body([(sku, 2, "5.00")]))
    held = await wait(shop, order["id"], {"backordered"})

    assert held["payment"]["status"] == "authorized"
    assert held["backorder"]["lines"] == [{"sku": sku, "quantity": 2}]
    assert held["backorder"]["expires_at"] > held["backorder"]["since"]
    assert held["shipments"] == []
    assert await _queue(system, order["id"]) == {sku: 2}
    types = [e["type"] for e in await _events(shop, order["id"])]
    assert "order_backordered" in types and "order_failed" not in types

    # Cancelling a backordered order works as in any cancellable state.
    response = await shop.post(f"/v1/orders/{order['id']}/cancel", json={"reason": "gave up"})
    assert response.status_code == 202, response.text
    done = await wait(shop, order["id"], TERMINAL)
    assert done["status"] == "cancelled"
    assert done["payment"]["status"] == "voided"
    assert await _queue(system, order["id"]) == {}


async def test_backorders_are_woken_by_an_adjust_and_a_sync_in_order_of_arrival(shop, system):
    wh = await add_warehouse(shop, priority=1)
    sku = unique("SKU")
    await set_stock(shop, wh, sku, 0)
    first = await submit(shop, order_body([(sku, 1)]))
    await wait(shop, first["id"], {"backordered"})
    second = await submit(shop, order_body([(sku, 1)]))
    await wait(shop, second["id"], {"backordered"})

    await _adjust(shop, wh, sku, 1)  # one unit: the earlier order's
    done = await wait(shop, first["id"], TERMINAL)
    assert done["status"] == "delivered"
    await asyncio.sleep(1.0)
    assert (await shop.get(f"/v1/orders/{second['id']}")).json()["status"] == "backordered"

    as_of = datetime.now(UTC).isoformat()
    sync = {
        "source": "erp",
        "items": [{"warehouse_id": wh, "sku": sku, "on_hand": 1, "as_of": as_of}],
    }
    response = await shop.post("/v1/stock/sync", json=sync)
    assert response.status_code == 200, response.text
    done = await wait(shop, second["id"], TERMINAL)
    assert done["status"] == "delivered"
    types = [e["type"] for e in await _events(shop, second["id"])]
    assert types.index("order_backordered") < types.index("stock_reserved")
    assert await _queue(system, second["id"]) == {}


async def test_a_later_order_never_takes_stock_an_earlier_backorder_waits_for(system):
    """At the reservation itself: the queue is honoured in the reserving transaction."""
    inventory = InventoryActivities(system.engine)
    wh, (sku,) = await stock_rows(system.engine, 0)
    earlier, later = unique("early"), unique("late")
    want = [SkuQuantity(sku, 1)]
    waiting = await inventory.reserve_stock(ReserveRequest(earlier, want, round=1, backorder=True))
    assert waiting.allocations == [] and waiting.unreserved == want
    async with system.engine.begin() as conn:
        await conn.execute(
            text("UPDATE stock SET on_hand = 1 WHERE warehouse_id = :w AND sku = :sku"),
            {"w": wh, "sku": sku},
        )

    from temporalio.exceptions import ApplicationError

    with pytest.raises(ApplicationError) as refused:
        await inventory.reserve_stock(ReserveRequest(later, want, round=1))
    assert refused.value.type == "OutOfStock"
    queued = await inventory.reserve_stock(ReserveRequest(later, want, round=1, backorder=True))
    assert queued.allocations == []

    got = await inventory.reserve_stock(ReserveRequest(earlier, want, round=1, backorder=True))
    assert [(a.warehouse_id, a.lines) for a in got.allocations] == [(wh, want)]
    assert await _queue(system, earlier) == {}
    assert await _queue(system, later) == {sku: 1}
    # A retried round answers what it reserved the first time, and reserves nothing more.
    again = await inventory.reserve_stock(ReserveRequest(earlier, want, round=1, backorder=True))
    assert again.allocations == got.allocations


async def test_what_is_in_stock_ships_now_and_the_rest_when_it_arrives(shop, system):
    wh = await add_warehouse(shop, priority=1)
    sku = unique("SKU")
    await set_stock(shop, wh, sku, 1)

    order = await submit(shop, order_body([(sku, 3, "2.00")]))
    partly = await wait(shop, order["id"], {"partially_shipped"})
    assert partly["backorder"]["lines"] == [{"sku": sku, "quantity": 2}]
    assert [s["lines"] for s in partly["shipments"]] == [[{"sku": sku, "quantity": 1}]]

    await _adjust(shop, wh, sku, 2)
    done = await wait(shop, order["id"], TERMINAL)

    assert done["status"] == "delivered"
    assert done["backorder"] is None
    assert [(s["id"], s["status"]) for s in done["shipments"]] == [
        (f"{order['id']}-1", "delivered"),
        (f"{order['id']}-2", "delivered"),
    ]
    assert done["payment"] == {
        **done["payment"],
        "status": "captured",
        "captured": "6.00",
    }
    captures = [row for row in await _ledger(shop, order["id"]) if row[0] == "capture"]
    assert captures == [("capture", "succeeded", "2.00"), ("capture", "succeeded", "4.00")]
    types = [e["type"] for e in await _events(shop, order["id"])]
    assert "order_backordered" in types and "backorder_filled" in types
    assert (await _stock(shop, sku))[wh]["on_hand"] == 0


async def test_without_split_shipments_the_order_waits_whole(system):
    async with custom_stack(system, "no-split", {}, split="default:off", **BACKORDER) as http:
        wh = await add_warehouse(http, priority=1)
        sku = unique("SKU")
        await set_stock(http, wh, sku, 1)
        order = await submit(http, order_body([(sku, 2)]))
        held = await wait(http, order["id"], {"backordered"})
        assert held["backorder"]["lines"] == [{"sku": sku, "quantity": 1}]
        assert (await _stock(http, sku))[wh]["reserved"] == 0
        assert await _queue(system, order["id"]) == {sku: 2}

        await _adjust(http, wh, sku, 1)
        done = await wait(http, order["id"], TERMINAL)
    assert done["status"] == "delivered"
    assert [s["lines"] for s in done["shipments"]] == [[{"sku": sku, "quantity": 2}]]


@pytest.fixture
async def refusing(system: System) -> AsyncIterator[set[str]]:
    """Warehouses the sandbox WMS refuses, through its admin call; restored afterwards."""
    refused: set[str] = set()
    url = f"{system.settings.sim_base_url}/sim/wms/refusals"
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with httpx.AsyncClient(headers=headers, timeout=10) as sim:
        before = (await sim.get(url)).json()["warehouses"]

        class Refusing(set[str]):
            async def add_async(self, warehouse: str) -> None:
                self.add(warehouse)
                response = await sim.put(url, json={"warehouses": sorted(self | set(before))})
                assert response.status_code == 200, response.text

        refused = Refusing()
        yield refused
        await sim.put(url, json={"warehouses": before})


async def test_a_refused_shipment_is_rerouted_to_the_next_warehouse_with_stock(
    system, admin, refusing
):
    first = await add_warehouse(admin, priority=1)
    second = await add_warehouse(admin, priority=2)
    sku = unique("SKU")
    await set_stock(admin, first, sku, 2)
    await set_stock(admin, second, sku, 2)
    await refusing.add_async(first)  # type: ignore[attr-defined]

    order = await submit(admin, order_body([(sku, 1, "8.00")]))
    done = await wait(admin, order["id"], TERMINAL)

    assert done["status"] == "delivered"
    assert [(s["warehouse_id"], s["status"]) for s in done["shipments"]] == [
        (first, "failed"),
        (second, "delivered"),
    ]
    assert done["payment"]["captured"] == "8.00"
    events = await _events(admin, order["id"])
    refused = next(e for e in events if e["type"] == "shipment_failed")
    assert refused["data"]["warehouse_id"] == first
    rerouted = next(e for e in events if e["type"] == "shipment_rerouted")
    assert rerouted["data"]["refused_by"] == first
    assert rerouted["data"]["from_shipment"] == f"{order['id']}-1"
    assert rerouted["data"]["warehouses"] == [second]
    assert rerouted["data"]["excluded"] == [first]
    stock = await _stock(admin, sku)
    assert (stock[first]["on_hand"], stock[first]["reserved"]) == (2, 0)
    assert (stock[second]["on_hand"], stock[second]["reserved"]) == (1, 0)


async def test_a_refusal_with_nowhere_to_go_is_backordered_until_stock_comes(
    shop, system, refusing
):
    only = await add_warehouse(shop, priority=1)
    sku = unique("SKU")
    await set_stock(shop, only, sku, 1)
    await refusing.add_async(only)  # type: ignore[attr-defined]

    order = await submit(shop, order_body([(sku, 1)]))
    held = await wait(shop, order["id"], {"backordered"})
    assert held["backorder"]["lines"] == [{"sku": sku, "quantity": 1}]
    assert (await _stock(shop, sku))[only]["reserved"] == 0

    other = await add_warehouse(shop, priority=2)
    await set_stock(shop, other, sku, 1)
    done = await wait(shop, order["id"], TERMINAL)
    assert done["status"] == "delivered"
    assert [(s["warehouse_id"], s["status"]) for s in done["shipments"]] == [
        (only, "failed"),
        (other, "delivered"),
    ]


async def test_a_returned_reservation_wakes_the_backorder_waiting_for_it(system):
    """Stock held by an order in its cancel window goes back when it is cancelled, and the
    backorder waiting for it takes it."""
    settings = {"release_delay_s": 60.0, **BACKORDER}
    async with custom_stack(system, "returned", {}, **settings) as http:
        wh = await add_warehouse(http, priority=1)
        sku = unique("SKU")
        await set_stock(http, wh, sku, 1)
        holder = await submit(http, order_body([(sku, 1)]))
        await wait(http, holder["id"], {"reserved"})
        waiting = await submit(http, order_body([(sku, 1)]))
        await wait(http, waiting["id"], {"backordered"})

        response = await http.post(f"/v1/orders/{holder['id']}/cancel", json={"reason": "no"})
        assert response.status_code == 202, response.text
        assert (await wait(http, holder["id"], TERMINAL))["status"] == "cancelled"
        # Woken by the release; it then sits in its own cancel window, reserved.
        woken = await wait(http, waiting["id"], {"reserved"}, within=20)
        stock = await _stock(http, sku)
        await http.post(f"/v1/orders/{waiting['id']}/cancel", json={"reason": "done"})
        await wait(http, waiting["id"], TERMINAL)
    assert woken["backorder"] is None
    assert [s["warehouse_id"] for s in woken["shipments"]] == [wh]
    assert (stock[wh]["on_hand"], stock[wh]["reserved"]) == (1, 1)
    assert await _queue(system, waiting["id"]) == {}


async def test_a_backorder_queued_while_a_later_order_waits_for_the_lock_still_wins(system):
    """The later order's locking read took its snapshot before the earlier order queued;
    its write sees the queue again and the stock stays for the earlier order."""
    inventory = InventoryActivities(system.engine)
    wh, (sku,) = await stock_rows(system.engine, 1)
    earlier, later = unique("early"), unique("late")
    async with system.engine.connect() as holder:
        tx = await holder.begin()
        await holder.execute(
            text("SELECT 1 FROM stock WHERE warehouse_id = :w AND sku = :sku FOR UPDATE"),
            {"w": wh, "sku": sku},
        )
        waiting = asyncio.create_task(
            inventory.reserve_stock(
                ReserveRequest(later, [SkuQuantity(sku, 1)], round=1, backorder=True)
            )
        )
        await asyncio.sleep(1.0)  # the later order is blocked on the row lock
        assert not waiting.done()
        await holder.execute(
            text(
                "INSERT INTO backorder_lines (order_id, sku, quantity, ordered_at, created_at) "
                "VALUES (:o, :sku, 1, now() - interval '1 hour', now())"
            ),
            {"o": earlier, "sku": sku},
        )
        await tx.commit()
        result = await waiting
    assert result.allocations == []
    assert result.unreserved == [SkuQuantity(sku, 1)]
    assert await _queue(system, later) == {sku: 1}
    got = await inventory.reserve_stock(
        ReserveRequest(earlier, [SkuQuantity(sku, 1)], round=1, backorder=True)
    )
    assert [a.warehouse_id for a in got.allocations] == [wh]
