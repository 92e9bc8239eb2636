"""Backorders: an order short of stock keeps its authorization and waits for stock
(woken by ``stock_arrived`` or its hourly recheck) until its deadline; what is in stock
may ship first. Past the deadline it is cancelled, or, with something on its way, the
missing units are given up."""

from __future__ import annotations

from datetime import datetime, timedelta

from oms.domain.messages import SkuQuantity

BACKORDER = {"backorder": True, "backorder_timeout_s": 86400.0, "backorder_recheck_s": 3600.0}


async def test_a_short_order_is_backordered_with_its_authorization_and_the_missing_units(shop):
    shop.stock.put("wh-1", "SKU-A", 0)
    order = await shop.order(("SKU-A", 2, "5.00"), **BACKORDER)

    await order.reached("order_backordered")
    view = await order.query()

    assert view.status == "backordered"
    assert view.payment.status == "authorized"
    assert view.shipments == []
    assert view.backorder is not None
    assert view.backorder.lines == [SkuQuantity("SKU-A", 2)]
    since = datetime.fromisoformat(view.backorder.since)
    assert view.backorder.expires_at == (since + timedelta(seconds=86400)).isoformat()
    assert shop.stock.queue == {order.id: {"SKU-A": 2}}
    assert "order_failed" not in order.kinds()


async def test_a_backorder_is_filled_when_stock_arrives_and_the_order_is_delivered(shop):
    shop.stock.put("wh-1", "SKU-A", 0)
    order = await shop.order(("SKU-A", 2, "5.00"), **BACKORDER)
    await order.reached("order_backordered")

    shop.stock.put("wh-1", "SKU-A", 2)
    await order.stock_arrived("SKU-A")
    done = await order.result()

    assert done.status == "delivered"
    assert done.backorder is None
    assert [(s.warehouse_id, s.status) for s in done.shipments] == [("wh-1", "delivered")]
    kinds = order.kinds()
    assert kinds.index("order_backordered") < kinds.index("stock_reserved")
    filled = shop.timeline.of(order.id, "backorder_filled")
    assert [e.data["round"] for e in filled] == [1]
    assert shop.stock.queue == {}
    assert shop.stock.on_hand["wh-1"]["SKU-A"] == 0  # committed when it shipped


async def test_a_backorder_finds_stock_on_its_recheck_without_a_wake_up(shop):
    shop.stock.put("wh-1", "SKU-A", 0)
    order = await shop.order(("SKU-A", 1, "5.00"), **BACKORDER)
    await order.reached("order_backordered")
    shop.stock.put("wh-1", "SKU-A", 1)  # a change no waker saw

    await shop.sleep(3600)
    done = await order.result()

    assert done.status == "delivered"
    assert [r.round for r in shop.stock.requests] == [1, 1]  # nothing written: same round


async def test_a_backorder_that_waits_too_long_is_cancelled_voided_and_shows_no_backorder(shop):
    shop.stock.put("wh-1", "SKU-A", 0)
    order = await shop.order(("SKU-A", 1, "5.00"), **BACKORDER)
    await order.reached("order_backordered")

    await shop.sleep(86400)
    done = await order.result()

    assert done.status == "cancelled"
    assert done.cancellation == {
        "by": "system",
        "reason": "backorder_expired",
        "code": "backorder_expired",
    }
    assert done.backorder is None
    assert done.payment.status == "voided"
    assert shop.gateway.rows("void") == [("void", "succeeded", "5.00")]
    assert shop.stock.queue == {}  # out of the backorder queue
    last = shop.timeline.entries[order.id][-1]
    assert (last.type, last.data["reason"]) == ("order_cancelled", "backorder_expired")
    # It looked for stock at every hourly recheck before it gave up.
    assert len(shop.stock.requests) == 1 + 24


async def test_what_is_in_stock_ships_now_and_the_rest_when_it_arrives(shop):
    shop.stock.put("wh-1", "SKU-A", 1)
    order = await shop.order(("SKU-A", 3, "2.00"), **BACKORDER)
    await order.reached("shipment_delivered")
    partly = await order.query()
    assert partly.status == "partially_shipped"
    assert partly.backorder is not None and partly.backorder.lines == [SkuQuantity("SKU-A", 2)]
    assert partly.payment.captured == "2.00"  # the shipment that left, only

    shop.stock.put("wh-1", "SKU-A", 2)
    await order.stock_arrived("SKU-A")
    done = await order.result()

    assert done.status == "delivered"
    assert done.backorder is None
    assert [(s.id, s.status, s.lines) for s in done.shipments] == [
        (f"{order.id}-1", "delivered", [SkuQuantity("SKU-A", 1)]),
        (f"{order.id}-2", "delivered", [SkuQuantity("SKU-A", 2)]),
    ]
    assert (done.payment.status, done.payment.captured) == ("captured", "6.00")
    assert shop.gateway.rows("capture") == [
        ("capture", "succeeded", "2.00"),
        ("capture", "succeeded", "4.00"),
    ]
    assert "backorder_filled" in order.kinds()


async def test_a_partly_shipped_order_gives_up_what_never_came_and_is_delivered_with_the_rest(
    shop,
):
    shop.stock.put("wh-1", "SKU-A", 1)
    order = await shop.order(("SKU-A", 3, "2.00"), **BACKORDER)
    await order.reached("shipment_delivered")

    await shop.sleep(86400)
    done = await order.result()

    assert done.status == "delivered"
    assert done.backorder is None
    assert [s.lines for s in done.shipments] == [[SkuQuantity("SKU-A", 1)]]
    assert (done.payment.status, done.payment.captured) == ("captured", "2.00")
    expired = shop.timeline.of(order.id, "backorder_expired")
    assert [e.data["lines"] for e in expired] == [[{"sku": "SKU-A", "quantity": 2}]]
    assert shop.alerts.kinds() == ["backorder_expired"]
    assert shop.stock.queue == {}


async def test_without_split_shipments_a_short_order_waits_whole(shop):
    shop.stock.put("wh-1", "SKU-A", 1)
    order = await shop.order(("SKU-A", 2, "5.00"), split_shipments=False, **BACKORDER)
    await order.reached("order_backordered")
    view = await order.query()
    assert view.backorder is not None and view.backorder.lines == [SkuQuantity("SKU-A", 1)]
    assert shop.stock.held(order.id) == {}  # nothing reserved while it waits

    shop.stock.put("wh-1", "SKU-A", 2)
    await order.stock_arrived("SKU-A")
    done = await order.result()

    assert done.status == "delivered"
    assert [s.lines for s in done.shipments] == [[SkuQuantity("SKU-A", 2)]]


async def test_a_channel_that_does_not_backorder_fails_a_short_order_and_voids_it(shop):
    shop.stock.put("wh-1", "SKU-A", 1)
    order = await shop.order(("SKU-A", 2, "5.00"))

    done = await order.result()

    assert done.status == "failed"
    assert done.failure_reason == "out_of_stock"
    assert done.payment.status == "voided"
    assert shop.gateway.rows() == [
        ("authorize", "succeeded", "10.00"),
        ("void", "succeeded", "10.00"),
    ]
    failed = shop.timeline.entries[order.id][-1]
    assert (failed.type, failed.data["skus"]) == ("order_failed", ["SKU-A"])
    assert shop.stock.held(order.id) == {}
