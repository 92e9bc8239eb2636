"""Cancelling: taken in every state before the first shipment is handed to a warehouse
(then the order releases what it holds and voids its authorization), refused after."""

from __future__ import annotations

import asyncio

from oms.contract import Signal
from oms.domain.messages import OperatorAction
from tests.workflows.conftest import refused

ITEM = ("SKU-A", 1, "9.99")
CANCELLED_BY_CUSTOMER = {"by": "ops", "reason": "changed mind", "code": "cancelled"}


async def test_a_cancel_while_authorization_is_under_way_ends_the_order_before_any_stock(shop):
    shop.gateway.authorize_gate = asyncio.Event()
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(ITEM)
    await shop.gateway.authorize_started.wait()

    accepted = await order.cancel()
    assert (accepted.accepted, accepted.status) == (True, "received")
    shop.gateway.authorize_gate.set()  # the gateway answers: authorized
    done = await order.result()

    assert done.status == "cancelled"
    assert done.cancellation == CANCELLED_BY_CUSTOMER
    assert done.payment.status == "voided"
    assert shop.gateway.rows() == [
        ("authorize", "succeeded", "9.99"),
        ("void", "succeeded", "9.99"),
    ]
    assert shop.stock.requests == []


async def test_a_cancel_on_hold_ends_the_hold_as_a_cancel(shop):
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(("SKU-A", 1, "500.00"))
    await order.reached("order_held")

    await order.cancel()
    done = await order.result()

    assert done.status == "cancelled"
    assert done.cancellation == CANCELLED_BY_CUSTOMER
    assert done.payment.status == "voided"
    assert shop.stock.requests == []


async def test_a_cancel_of_a_backordered_order_takes_it_out_of_the_queue(shop):
    shop.stock.put("wh-1", "SKU-A", 0)
    order = await shop.order(ITEM, backorder=True)
    await order.reached("order_backordered")
    assert shop.stock.queue == {order.id: {"SKU-A": 1}}

    await order.cancel()
    done = await order.result()

    assert done.status == "cancelled"
    assert done.cancellation == CANCELLED_BY_CUSTOMER
    assert done.backorder is None
    assert done.payment.status == "voided"
    assert shop.stock.queue == {}


async def test_a_cancel_in_the_release_window_releases_the_reserved_stock(shop):
    shop.stock.put("wh-1", "SKU-A", 2)
    order = await shop.order(("SKU-A", 2, "9.99"), release_delay_s=600)
    await order.reached("stock_reserved")
    assert shop.stock.available("wh-1", "SKU-A") == 0  # held for the order

    await order.cancel()
    done = await order.result()

    assert done.status == "cancelled"
    assert done.cancellation == CANCELLED_BY_CUSTOMER
    assert done.shipments == []  # planned, never handed to a warehouse
    assert (done.payment.status, done.payment.authorized) == ("voided", "0.00")
    assert shop.stock.available("wh-1", "SKU-A") == 2
    assert shop.wms.requests == []


async def test_a_cancel_after_dispatch_is_refused_and_the_order_still_delivers(shop):
    shop.carrier_on = False
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(ITEM)
    shipment = await shop.dispatched()

    refusal = await refused(order.cancel())
    assert "can no longer be cancelled" in refusal
    await order.handle.signal(Signal.CANCEL, OperatorAction("ops-ui", "too late"))  # ignored
    for status in ("shipped", "delivered"):
        await order.event(shipment.shipment_id, status)
    done = await order.result()

    assert done.status == "delivered"
    assert done.cancellation is None
    assert done.payment.status == "captured"


async def test_the_web_uis_cancel_signal_cancels_as_the_update_does(shop):
    shop.stock.put("wh-1", "SKU-A", 1)
    order = await shop.order(ITEM, release_delay_s=600)
    await order.reached("stock_reserved")

    await order.handle.signal(Signal.CANCEL, OperatorAction("ops@example.com", "fraud check"))
    done = await order.result()

    assert done.status == "cancelled"
    assert done.cancellation == {
        "by": "ops@example.com",
        "reason": "fraud check",
        "code": "cancelled",
    }
    assert shop.stock.available("wh-1", "SKU-A") == 1


async def test_an_order_left_alone_is_released_to_the_warehouse_when_its_window_closes(shop):
    shop.stock.put("wh-1", "SKU-A", 1)
    order = await shop.order(ITEM, release_delay_s=600)
    await order.reached("stock_reserved")
    await shop.sleep(599)
    assert shop.wms.requests == []

    await shop.sleep(1)
    done = await order.result()

    assert done.status == "delivered"
    entries = shop.timeline.entries[order.id]
    reserved = next(e for e in entries if e.type == "stock_reserved")
    dispatched = next(e for e in entries if e.type == "shipment_dispatched")
    assert reserved.at < dispatched.at
