"""Shipping: one shipment per warehouse, each captured as it leaves; partner events move
a shipment only forward; a refused dispatch is re-routed to the next warehouse with
stock, backordered, or (nowhere to go) fails the order."""

from __future__ import annotations

from oms.domain.ids import idempotency_key
from oms.domain.messages import SkuQuantity


async def test_an_order_split_across_warehouses_is_captured_per_shipment_as_each_leaves(shop):
    shop.carrier_on = False
    shop.stock.put("wh-near", "SKU-A", 5)
    shop.stock.put("wh-far", "SKU-B", 5)
    order = await shop.order(("SKU-A", 2, "9.99"), ("SKU-B", 3, "9.99"))
    first, second = sorted(
        [await shop.dispatched(), await shop.dispatched()], key=lambda d: d.shipment_id
    )
    assert {(d.warehouse_id, d.lines[0].sku) for d in (first, second)} == {
        ("wh-near", "SKU-A"),
        ("wh-far", "SKU-B"),
    }

    await order.event(first.shipment_id, "shipped")
    await order.reached("payment_captured")
    partly = await order.query()
    assert partly.status == "partially_shipped"
    assert partly.payment.status == "partially_captured"
    for event in (
        (second.shipment_id, "shipped"),
        (first.shipment_id, "delivered"),
        (second.shipment_id, "delivered"),
    ):
        await order.event(*event)
    done = await order.result()

    assert done.status == "delivered"
    assert (done.payment.status, done.payment.captured) == ("captured", "49.95")
    captures = {r.key: r.amount for r in shop.gateway.ledger if r.kind == "capture"}
    number = {d.lines[0].sku: d.shipment_id.rsplit("-", 1)[1] for d in (first, second)}
    assert captures == {  # one per shipment, by its own key
        idempotency_key(order.id, f"capture-{number['SKU-A']}"): "19.98",  # 2 at 9.99
        idempotency_key(order.id, f"capture-{number['SKU-B']}"): "29.97",  # 3 at 9.99
    }
    # Each shipment's stock left the shelf when it shipped.
    assert shop.stock.on_hand == {"wh-near": {"SKU-A": 3}, "wh-far": {"SKU-B": 2}}


async def test_one_warehouse_with_everything_is_preferred_over_a_split(shop):
    shop.stock.put("wh-first", "SKU-A", 5, priority=1)
    shop.stock.put("wh-whole", "SKU-A", 5, priority=5)
    shop.stock.put("wh-whole", "SKU-B", 5)
    order = await shop.order(("SKU-A", 1, "1.00"), ("SKU-B", 1, "1.00"))

    done = await order.result()

    assert [s.warehouse_id for s in done.shipments] == ["wh-whole"]


async def test_duplicate_and_late_partner_events_change_nothing(shop):
    shop.carrier_on = False
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(("SKU-A", 1, "9.99"))
    shipment = (await shop.dispatched()).shipment_id

    for status in ("shipped", "shipped", "in_transit", "shipped", "delivered"):
        await order.event(shipment, status)
    done = await order.result()

    assert done.status == "delivered"
    kinds = order.kinds()
    assert kinds.count("shipment_shipped") == 1
    assert kinds.count("payment_captured") == 1
    assert shop.gateway.rows("capture") == [("capture", "succeeded", "9.99")]
    assert len(shop.stock.commits) == 1


async def test_a_refused_shipment_is_rerouted_to_the_next_warehouse_with_stock(shop):
    shop.wms.refusing = {"wh-1"}
    shop.stock.put("wh-1", "SKU-A", 2, priority=1)
    shop.stock.put("wh-2", "SKU-A", 2, priority=2)
    order = await shop.order(("SKU-A", 1, "8.00"))

    done = await order.result()

    assert done.status == "delivered"
    assert [(s.warehouse_id, s.status) for s in done.shipments] == [
        ("wh-1", "failed"),
        ("wh-2", "delivered"),
    ]
    assert (done.payment.status, done.payment.captured) == ("captured", "8.00")
    failed = shop.timeline.of(order.id, "shipment_failed")[0]
    assert failed.data["warehouse_id"] == "wh-1"
    rerouted = shop.timeline.of(order.id, "shipment_rerouted")[0].data
    assert rerouted["refused_by"] == "wh-1"
    assert rerouted["from_shipment"] == f"{order.id}-1"
    assert (rerouted["warehouses"], rerouted["excluded"]) == (["wh-2"], ["wh-1"])
    assert [r.exclude for r in shop.stock.requests] == [[], ["wh-1"]]
    assert (shop.stock.on_hand["wh-1"]["SKU-A"], shop.stock.reserved("wh-1", "SKU-A")) == (2, 0)
    assert (shop.stock.on_hand["wh-2"]["SKU-A"], shop.stock.reserved("wh-2", "SKU-A")) == (1, 0)
    refused = shop.alerts.raised[0]
    assert (refused.kind, refused.shipment_id) == ("shipment_refused", f"{order.id}-1")


async def test_a_refusal_with_nowhere_to_go_fails_the_order_and_voids_the_payment(shop):
    shop.wms.refusing = {"wh-1"}
    shop.stock.put("wh-1", "SKU-A", 2)
    order = await shop.order(("SKU-A", 1, "8.00"))

    done = await order.result()

    assert done.status == "failed"
    assert done.failure_reason == "dispatch_failed"
    assert done.payment.status == "voided"
    assert "reroute_failed" in order.kinds()
    assert shop.stock.held(order.id) == {}
    assert shop.gateway.rows("capture") == []


async def test_a_refusal_with_nowhere_to_go_is_backordered_until_stock_comes_elsewhere(shop):
    shop.wms.refusing = {"wh-1"}
    shop.stock.put("wh-1", "SKU-A", 1)
    order = await shop.order(("SKU-A", 1, "8.00"), backorder=True)
    await order.reached("order_backordered")
    view = await order.query()
    assert view.status == "backordered"
    assert view.backorder is not None and view.backorder.lines == [SkuQuantity("SKU-A", 1)]

    shop.stock.put("wh-2", "SKU-A", 1)
    await order.stock_arrived("SKU-A")
    done = await order.result()

    assert done.status == "delivered"
    assert [(s.warehouse_id, s.status) for s in done.shipments] == [
        ("wh-1", "failed"),
        ("wh-2", "delivered"),
    ]
