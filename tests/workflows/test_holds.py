"""Holds: a rule (or an operator) stops the order for a person, who approves or rejects
it; a hold nobody decides raises a stale alert, then expires and cancels the order."""

from __future__ import annotations

from datetime import datetime, timedelta

from oms.contract import Signal
from oms.domain.holds import HoldPolicy
from oms.domain.messages import Address, OperatorAction
from tests.workflows.conftest import refused

EXPENSIVE = ("SKU-GOLD", 1, "150.00")  # over the fakes' 100 EUR high-value rule


async def test_a_high_value_order_waits_for_approval_before_stock_and_then_is_delivered(shop):
    shop.stock.put("wh-1", "SKU-GOLD", 5)
    order = await shop.order(EXPENSIVE, hold_timeout_s=3600)

    held = await order.reached("order_held")
    view = await order.query()
    assert view.status == "on_hold"
    assert view.hold is not None and view.hold.reasons == ["high_value"]
    since = datetime.fromisoformat(view.hold.since)
    assert view.hold.expires_at == (since + timedelta(seconds=3600)).isoformat()
    assert held.data["reasons"] == ["high_value"]
    assert shop.stock.requests == []  # the rules run before any stock is reserved

    accepted = await order.approve(by="ops@example.com", note="known customer")
    assert accepted.accepted
    done = await order.result()

    assert done.status == "delivered"
    assert done.hold is not None and done.hold.decision is not None
    assert done.hold.decision["action"] == "approve"
    assert done.hold.decision["by"] == "ops@example.com"
    assert done.hold.decision["note"] == "known customer"
    kinds = order.kinds()
    assert kinds.index("order_held") < kinds.index("hold_approved") < kinds.index("stock_reserved")
    approved = order.shop.timeline.of(order.id, "hold_approved")[0]
    assert (approved.data["from"], approved.data["to"]) == ("on_hold", "payment_authorized")


async def test_a_rejected_order_is_cancelled_with_who_and_why_and_its_payment_voided(shop):
    shop.stock.put("wh-1", "SKU-GOLD", 5)
    order = await shop.order(EXPENSIVE)
    await order.reached("order_held")

    await order.reject(by="risk@example.com", reason="stolen card")
    done = await order.result()

    assert done.status == "cancelled"
    assert done.cancellation == {
        "by": "risk@example.com",
        "reason": "stolen card",
        "code": "rejected",
    }
    assert done.payment.status == "voided"
    assert shop.gateway.rows() == [
        ("authorize", "succeeded", "150.00"),
        ("void", "succeeded", "150.00"),
    ]
    assert shop.stock.requests == [] and shop.wms.requests == []
    assert order.kinds()[-1] == "order_cancelled"


async def test_a_hold_nobody_decides_alerts_once_when_stale_then_expires_and_cancels(shop):
    shop.stock.put("wh-1", "SKU-GOLD", 5)
    # The SLA off: a day on hold would make the order late too (order_late).
    timers = {"hold_stale_s": 3600, "hold_timeout_s": 86400, "sla_dispatch_s": 0}
    order = await shop.order(EXPENSIVE, **timers)
    await order.reached("order_held")

    await shop.sleep(3601)
    stale = await shop.alerts.reached("hold_stale")
    assert stale.detail["reasons"] == ["high_value"]
    assert (await order.query()).status == "on_hold"  # stale, still waiting

    await shop.sleep(86400 - 3600)
    done = await order.result()

    assert done.status == "cancelled"
    assert done.cancellation == {"by": "system", "reason": "hold_expired", "code": "hold_expired"}
    assert done.payment.status == "voided"
    assert shop.alerts.kinds() == ["hold_stale"]
    last = shop.timeline.entries[order.id][-1]
    assert (last.type, last.data["reason"]) == ("order_cancelled", "hold_expired")


async def test_a_hold_decided_before_it_goes_stale_raises_no_alert(shop):
    shop.stock.put("wh-1", "SKU-GOLD", 5)
    order = await shop.order(EXPENSIVE, hold_stale_s=3600, hold_timeout_s=86400)
    await order.reached("order_held")
    await shop.sleep(3000)
    assert shop.alerts.kinds() == []
    await order.approve()
    # Past when it would have gone stale (1 h) and expired (24 h); short of the day its
    # shipment may wait for the warehouse before that alerts (ship_deadline_s).
    await shop.sleep(84000)

    done = await order.result()

    assert done.status == "delivered"
    assert shop.alerts.kinds() == []


async def test_the_web_uis_approve_signal_decides_as_the_update_does(shop):
    shop.stock.put("wh-1", "SKU-GOLD", 5)
    order = await shop.order(EXPENSIVE)
    await order.reached("order_held")

    await order.handle.signal(Signal.APPROVE, OperatorAction("ops-ui", note="checked by phone"))
    done = await order.result()

    assert done.status == "delivered"
    assert done.hold is not None and done.hold.decision is not None
    assert (done.hold.decision["by"], done.hold.decision["note"]) == ("ops-ui", "checked by phone")


async def test_approve_and_reject_are_refused_for_an_order_that_is_not_on_hold(shop):
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(("SKU-A", 1, "9.99"), release_delay_s=600)
    await order.reached("stock_reserved")

    assert "it is not on hold" in await refused(order.approve())
    assert "it is not on hold" in await refused(order.reject())
    await shop.sleep(600)

    assert (await order.result()).status == "delivered"


async def test_an_operator_holds_a_reserved_order_by_hand_and_approves_it(shop):
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(("SKU-A", 1, "9.99"), release_delay_s=600)
    await order.reached("stock_reserved")

    await order.hold(by="ops@example.com", reason="odd email")
    held = await order.reached("order_held")
    view = await order.query()
    assert view.hold is not None
    assert (view.hold.reasons, view.hold.note) == (["manual"], "odd email")
    assert held.data["by"] == "ops@example.com"
    assert "on hold already" in await refused(order.hold(reason="again"))
    assert shop.wms.requests == []  # held, not dispatched

    await order.approve()
    done = await order.result()

    assert done.status == "delivered"
    assert [e.data["to"] for e in shop.timeline.of(order.id, "hold_approved")] == ["reserved"]


async def test_a_new_address_before_dispatch_runs_the_rules_again_and_can_be_rejected(shop):
    shop.holds.policy = HoldPolicy(countries=frozenset({"KP"}))
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(("SKU-A", 1, "9.99"), release_delay_s=600)
    await order.reached("stock_reserved")

    elsewhere = Address("Ada", "1 Juche Rd", "Pyongyang", "1000", "KP")
    await order.change_address(elsewhere)
    assert (await order.query()).status == "reserved"  # checked when the window closes
    await shop.sleep(600)
    await order.reached("order_held")
    view = await order.query()
    assert view.shipping_address.country == "KP"
    assert view.hold is not None and view.hold.reasons == ["restricted_country"]
    assert [c.address.country for c in shop.holds.checks] == ["DE", "KP"]

    await order.reject(reason="embargo")
    done = await order.result()

    assert done.status == "cancelled"
    assert "address_changed" in order.kinds()
    assert "address" not in shop.timeline.of(order.id, "address_changed")[0].data  # no PII
    assert shop.stock.held(order.id) == {}  # the reservation went back
    assert shop.wms.requests == []
