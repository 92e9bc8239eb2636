"""The pure rules of returns and refunds (oms/domain/returns.py): what may come back, what
it is worth, and how a refund is spread over the order's captures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from oms.domain.returns import (
    accepted_units,
    delivered_units,
    parse_windows,
    preferred_captures,
    receiving_warehouse,
    refund_value,
    return_refusals,
    returnable_refusal,
    split_over_captures,
    window_for,
    within_window,
)

D = Decimal
VIEW = {
    "shipments": [
        {"warehouse_id": "A", "status": "delivered", "lines": [{"sku": "X", "quantity": 2}]},
        {
            "warehouse_id": "B",
            "status": "delivered",
            "lines": [{"sku": "X", "quantity": 1}, {"sku": "Y", "quantity": 3}],
        },
        {"warehouse_id": "C", "status": "in_transit", "lines": [{"sku": "Z", "quantity": 1}]},
    ]
}


def test_only_delivered_shipments_count_and_the_receiving_warehouse_shipped_most():
    assert delivered_units(VIEW) == {"X": 3, "Y": 3}
    assert receiving_warehouse(VIEW, ["X"]) == "A"
    assert receiving_warehouse(VIEW, ["X", "Y"]) == "B"
    assert receiving_warehouse(VIEW, ["Z"]) == ""


def test_a_return_may_not_take_back_more_than_was_delivered_across_returns():
    delivered = {"X": 3, "Y": 3}
    assert return_refusals(delivered, {}, {"X": 3}) == []
    assert return_refusals(delivered, {"X": 2}, {"X": 1, "Y": 3}) == []
    [over] = return_refusals(delivered, {"X": 2}, {"X": 2})
    assert over["field"] == "lines.X" and "1 left to return" in over["message"]
    [unknown] = return_refusals(delivered, {}, {"Z": 1})
    assert unknown["message"] == "not delivered in this order"


def test_the_window_approves_returns_asked_soon_enough_after_delivery():
    delivered = datetime(2026, 1, 1, tzinfo=UTC)
    assert within_window(delivered, delivered + timedelta(days=29), 30 * 86400)
    assert not within_window(delivered, delivered + timedelta(days=31), 30 * 86400)
    assert not within_window(delivered, delivered, 0)
    assert not within_window(None, delivered, 30 * 86400)
    assert parse_windows("webshop:60, shop-2:0") == {"webshop": 60.0, "shop-2": 0.0}
    assert window_for(10.0, "webshop:60", "webshop") == 60.0
    assert window_for(10.0, "webshop:60", "other") == 10.0
    for bad in ("webshop", "webshop:-1", ":5", "webshop:soon"):
        with pytest.raises(ValueError):
            parse_windows(bad)


def test_missing_units_are_not_accepted_damaged_ones_are():
    received = {
        "X": {"restockable": 1, "damaged": 1, "missing": 1},
        "Y": {"restockable": 0, "damaged": 0, "missing": 2},
    }
    assert accepted_units(received) == {"X": 2}


LINES = [("X", 2, D("10.00")), ("Y", 1, D("30.00"))]  # subtotal 50


def test_a_returns_value_is_its_units_at_the_order_prices():
    assert refund_value(LINES, [], {"X": 1}, "EUR", refund_shipping=False) == D("10.00")
    assert refund_value(LINES, [], {"X": 2, "Y": 1}, "EUR", refund_shipping=False) == D("50.00")
    assert refund_value(LINES, [], {}, "EUR", refund_shipping=False) == D("0.00")


def test_discounts_and_taxes_are_shared_pro_rata_and_shipping_per_policy():
    adjustments = [("discount", D("-5.00")), ("shipping", D("4.90")), ("tax", D("2.00"))]
    # X x1 is a fifth of the goods: -1.00 of the discount, +0.40 of the tax.
    assert refund_value(LINES, adjustments, {"X": 1}, "EUR", refund_shipping=False) == D("9.40")
    # With shipping: +0.98 more.
    assert refund_value(LINES, adjustments, {"X": 1}, "EUR", refund_shipping=True) == D("10.38")


def test_rounding_never_gives_back_more_than_the_order_cost_over_several_returns():
    lines = [("X", 3, D("10.00"))]
    adjustments = [("discount", D("-10.00"))]  # the order cost 20.00
    one = refund_value(lines, adjustments, {"X": 1}, "EUR", refund_shipping=False)
    assert one == D("6.66")  # 6.666... rounded down
    assert 3 * one <= D("20.00")
    assert refund_value(lines, adjustments, {"X": 1}, "JPY", refund_shipping=False) == D("6")


def test_a_refund_is_spread_over_the_captures_never_more_than_each_has_left():
    captures = [("o-capture-1", D("30.00")), ("o-capture-2", D("20.00"))]
    assert split_over_captures(D("10.00"), captures) == [("o-capture-1", D("10.00"))]
    assert split_over_captures(D("45.00"), captures) == [
        ("o-capture-1", D("30.00")),
        ("o-capture-2", D("15.00")),
    ]
    # A capture refunded in full already is skipped.
    assert split_over_captures(D("5.00"), [("a", D("0")), ("b", D("5.00"))]) == [("b", D("5.00"))]
    with pytest.raises(ValueError):
        split_over_captures(D("50.01"), captures)
    with pytest.raises(ValueError):
        split_over_captures(D("0"), captures)


def test_an_order_on_its_way_is_returnable_once_a_shipment_is_delivered():
    assert returnable_refusal("delivered", {}) is None  # its lines are checked one by one
    assert returnable_refusal("shipped", {"X": 1}) is None
    assert returnable_refusal("partially_shipped", {"X": 1}) is None
    assert "none of its shipments" in str(returnable_refusal("shipped", {}))
    for status in ("received", "reserved", "dispatched", "cancelled", "failed", "shadowed"):
        assert "only a delivered shipment" in str(returnable_refusal(status, {"X": 1}))


def test_a_returns_refund_draws_first_on_the_captures_of_the_shipments_that_carried_it():
    view = {
        "shipments": [
            {"id": "o-1", "status": "in_transit", "lines": [{"sku": "X", "quantity": 1}]},
            {"id": "o-2", "status": "delivered", "lines": [{"sku": "Y", "quantity": 1}]},
            {"id": "o-3", "status": "delivered", "lines": [{"sku": "X", "quantity": 1}]},
        ]
    }
    keys = ["o-capture-1", "o-capture-2", "o-capture-3"]
    assert preferred_captures("o", view, ["X"], keys) == [
        "o-capture-3",
        "o-capture-2",
        "o-capture-1",
    ]
    assert preferred_captures("o", view, ["Y"], keys) == [
        "o-capture-2",
        "o-capture-3",
        "o-capture-1",
    ]
    # A capture the view does not know keeps its place after the delivered ones.
    assert preferred_captures("o", view, ["Z"], ["o-capture-9", *keys])[-2:] == [
        "o-capture-9",
        "o-capture-1",
    ]
