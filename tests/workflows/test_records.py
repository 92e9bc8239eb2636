"""What the order writes through ``bookkeep``: every step once, in order, numbered without
gaps, each with the status it left the order in; written in batches, with the view as
it stands after the batch's last step."""

from __future__ import annotations

from dataclasses import asdict


async def test_every_step_is_written_once_in_order_numbered_without_gaps(shop):
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(("SKU-A", 1, "9.99"))

    done = await order.result()

    entries = shop.timeline.entries[order.id]
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert [e.type for e in entries] == [
        "payment_authorized",
        "stock_reserved",
        "shipment_dispatched",
        "shipment_shipped",
        "payment_captured",
        "shipment_in_transit",
        "shipment_delivered",
        "order_delivered",
    ]
    moves = [(e.data["from"], e.data["to"]) for e in entries if "to" in e.data]
    assert moves == [
        ("received", "payment_authorized"),
        ("payment_authorized", "reserved"),
        ("reserved", "dispatched"),
        ("dispatched", "shipped"),
        ("shipped", "delivered"),
    ]
    assert all(e.status == e.data["to"] for e in entries if "to" in e.data)
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    # The read model's last view is the order as it ended.
    assert asdict(shop.timeline.views[order.id][-1]) == asdict(done)


async def test_steps_are_batched_into_fewer_local_activities_than_steps(shop):
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(("SKU-A", 1, "9.99"))
    await order.result()

    calls = shop.bookkeeping.calls
    steps = len(shop.timeline.entries[order.id])
    carried = [c for c in calls if c.check_holds or c.reserve or c.commit or c.release]
    assert [bool(c.check_holds) for c in carried] == [True, False, False]
    # The hold check, the reservation and the commit each took pending steps along; a
    # single-warehouse order costs 10 local activities (docs/performance.md), not 12.
    assert len(calls) <= 10 < steps + len(carried)
    assert sum(len(c.records.entries) for c in calls if c.records) == steps


async def test_a_declined_payment_fails_the_order_and_reserves_nothing(shop):
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(("SKU-A", 2, "9.99"), token="tok_declined")

    done = await order.result()

    assert done.status == "failed"
    assert done.failure_reason == "payment_declined"
    assert done.payment.status == "declined"
    assert done.shipments == []
    assert shop.gateway.rows() == [("authorize", "declined", "19.98")]  # nothing to void
    assert shop.stock.requests == []
    (failed,) = shop.timeline.entries[order.id]
    assert (failed.type, failed.status, failed.data["reason"]) == (
        "order_failed",
        "failed",
        "payment_declined",
    )


async def test_a_cancelled_order_ends_its_timeline_with_who_and_why(shop):
    shop.stock.put("wh-1", "SKU-A", 5)
    order = await shop.order(("SKU-A", 1, "9.99"), release_delay_s=600)
    await order.reached("stock_reserved")
    await order.cancel(by="ada@example.com", reason="found it cheaper")

    await order.result()

    last = shop.timeline.entries[order.id][-1]
    assert (last.type, last.status) == ("order_cancelled", "cancelled")
    assert last.data == {
        "reason": "found it cheaper",
        "by": "ada@example.com",
        "from": "reserved",
        "to": "cancelled",
    }
