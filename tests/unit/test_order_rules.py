"""The order workflow's rules, alone (oms/domain/order_rules.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from oms.domain.messages import OrderLine, ShipmentView, SkuQuantity
from oms.domain.order_rules import (
    OrderStopped,
    backorder_wait,
    cancel_refusal,
    cancellation,
    change_refusal,
    decision_refusal,
    implied_status,
    merge_lines,
    reserve_failure,
    settled_payment_status,
    shipment_amount,
)
from oms.domain.status import OrderStatus as S


def _shipment(n: int, status: str) -> ShipmentView:
    return ShipmentView(f"o-{n}", "WH", status, [SkuQuantity("A", 1)])


def test_a_cancellation_by_a_rule_says_who_and_why():
    stop = OrderStopped(S.CANCELLED, "hold_expired", {"by": "system"})
    assert cancellation(stop) == {"by": "system", "reason": "hold_expired", "code": "hold_expired"}


def test_a_cancellation_by_a_person_keeps_their_words_and_names_the_kind():
    stop = OrderStopped(S.CANCELLED, "cancelled", {"by": "ana", "reason": "changed mind"})
    assert cancellation(stop) == {"by": "ana", "reason": "changed mind", "code": "cancelled"}


def test_a_cancellation_with_an_empty_reason_falls_back_to_the_code():
    stop = OrderStopped(S.CANCELLED, "rejected", {"by": "ops", "reason": ""})
    assert cancellation(stop)["reason"] == "rejected"


def test_a_backorder_with_nothing_on_its_way_is_backordered():
    failed = [_shipment(1, "failed")]
    assert (
        implied_status(failed, missing=True, dispatching=True, current="dispatched")
        == S.BACKORDERED
    )


def test_shipped_goods_with_a_backorder_are_partially_shipped():
    shipped = [_shipment(1, "shipped")]
    assert implied_status(shipped, True, True, "shipped") == S.PARTIALLY_SHIPPED


def test_a_refilled_backorder_is_reserved_again_until_dispatched():
    pending = [_shipment(1, "failed"), _shipment(2, "pending")]
    assert implied_status(pending, False, True, "backordered") == S.RESERVED
    assert implied_status(pending, False, True, "dispatched") is None


def test_a_backordered_order_can_be_cancelled_after_dispatch_began():
    assert cancel_refusal("backordered", dispatching=True, stopping=False) is None
    assert cancel_refusal("dispatched", dispatching=True, stopping=False) is not None
    assert cancel_refusal("reserved", dispatching=False, stopping=True) is not None
    assert cancel_refusal("reserved", dispatching=False, stopping=False) is None


def test_holds_and_new_addresses_stop_at_dispatch_even_for_a_backorder():
    assert change_refusal("backordered", dispatching=True, stopping=False) is not None
    assert change_refusal("reserved", dispatching=False, stopping=False) is None


def test_only_an_undecided_hold_takes_a_decision():
    assert decision_refusal("on_hold", decided=False) is None
    assert decision_refusal("on_hold", decided=True) is not None
    assert decision_refusal("reserved", decided=False) is not None


def test_reserve_failures_map_to_how_the_order_ends():
    out = reserve_failure("OutOfStock", [["A", "B"]])
    assert out is not None and (out.status, out.reason, out.detail) == (
        S.FAILED,
        "out_of_stock",
        {"skus": ["A", "B"]},
    )
    closed = reserve_failure("OrderClosed", [])
    assert closed is not None and closed.reason == "order_closed"
    assert reserve_failure("SomethingElse", []) is None
    assert reserve_failure(None, []) is None


def test_a_shipment_is_worth_its_units_at_the_order_prices():
    lines = [OrderLine("A", 2, "10.50"), OrderLine("B", 1, "3.00")]
    assert shipment_amount(lines, [SkuQuantity("A", 1), SkuQuantity("B", 1)], "EUR") == "13.50"
    assert shipment_amount(lines, [SkuQuantity("A", 2)], "EUR") == "21.00"


def test_payment_is_captured_when_every_live_shipment_is():
    ships = [_shipment(1, "shipped"), _shipment(2, "failed"), _shipment(3, "pending")]
    assert settled_payment_status("authorized", ships, {"o-1"}) == "partially_captured"
    assert settled_payment_status("authorized", ships, {"o-1", "o-3"}) == "captured"
    assert settled_payment_status("capture_failed", ships, {"o-1", "o-3"}) == "capture_failed"
    assert settled_payment_status("authorized", ships, set()) == "authorized"


def test_merge_adds_units_per_sku_in_first_seen_order():
    merged = merge_lines([SkuQuantity("B", 1), SkuQuantity("A", 2)], [SkuQuantity("A", 3)])
    assert merged == [SkuQuantity("B", 1), SkuQuantity("A", 5)]


def test_a_backorder_rechecks_until_its_deadline():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert backorder_wait(now + timedelta(hours=5), now, 3600) == timedelta(hours=1)
    assert backorder_wait(now + timedelta(minutes=5), now, 3600) == timedelta(minutes=5)
    assert backorder_wait(now + timedelta(minutes=5), now, 0) == timedelta(minutes=5)
    assert backorder_wait(now - timedelta(minutes=5), now, 60) == timedelta(seconds=0.001)
