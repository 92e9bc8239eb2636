"""Open orders imported from another system (workflows/order_import.py): started at the
stage they reached there, the old system's payment recorded and never charged, voided or
refunded by the OMS, and what the fakes let us see that the stack cannot easily show (a
carrier that refuses, a failed import owing a refund, the SLA from the takeover)."""

from __future__ import annotations

from oms.domain.messages import ImportedStage

ITEM = ("SKU-A", 2, "9.99")


def stage(name: str, **extra: object) -> ImportedStage:
    return ImportedStage(name, "OLD", paid="19.98", payment_reference="old-1", **extra)  # type: ignore[arg-type]


async def test_a_paid_import_out_of_stock_fails_voids_nothing_and_owes_a_refund(shop):
    order = await shop.order(ITEM, imported=stage("paid"))  # no stock anywhere
    done = await order.result()

    assert (done.status, done.failure_reason) == ("failed", "out_of_stock")
    assert shop.gateway.rows() == [("imported", "succeeded", "19.98")]
    assert [c.kind for c in shop.gateway.calls] == ["imported"]  # no authorize, no void
    alert = await shop.alerts.reached("refund_due")
    assert (alert.detail["amount"], alert.detail["reason"]) == ("19.98", "out_of_stock")
    assert shop.holds.checks == []  # the old system had accepted it: no hold rules


async def test_a_parcel_the_carrier_will_not_follow_raises_an_alert_and_waits_for_events(shop):
    shop.carrier.refusing = True
    order = await shop.order(
        ITEM, imported=stage("dispatched", tracking_number="TRK-OLD", carrier="DHL")
    )
    alert = await shop.alerts.reached("carrier_refused")
    shipment_id = alert.shipment_id
    assert shipment_id == f"{order.id}-1"
    assert "shipment_follow_failed" in order.kinds()
    for status in ("in_transit", "delivered"):  # posted by hand, by tracking number
        await order.event(shipment_id, status, tracking_number="TRK-OLD")
    done = await order.result()

    assert done.status == "delivered"
    assert shop.wms.requests == [] and shop.stock.requests == [] and shop.stock.commits == []
    assert [s.tracking_number for s in done.shipments] == ["TRK-OLD"]


async def test_an_import_is_late_by_its_takeover_not_by_its_age_in_the_old_system(shop):
    shop.stock.put("wh-1", "SKU-A", 5)
    shop.carrier_on = False
    # Placed a day ago in the old system, waiting in its cancel window: the dispatch
    # deadline counts from the takeover.
    order = await shop.order(
        ITEM, imported=stage("paid"), sla_dispatch_s=600, release_delay_s=3600, age_s=86400
    )
    await order.reached("stock_reserved")
    await shop.sleep(300)
    assert "order_late" not in order.kinds()
    await shop.sleep(400)
    await order.reached("order_late")
    assert (await order.query()).late is True


async def test_a_reserved_import_keeps_its_warehouse_over_a_preferred_one(shop):
    shop.stock.put("wh-near", "SKU-A", 5, priority=1)
    shop.stock.put("wh-kept", "SKU-A", 5, priority=9)
    order = await shop.order(ITEM, imported=stage("reserved", warehouse_id="wh-kept"))
    done = await order.result()

    assert done.status == "delivered"
    assert [s.warehouse_id for s in done.shipments] == ["wh-kept"]
    assert shop.stock.requests[0].only == ["wh-kept"]
    assert shop.gateway.rows() == [("imported", "succeeded", "19.98")]
