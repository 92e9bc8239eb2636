"""Orders from sales platforms: an unpaid order waits for its payment, a payment the
platform took is recorded and never charged again, the platform's refunds, holds and
cancels reach the order, shipments are reported back, and a shadow channel's order is
decided without anything being done."""

from __future__ import annotations

from oms.domain.messages import ChannelEvent, PlatformView

ITEM = ("SKU-A", 2, "9.99")


def taobao(state: str = "paid", mode: str = "live") -> PlatformView:
    return PlatformView("taobao", state, "WAIT_SELLER_SEND_GOODS", True, "alipay-1", mode)


async def test_a_paid_platform_order_is_recorded_not_charged_and_reported_when_shipped(shop):
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(ITEM, platform=taobao(), report_shipments=True, prepaid=True)
    done = await order.result()

    assert done.status == "delivered"
    assert (done.payment.status, done.payment.captured) == ("captured", "19.98")
    # One ledger row, the platform's: no authorization, no capture at our gateway.
    assert shop.gateway.rows() == [("platform", "succeeded", "19.98")]
    assert [c.kind for c in shop.gateway.calls] == ["platform"]
    assert shop.gateway.calls[0].reference == "alipay-1"
    [report] = shop.platform.reports
    assert (report.external_id, report.tracking_number) == (
        order.view.external_id,
        "TRK-" + report.shipment_id,
    )
    assert "platform_reported" in order.kinds()


async def test_an_unpaid_order_waits_without_stock_until_the_platform_says_paid(shop):
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(
        ITEM,
        platform=taobao("unpaid"),
        prepaid=True,
        awaiting_payment=True,
        payment_timeout_s=3600,
    )
    await order.reached("payment_awaited")
    await shop.sleep(600)
    assert (await order.query()).status == "received"
    assert shop.stock.requests == [] and shop.gateway.calls == []

    await order.platform_says("paid", "WAIT_SELLER_SEND_GOODS", "alipay-9")
    done = await order.result()

    assert done.status == "delivered"
    assert shop.gateway.calls[0].reference == "alipay-9"


async def test_an_unpaid_order_is_cancelled_when_its_payment_timer_runs_out(shop):
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(
        ITEM, platform=taobao("unpaid"), prepaid=True, awaiting_payment=True, payment_timeout_s=900
    )
    await order.reached("payment_awaited")
    await shop.sleep(901)
    done = await order.result()

    assert done.status == "cancelled"
    assert done.cancellation is not None and done.cancellation["code"] == "unpaid"
    assert shop.gateway.calls == [] and shop.stock.requests == []


async def test_the_platform_closing_an_unpaid_order_cancels_it(shop):
    order = await shop.order(
        ITEM, platform=taobao("unpaid"), prepaid=True, awaiting_payment=True, payment_timeout_s=900
    )
    await order.reached("payment_awaited")
    await order.platform_says("cancelled", "TRADE_CLOSED_BY_TAOBAO")
    done = await order.result()

    assert done.status == "cancelled"
    assert done.cancellation is not None
    assert done.cancellation["by"] == "channel:webshop"
    assert done.cancellation["reason"] == "TRADE_CLOSED_BY_TAOBAO"


async def test_a_refund_asked_before_dispatch_holds_the_order_and_its_withdrawal_lets_it_go(shop):
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(
        ITEM, platform=taobao(), prepaid=True, report_shipments=True, release_delay_s=600
    )
    await order.reached("stock_reserved")
    await order.platform_says("refund_requested", "WAIT_SELLER_SEND_GOODS")
    held = await order.reached("order_held")
    assert held.data["reasons"] == ["refund_requested"]
    assert shop.wms.requests == []

    await order.platform_says("refund_withdrawn", "WAIT_SELLER_SEND_GOODS")
    done = await order.result()

    assert done.status == "delivered"
    assert done.hold is not None and done.hold.decision is not None
    assert done.hold.decision["by"] == "channel:webshop"


async def test_a_refund_granted_on_the_platform_cancels_the_held_order_and_releases_its_stock(
    shop,
):
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(
        ITEM,
        platform=taobao("refund_requested"),
        prepaid=True,
        first_event=ChannelEvent("refund_requested", "WAIT_SELLER_SEND_GOODS"),
    )
    await order.reached("order_held")
    await order.platform_says("cancelled", "TRADE_CLOSED")
    done = await order.result()

    assert done.status == "cancelled"
    assert shop.stock.held(order.id) == {}
    assert shop.wms.requests == []
    # Nothing to void: the platform refunds what it took.
    assert [c.kind for c in shop.gateway.calls] == ["platform"]


async def test_a_refund_or_cancel_after_dispatch_is_an_after_sale_and_an_alert_not_a_change(
    shop,
):
    shop.carrier_on = False
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(ITEM, platform=taobao(), prepaid=True, report_shipments=True)
    dispatch = await shop.dispatched()
    await order.event(dispatch.shipment_id, "shipped")
    await order.reached("shipment_shipped")

    await order.platform_says("refund_requested", "WAIT_BUYER_CONFIRM_GOODS")
    await order.platform_says("cancelled", "TRADE_CLOSED")
    await order.reached("after_sale", 2)
    await order.event(dispatch.shipment_id, "delivered")
    done = await order.result()

    assert done.status == "delivered"
    assert [a.kind for a in done.after_sales] == ["refund_requested", "cancelled"]
    assert ("after_sale", order.id) in [(a.kind, a.order_id) for a in shop.alerts.raised]


async def test_a_platform_that_refuses_the_shipment_report_raises_an_alert_and_the_order_goes_on(
    shop,
):
    shop.platform.refusing = True
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(ITEM, platform=taobao(), prepaid=True, report_shipments=True)
    done = await order.result()

    assert done.status == "delivered"
    assert "platform_report_failed" in order.kinds()
    assert "platform_refused" in [a.kind for a in shop.alerts.raised]


async def test_a_shadow_order_is_decided_and_recorded_but_nothing_is_charged_reserved_or_sent(
    shop,
):
    shop.stock.put("wh-1", "SKU-A", 1)
    shop.stock.put("wh-2", "SKU-A", 5)
    order = await shop.order(
        ("SKU-A", 2, "60.00"), platform=taobao(mode="shadow"), prepaid=True, shadow=True
    )
    done = await order.result()

    assert done.status == "shadowed"
    assert done.shadow is not None
    assert done.shadow.hold_reasons == ["high_value"]
    assert [a.warehouse_id for a in done.shadow.shipments] == ["wh-2"]
    assert shop.gateway.calls == []
    assert shop.stock.requests == [] and shop.stock.reservations == []
    assert shop.wms.requests == []
    decided = await order.reached("order_shadowed")
    assert decided.data["hold_reasons"] == ["high_value"]
    assert decided.data["shipments"] == [{"warehouse_id": "wh-2", "lines": {"SKU-A": 2}}]
