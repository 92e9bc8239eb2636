"""Deadlines the order keeps by durable timers: the SLA (dispatch and delivery), the
authorization limit, and a shipment that stays silent. Days pass in milliseconds."""

from __future__ import annotations

from oms.domain.ids import idempotency_key
from oms.domain.search_attributes import ORDER_LATE

ITEM = ("SKU-A", 1, "9.99")


async def test_an_order_not_dispatched_in_time_is_flagged_late_and_still_delivered(shop):
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(ITEM, sla_dispatch_s=600, release_delay_s=1200)
    await order.reached("stock_reserved")
    await shop.sleep(599)
    assert shop.alerts.kinds() == []  # not yet

    await shop.sleep(2)
    late = await shop.alerts.reached("order_late")
    assert late.detail["stage"] == "dispatch"
    assert (await order.query()).late is True
    assert shop.wms.requests == []  # still in its window
    await shop.sleep(600)
    done = await order.result()

    assert done.status == "delivered"  # late, not failed
    assert done.late is True
    assert [e.data["stage"] for e in shop.timeline.of(order.id, "order_late")] == ["dispatch"]
    assert shop.alerts.kinds() == ["order_late"]
    attributes = (await order.handle.describe()).typed_search_attributes
    assert attributes.get(ORDER_LATE) is True


async def test_an_order_not_delivered_in_time_is_flagged_late_once_and_still_delivered(shop):
    shop.carrier_on = False
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(ITEM, sla_dispatch_s=600, sla_delivery_s=7200)
    shipment = await shop.dispatched()
    await order.event(shipment.shipment_id, "shipped")
    await order.reached("shipment_shipped")

    await shop.sleep(7200)
    late = await shop.alerts.reached("order_late")
    assert late.detail["stage"] == "delivery"
    await order.event(shipment.shipment_id, "delivered")
    done = await order.result()

    assert done.status == "delivered"
    assert done.late is True
    assert [e.data["stage"] for e in shop.timeline.of(order.id, "order_late")] == ["delivery"]
    assert shop.alerts.kinds() == ["order_late"]


async def test_an_order_delivered_in_time_is_never_flagged_late(shop):
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(ITEM, sla_dispatch_s=600, sla_delivery_s=7200)

    done = await order.result()
    await shop.sleep(7200)  # the timers fire after the end, and find nothing to flag

    assert done.late is False
    assert "order_late" not in order.kinds()
    assert shop.alerts.kinds() == []


async def test_a_gateway_down_past_the_authorization_limit_fails_the_order_and_voids_by_key(shop):
    shop.gateway.down = {"authorize"}
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(ITEM, authorize_limit_s=120)

    await shop.sleep(130)
    done = await order.result()

    assert done.status == "failed"
    assert done.failure_reason == "payment_unavailable"
    assert done.payment.status == "failed"  # nothing was authorized, nothing to void
    assert shop.gateway.attempts["authorize"] > 3  # retried with backoff until the limit
    assert {r.key for r in shop.gateway.ledger} == {idempotency_key(order.id, "authorize")}
    # The authorization may have happened all the same: it is voided by its key.
    assert [c.kind for c in shop.gateway.calls][-1] == "void"
    assert shop.stock.requests == []


async def test_an_authorization_whose_answer_was_lost_is_voided_when_the_order_fails(shop):
    shop.gateway.lose_answers = True
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(ITEM, authorize_limit_s=60)

    await shop.sleep(70)
    done = await order.result()

    assert done.status == "failed"
    assert done.failure_reason == "payment_unavailable"
    assert done.payment.status == "voided"
    assert shop.gateway.authorizations == {idempotency_key(order.id, "authorize"): "voided"}
    assert shop.gateway.rows("void") == [("void", "succeeded", "9.99")]


async def test_an_order_waits_out_a_short_gateway_outage_and_goes_on_by_itself(shop):
    shop.gateway.down = {"authorize"}
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(ITEM, authorize_limit_s=3600)
    await shop.sleep(10)
    assert shop.gateway.attempts["authorize"] > 1
    assert (await order.query()).status == "received"  # retrying, visibly

    shop.gateway.down = set()
    await shop.sleep(60)
    done = await order.result()

    assert done.status == "delivered"
    statuses = [r.status for r in shop.gateway.ledger if r.kind == "authorize"]
    assert statuses[-1] == "succeeded" and set(statuses[:-1]) == {"failed"}


async def test_a_shipment_the_warehouse_never_ships_raises_one_alert_and_keeps_waiting(shop):
    shop.carrier_on = False
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(ITEM, ship_deadline_s=3600, sla_dispatch_s=0, sla_delivery_s=0)
    shipment = await shop.dispatched()
    await order.reached("shipment_dispatched")

    await shop.sleep(3 * 3600)
    silent = await shop.alerts.reached("shipment_silent")
    assert (silent.shipment_id, silent.detail["stage"]) == (shipment.shipment_id, "not_shipped")
    assert (await order.query()).status == "dispatched"  # still waiting, not failed
    for status in ("shipped", "delivered"):
        await order.event(shipment.shipment_id, status)
    done = await order.result()

    assert done.status == "delivered"
    assert shop.alerts.kinds() == ["shipment_silent"]  # once per status, not per hour
