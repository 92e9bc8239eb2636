"""Edits of an order's lines before dispatch (update ``request_edit``): stock and payment
follow, all or nothing; refusals for an order past the point, or an edit that cannot be
honoured; an edit racing the dispatch."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from temporalio.client import WorkflowUpdateFailedError

from oms.domain.holds import HoldPolicy
from tests.workflows.conftest import refused

WINDOW = 600  # the release window, in which the tests edit a reserved order


async def reason_of(update: object) -> tuple[str, list[object]]:
    """A refused edit: its reason code and the facts after it (the SKUs short)."""
    try:
        await update  # type: ignore[misc]
    except WorkflowUpdateFailedError as failed:
        details = list(failed.cause.details)  # type: ignore[union-attr]
        return str(details[0]), details[1:]
    raise AssertionError("the edit was not refused")


async def test_an_edit_adding_a_line_reserves_it_raises_the_authorization_and_ships_it(shop):
    shop.stock.put("wh-1", "SKU-A", 10)
    shop.stock.put("wh-1", "SKU-B", 10)
    order = await shop.order(("SKU-A", 2, "10.00"), release_delay_s=WINDOW)
    await order.reached("stock_reserved")
    assert shop.stock.held(order.id) == {("wh-1", "SKU-A"): 2}

    accepted = await order.edit(("SKU-A", 3, "10.00"), ("SKU-B", 1, "5.00"), by="ada")
    assert accepted.accepted and accepted.status == "reserved"

    view = await order.query()
    assert [(x.sku, x.quantity) for x in view.lines] == [("SKU-A", 3), ("SKU-B", 1)]
    assert (view.totals.total, view.payment.authorized, view.edits) == ("35.00", "35.00", 1)
    assert shop.stock.held(order.id) == {("wh-1", "SKU-A"): 3, ("wh-1", "SKU-B"): 1}
    assert [s.id for s in view.shipments] == [f"{order.id}-2"]  # the first one is gone
    # Checked first, then the authorization raised, then the stock moved.
    assert [e.check_only for e in shop.stock.edits] == [True, False]
    assert shop.gateway.rows("adjust") == [("adjust", "succeeded", "35.00")]

    await shop.sleep(WINDOW)
    done = await order.result()
    assert done.status == "delivered"
    assert [r.shipment_id for r in shop.wms.requests] == [f"{order.id}-2"]
    assert {(x.sku, x.quantity) for x in shop.wms.requests[0].lines} == {
        ("SKU-A", 3),
        ("SKU-B", 1),
    }
    assert shop.gateway.rows("capture") == [("capture", "succeeded", "35.00")]
    edited = await order.reached("order_edited")
    assert edited.data["by"] == "ada"
    assert edited.data["units"] == {"SKU-A": 1, "SKU-B": 1}
    assert (edited.data["total_before"], edited.data["total_after"]) == ("20.00", "35.00")
    assert [x["sku"] for x in edited.data["before"]] == ["SKU-A"]


async def test_an_edit_removing_a_line_releases_it_and_lowers_the_authorization(shop):
    shop.stock.put("wh-1", "SKU-A", 10)
    shop.stock.put("wh-1", "SKU-B", 10)
    order = await shop.order(("SKU-A", 2, "10.00"), ("SKU-B", 4, "5.00"), release_delay_s=WINDOW)
    await order.reached("stock_reserved")

    await order.edit(("SKU-A", 1, "10.00"))

    assert shop.stock.held(order.id) == {("wh-1", "SKU-A"): 1}
    assert shop.stock.available("wh-1", "SKU-B") == 10
    assert [e.check_only for e in shop.stock.edits] == [False]  # a lower total: no check
    assert shop.gateway.rows("adjust") == [("adjust", "succeeded", "10.00")]
    await shop.sleep(WINDOW)
    done = await order.result()
    assert (done.totals.total, done.payment.captured) == ("10.00", "10.00")
    assert done.status == "delivered"


async def test_an_edit_short_of_stock_is_refused_naming_the_skus_and_changes_nothing(shop):
    shop.stock.put("wh-1", "SKU-A", 3)
    order = await shop.order(("SKU-A", 2, "10.00"), release_delay_s=WINDOW)
    await order.reached("stock_reserved")

    reason, facts = await reason_of(order.edit(("SKU-A", 4, "10.00")))

    assert (reason, facts) == ("out_of_stock", [["SKU-A"]])
    view = await order.query()
    assert [(x.sku, x.quantity) for x in view.lines] == [("SKU-A", 2)]
    assert (view.totals.total, view.payment.authorized, view.edits) == ("20.00", "20.00", 0)
    assert shop.stock.held(order.id) == {("wh-1", "SKU-A"): 2}
    assert shop.gateway.rows("adjust") == []  # refused before the gateway was asked
    # Its own two units count: three is what the shelf holds for it.
    await order.edit(("SKU-A", 3, "10.00"))
    assert shop.stock.held(order.id) == {("wh-1", "SKU-A"): 3}


async def test_a_declined_increase_refuses_the_edit_and_changes_nothing(shop):
    shop.stock.put("wh-1", "SKU-A", 10)
    shop.gateway.limit = Decimal("50")
    order = await shop.order(("SKU-A", 2, "10.00"), release_delay_s=WINDOW)
    await order.reached("stock_reserved")

    reason, _ = await reason_of(order.edit(("SKU-A", 6, "10.00")))

    assert reason == "payment_declined"
    view = await order.query()
    assert (view.totals.total, view.payment.authorized, view.edits) == ("20.00", "20.00", 0)
    assert shop.stock.held(order.id) == {("wh-1", "SKU-A"): 2}
    assert [e.check_only for e in shop.stock.edits] == [True]  # nothing moved
    assert shop.gateway.rows("adjust") == [("adjust", "declined", "60.00")]
    # The next edit has a key of its own: not the declined answer again.
    await order.edit(("SKU-A", 5, "10.00"))
    assert shop.gateway.rows("adjust")[-1] == ("adjust", "succeeded", "50.00")


async def test_an_edit_is_refused_once_dispatched_and_when_it_changes_nothing(shop):
    shop.carrier_on = False
    shop.stock.put("wh-1", "SKU-A", 10)
    order = await shop.order(("SKU-A", 2, "10.00"), release_delay_s=WINDOW)
    await order.reached("stock_reserved")

    assert "nothing to change" in await refused(order.edit(("SKU-A", 2, "10.00")))
    await shop.sleep(WINDOW)
    await shop.dispatched()

    reason, _ = await reason_of(order.edit(("SKU-A", 1, "10.00")))
    assert reason == "dispatched"
    assert shop.stock.edits == []
    assert (await order.query()).edits == 0


async def test_an_edit_before_the_reservation_changes_the_lines_the_reservation_takes(shop):
    shop.stock.put("wh-1", "SKU-GOLD", 5)
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(("SKU-GOLD", 1, "150.00"))  # held for its value
    await order.reached("order_held")

    await order.edit(("SKU-A", 2, "10.00"))  # on hold: nothing reserved yet
    assert shop.stock.edits == []
    assert shop.gateway.rows("adjust") == [("adjust", "succeeded", "20.00")]
    await order.approve()
    done = await order.result()

    assert done.status == "delivered"
    assert [(x.sku, x.quantity) for x in shop.stock.requests[0].lines] == [("SKU-A", 2)]
    assert done.payment.captured == "20.00"


async def test_a_higher_total_runs_the_hold_rules_again_before_dispatch(shop):
    shop.stock.put("wh-1", "SKU-A", 50)
    order = await shop.order(("SKU-A", 2, "10.00"), release_delay_s=WINDOW)
    await order.reached("stock_reserved")

    await order.edit(("SKU-A", 20, "10.00"))  # 200 EUR: over the 100 EUR rule
    await shop.sleep(WINDOW)
    held = await order.reached("order_held")

    assert held.data["reasons"] == ["high_value"]
    assert [c.total for c in shop.holds.checks] == ["20.00", "200.00"]
    assert shop.wms.requests == []
    await order.reject()
    done = await order.result()
    assert done.status == "cancelled"
    assert shop.stock.held(order.id) == {}


async def test_an_edit_in_flight_holds_the_dispatch_until_it_is_done(shop):
    """The window closes while the edit's stock step runs: the dispatch waits for it and
    sends the new lines; an edit after that finds the order dispatching."""
    shop.carrier_on = False
    shop.holds.policy = HoldPolicy()
    shop.stock.put("wh-1", "SKU-A", 10)
    shop.stock.edit_gate = asyncio.Event()
    # A short window: the clock must not pass the stock step's own timeout (15 s).
    order = await shop.order(("SKU-A", 2, "10.00"), release_delay_s=5)
    await order.reached("stock_reserved")

    editing = asyncio.create_task(order.edit(("SKU-A", 1, "20.00")))  # same total
    await asyncio.wait_for(shop.stock.edit_started.wait(), 10)
    await shop.sleep(5)  # the window closes with the edit in flight
    assert shop.wms.requests == []
    shop.stock.edit_gate.set()
    await editing

    dispatched = await shop.dispatched()
    assert [(x.sku, x.quantity) for x in dispatched.lines] == [("SKU-A", 1)]
    assert dispatched.shipment_id == f"{order.id}-2"
    reason, _ = await reason_of(order.edit(("SKU-A", 3, "20.00")))
    assert reason == "dispatched"
    # The edit ran the hold rules again before the dispatch (none tripped).
    assert [c.total for c in shop.holds.checks] == ["20.00", "20.00"]
    # And the race did happen: the window's timer fired while the edit's step ran.
    events = (await order.handle.fetch_history()).events
    scheduled = {
        e.event_id
        for e in events
        if e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name == "edit_stock"
    }
    fired = next(e.event_id for e in events if e.HasField("timer_fired_event_attributes"))
    completed = next(
        e.event_id
        for e in events
        if e.HasField("activity_task_completed_event_attributes")
        and e.activity_task_completed_event_attributes.scheduled_event_id in scheduled
    )
    assert min(scheduled) < fired < completed


async def test_a_backordered_order_is_refused(shop):
    order = await shop.order(("SKU-A", 2, "10.00"), backorder=True)
    await order.reached("order_backordered")

    reason, _ = await reason_of(order.edit(("SKU-A", 1, "10.00")))

    assert reason == "backordered"
    await order.cancel()
    assert (await order.result()).status == "cancelled"


async def test_a_cancel_during_an_edit_waits_for_it_and_releases_what_it_reserved(shop):
    shop.stock.put("wh-1", "SKU-A", 10)
    shop.stock.edit_gate = asyncio.Event()
    order = await shop.order(("SKU-A", 2, "10.00"), release_delay_s=WINDOW)
    await order.reached("stock_reserved")

    editing = asyncio.create_task(order.edit(("SKU-A", 4, "5.00")))  # same total
    await asyncio.wait_for(shop.stock.edit_started.wait(), 10)
    await order.cancel()
    shop.stock.edit_gate.set()
    await editing
    done = await order.result()

    assert done.status == "cancelled"
    assert shop.stock.held(order.id) == {}  # the edit's new reservation went back too
    assert [(x.sku, x.quantity) for x in done.lines] == [("SKU-A", 4)]
    assert done.payment.status == "voided"
    kinds = order.kinds()
    assert kinds.index("order_edited") < kinds.index("order_cancelled")


async def test_a_gateway_that_refuses_the_increase_or_does_not_answer_changes_nothing(shop):
    shop.stock.put("wh-1", "SKU-A", 10)
    order = await shop.order(("SKU-A", 2, "10.00"), release_delay_s=WINDOW)
    await order.reached("stock_reserved")

    shop.gateway.refusing = {"adjust"}
    assert (await reason_of(order.edit(("SKU-A", 3, "10.00"))))[0] == "payment_rejected"
    shop.gateway.refusing = set()
    shop.gateway.down = {"adjust"}
    editing = asyncio.create_task(reason_of(order.edit(("SKU-A", 3, "10.00"))))
    await shop.sleep(15)  # past the raise's ten seconds of retries
    assert (await editing)[0] == "payment_unavailable"

    view = await order.query()
    assert (view.totals.total, view.payment.authorized, view.edits) == ("20.00", "20.00", 0)
    assert shop.stock.held(order.id) == {("wh-1", "SKU-A"): 2}
    assert [e.check_only for e in shop.stock.edits] == [True, True]
    shop.gateway.down = set()
    await order.edit(("SKU-A", 3, "10.00"))  # the gateway is back: a key of its own
    assert shop.gateway.rows("adjust")[-1] == ("adjust", "succeeded", "30.00")
