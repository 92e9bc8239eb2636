"""What one imported order becomes (oms.imports.records): the view in the read model's
shape, the history in time order with the statuses it reached, the ledger, the
fingerprint, and which corrections are refused."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime
from decimal import Decimal

from temporalio.converter import value_to_type

from oms.domain.messages import OrderView
from oms.imports import records
from tests.integration.imports_helpers import S, imported

NOW = datetime(2026, 1, 2, tzinfo=UTC)


def _build(order, channel="shop"):
    return records.build(channel, order, run="run-1", now=NOW)


def test_the_view_has_the_read_models_shape_and_an_imported_part():
    built = _build(imported("A1"))
    assert set(built.view) == {f.name for f in fields(OrderView)} | {"imported"}
    view = value_to_type(OrderView, built.view, [])
    assert view.status == "delivered" and view.totals.total == "30.00"
    assert view.shipping_address.phone == "+49 30 1234567"
    assert [(a.kind, a.amount) for a in view.adjustments] == [
        ("discount", "-0.40"),
        ("shipping", "4.90"),
    ]
    assert built.view["imported"] == {
        "source_status": "fulfilled",
        "imported_at": NOW.isoformat(),
        "run": "run-1",
        "paid": "30.00",
        "payment_reference": "ch_A1",
    }


def test_a_delivered_order_has_its_history_in_time_order_and_one_capture():
    built = _build(imported("A2"))
    assert [(e.seq, e.type, e.status) for e in built.events] == [
        (0, "order_received", "received"),
        (1, "payment_captured", "payment_authorized"),
        (2, "shipment_dispatched", "dispatched"),
        (3, "shipment_shipped", "shipped"),
        (4, "order_delivered", "delivered"),
        (5, "order_imported", "delivered"),
    ]
    assert [(p.kind, p.amount, p.key) for p in built.ledger] == [
        ("capture", Decimal("30.00"), f"{built.id}-imported-capture")
    ]
    assert built.shipment is not None and built.shipment.status == "delivered"


def test_a_refund_without_delivery_is_a_cancellation_with_the_money_given_back():
    order = imported("A3", S.REFUNDED, delivered_at=None)
    built = _build(order)
    assert built.status == "cancelled"
    assert built.view["payment"]["status"] == "refunded"
    assert [e.type for e in built.events][-3:] == [
        "order_cancelled",
        "payment_refunded",
        "order_imported",
    ]
    assert [p.kind for p in built.ledger] == ["capture", "refund"]
    assert built.shipment is not None and built.shipment.status == "shipped"


def test_a_cancelled_order_says_who_cancelled_and_has_no_ledger_or_parcel():
    built = _build(imported("A4", S.CANCELLED))
    assert built.view["cancellation"]["reason"] == "changed their mind"
    assert built.view["imported"]["cancelled_by"] == "customer"
    assert built.ledger == [] and built.shipment is None
    platform = _build(imported("A5", S.CANCELLED, cancelled_by="platform"), "tmall")
    assert platform.view["cancellation"]["by"] == "channel:tmall"


def test_an_open_order_is_received_with_its_stage_and_nothing_else():
    built = _build(imported("A6", S.DISPATCHED))
    assert (built.status, built.last_seq, [e.type for e in built.events]) == (
        "received",
        0,
        ["order_received"],
    )
    assert built.view["imported"]["stage"] == "dispatched"
    assert built.view["imported"]["tracking_number"] == "TRK-A6"
    assert built.ledger == [] and built.shipment is None


def test_the_fingerprint_changes_with_the_record_and_only_with_it():
    order = imported("A7")
    assert records.fingerprint(order) == records.fingerprint(replace(order))
    moved = replace(order, where=replace(order.where, line=99))
    assert records.fingerprint(moved) == records.fingerprint(order)
    assert records.fingerprint(replace(order, ship_city="Potsdam")) != records.fingerprint(order)


def test_corrections_a_closed_record_may_take_and_those_refused():
    before = records.record_of(imported("A8"))
    assert (
        records.refusal(before, imported("A8", total="31.00"), last_seq=5, open_stage=None) is None
    )
    assert "currency" in str(
        records.refusal(before, imported("A8", currency="USD"), last_seq=5, open_stage=None)
    )
    assert "cannot become paid" in str(
        records.refusal(before, imported("A8", S.PAID), last_seq=5, open_stage=None)
    )
    assert "has started" in str(
        records.refusal(None, imported("A8", S.PAID), last_seq=2, open_stage="paid")
    )
    assert "waiting for its workflow" in str(
        records.refusal(None, imported("A8", S.PAID), last_seq=0, open_stage="paid")
    )
    after = records.record_of(imported("A8", ship_city="Potsdam", total="31.00"))
    assert records.changed_fields(before, after) == ["ship_city", "total"]
