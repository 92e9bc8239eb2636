"""Payment steps that do not go as planned after authorization: a capture or a void the
gateway refuses outright does not stop the order; it is on the timeline and, for a
capture, an alert for finance. A cancel that came before the workflow started wins
before any payment step."""

from __future__ import annotations

from oms.domain.messages import OperatorAction

ITEM = ("SKU-A", 1, "9.99")


async def test_a_refused_capture_is_flagged_for_finance_and_the_order_still_delivers(shop):
    shop.gateway.refusing = {"capture"}
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(ITEM)

    done = await order.result()

    assert done.status == "delivered"
    assert (done.payment.status, done.payment.captured) == ("capture_failed", "0.00")
    failed = shop.timeline.of(order.id, "payment_capture_failed")
    assert [e.data["shipment_id"] for e in failed] == [f"{order.id}-1"]
    alert = await shop.alerts.reached("capture_failed")
    assert alert.shipment_id == f"{order.id}-1"
    assert shop.gateway.attempts["capture"] == 1  # a refusal is not retried


async def test_a_refused_void_leaves_the_authorization_on_the_timeline_and_the_order_ends(shop):
    shop.gateway.refusing = {"void"}
    shop.stock.put("wh-1", "SKU-A", 1)
    order = await shop.order(("SKU-A", 2, "9.99"))  # more than there is: out of stock

    done = await order.result()

    assert (done.status, done.failure_reason) == ("failed", "out_of_stock")
    assert (done.payment.status, done.payment.authorized) == ("authorized", "19.98")
    (refused,) = shop.timeline.of(order.id, "payment_void_failed")
    assert "refused by the gateway" in refused.data["error"]
    assert order.kinds()[-1] == "order_failed"


async def test_a_cancel_sent_before_the_workflow_started_wins_before_any_payment_step(shop):
    """What the API does for a cancel of an order whose workflow never started: a
    signal-with-start of ``cancel``, so that no later start (the recovery sweep's) can
    authorize it."""
    cancel = OperatorAction("ada@example.com", "changed mind")
    order = await shop.order(ITEM, cancelled_first=cancel)

    done = await order.result()

    assert done.status == "cancelled"
    assert done.cancellation == {
        "by": "ada@example.com",
        "reason": "changed mind",
        "code": "cancelled",
    }
    assert shop.gateway.calls == [] and shop.stock.requests == []
    assert done.payment.status == "pending"
