"""Cancelling: before dispatch the order is cancelled and compensated; after, it is 409."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from temporalio import activity

from api.updates import FOLLOWS
from oms.domain.messages import ReserveRequest, ReserveResult
from tests.conftest import System, custom_stack
from tests.integration.helpers import (
    TERMINAL,
    order_body,
    real_activity,
    stocked,
    submit,
    wait_for_status,
)
from tests.integration.test_inventory_api import NOT_SYNCED

# Set by the reserve step once it has reserved; it then lingers until the test has sent
# its cancel (``cancel_sent``).
reserve_done: asyncio.Event | None = None
cancel_sent: asyncio.Event | None = None


@pytest.fixture(scope="module")
async def slow_api(system: System) -> AsyncIterator[httpx.AsyncClient]:
    """A stack whose reserve step lingers after reserving until the test has sent its
    cancel, and whose orders wait 10 s before release to the warehouses (the cancel
    window), so a cancel lands between reservation and dispatch. (The reservation is a
    local activity: a cancel sent while it runs is handled when the workflow task ends,
    and without a window the order would be on its way to the warehouse by then.)"""
    real = real_activity(system, "reserve_stock")

    @activity.defn(name="reserve_stock")
    async def slow_reserve(req: ReserveRequest) -> ReserveResult:
        result = await real(req)
        if reserve_done is not None and cancel_sent is not None:
            reserve_done.set()
            await asyncio.wait_for(cancel_sent.wait(), 30)
        return result

    replace = {"reserve_stock": slow_reserve}
    async with custom_stack(system, "slow-reserve", replace, release_delay_s=10.0) as http:
        yield http


async def _reservations(system: System, order_id: str) -> list[Any]:
    async with system.engine.connect() as conn:
        return (
            await conn.execute(
                text("SELECT sku, quantity, status FROM reservations WHERE order_id = :o"),
                {"o": order_id},
            )
        ).all()


async def test_cancel_before_dispatch_releases_stock_and_voids_payment(slow_api, system):
    global reserve_done, cancel_sent
    reserve_done, cancel_sent = asyncio.Event(), asyncio.Event()
    wh, sku = await stocked(slow_api, 4)
    order = await submit(slow_api, order_body([(sku, 3)]))
    await asyncio.wait_for(reserve_done.wait(), 30)
    stock = (await slow_api.get(f"/v1/stock/{sku}")).json()
    assert stock["available"] == 1  # held for the order while it is being cancelled

    # The update waits for the workflow task the reservation is part of: the reservation
    # goes on once the cancel is on its way.
    cancelling = asyncio.create_task(
        slow_api.post(
            f"/v1/orders/{order['id']}/cancel", json={"reason": "customer changed their mind"}
        )
    )
    cancel_sent.set()
    response = await cancelling
    assert response.status_code == 202, response.text

    done = await wait_for_status(slow_api, order["id"], TERMINAL)
    assert done["status"] == "cancelled"
    assert done["payment"]["status"] == "voided"
    assert done["cancellation"] == {
        "by": "admin",
        "reason": "customer changed their mind",
        "code": "cancelled",
    }
    assert done["shipments"] == []  # planned but never handed to a warehouse
    assert done["payment"]["authorized"] == "0.00"
    stock = (await slow_api.get(f"/v1/stock/{sku}")).json()
    assert stock["warehouses"][0] == {
        "warehouse_id": wh,
        "on_hand": 4,
        "reserved": 0,
        "available": 4,
        **NOT_SYNCED,
    }
    assert [(r.sku, r.quantity, r.status) for r in await _reservations(system, order["id"])] == [
        (sku, 3, "released")
    ]
    ledger = (await slow_api.get("/v1/payments", params={"order_id": order["id"]})).json()
    assert [(p["kind"], p["status"]) for p in ledger["items"]] == [
        ("authorize", "succeeded"),
        ("void", "succeeded"),
    ]
    # Once cancelled, cancelling again is a conflict and changes nothing.
    again = await slow_api.post(f"/v1/orders/{order['id']}/cancel")
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


async def test_cancel_after_dispatch_is_a_conflict_and_the_order_still_delivers(admin):
    _wh, sku = await stocked(admin, 2)
    order = await submit(admin, order_body([(sku, 1)]))
    await wait_for_status(
        admin, order["id"], {"dispatched", "partially_shipped", "shipped", "delivered"}
    )

    response = await admin.post(f"/v1/orders/{order['id']}/cancel", json={"reason": "late"})

    assert response.status_code == 409
    problem = response.json()
    assert problem["status"] == 409
    assert "can no longer be cancelled" in problem["detail"]
    done = await wait_for_status(admin, order["id"], TERMINAL)
    assert done["status"] == "delivered"
    assert done["payment"]["status"] == "captured"


async def test_approve_and_reject_are_conflicts_for_an_order_that_is_not_on_hold(admin):
    _wh, sku = await stocked(admin, 1)
    order = await submit(admin, order_body([(sku, 1)]))
    for action in ("approve", "reject"):
        response = await admin.post(f"/v1/orders/{order['id']}/{action}", json={"note": "ok"})
        assert response.status_code == 409, response.text
    done = await wait_for_status(admin, order["id"], TERMINAL)
    assert done["status"] == "delivered"


async def test_a_cancel_signal_from_the_web_ui_cancels_like_the_api(slow_api, system):
    global reserve_done, cancel_sent
    reserve_done, cancel_sent = asyncio.Event(), asyncio.Event()
    _wh, sku = await stocked(slow_api, 1)
    order = await submit(slow_api, order_body([(sku, 1)]))
    await asyncio.wait_for(reserve_done.wait(), 30)

    from oms.domain.messages import OperatorAction

    handle = system.client.get_workflow_handle(f"order-{order['id']}")
    # Signalled while the reservation still runs: taken when its workflow task ends.
    await handle.signal("cancel", OperatorAction(by="ops@example.com", reason="fraud check"))
    cancel_sent.set()

    done = await wait_for_status(slow_api, order["id"], TERMINAL)
    assert done["status"] == "cancelled"
    assert done["cancellation"]["by"] == "ops@example.com"
    stock = (await slow_api.get(f"/v1/stock/{sku}")).json()
    assert stock["available"] == 1


@pytest.fixture(scope="module")
async def windowed_api(system: System) -> AsyncIterator[httpx.AsyncClient]:
    """A stack whose reserved orders wait two seconds before release to the warehouses."""
    async with custom_stack(system, "release-window", {}, release_delay_s=2.0) as http:
        yield http


# An order left alone is released when its window closes: tests/workflows/test_cancel.py
# moves the clock to a second before and to the end of the window.
async def test_a_cancel_in_the_release_window_cancels_a_reserved_order(windowed_api):
    wh, sku = await stocked(windowed_api, 2)
    order = await submit(windowed_api, order_body([(sku, 2)]))
    held = await wait_for_status(windowed_api, order["id"], {"reserved"} | TERMINAL)
    assert held["status"] == "reserved"

    response = await windowed_api.post(
        f"/v1/orders/{order['id']}/cancel", json={"reason": "duplicate order"}
    )

    assert response.status_code == 202
    # What was accepted, in which status, and what follows.
    assert response.json()["accepted_action"] == {
        "action": "cancel",
        "by": "admin",
        "at_status": "reserved",
        "outcome": "cancelled",
        "next": FOLLOWS["cancel"][1],
    }
    done = await wait_for_status(windowed_api, order["id"], TERMINAL)
    assert done["status"] == "cancelled"
    assert done["payment"]["status"] == "voided"
    stock = (await windowed_api.get(f"/v1/stock/{sku}")).json()
    assert stock["warehouses"][0] == {
        "warehouse_id": wh,
        "on_hand": 2,
        "reserved": 0,
        "available": 2,
        **NOT_SYNCED,
    }
