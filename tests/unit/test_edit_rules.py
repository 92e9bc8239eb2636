"""An edit's rules, alone (oms/domain/edits.py): when it is refused, what it changes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from oms.domain import edits
from oms.domain.messages import OrderLine, SkuQuantity

LINES = [OrderLine("A", 2, "10.00"), OrderLine("B", 1, "5.00")]
OPEN = edits.EditState(
    status="reserved",
    dispatching=False,
    stopping=False,
    cancelling=False,
    authorized=True,
    backordered=False,
    foreign=False,
    lines=LINES,
)
NEW = [OrderLine("A", 3, "10.00")]


def test_an_open_authorized_order_takes_new_lines():
    assert edits.edit_refusal(OPEN, NEW) is None
    assert edits.edit_refusal(replace(OPEN, status="on_hold"), NEW) is None
    assert edits.edit_refusal(replace(OPEN, status="payment_authorized"), NEW) is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"dispatching": True, "status": "dispatched"}, "dispatched"),
        ({"dispatching": True}, "dispatched"),  # handed over, still shown as reserved
        ({"status": "delivered"}, "closed"),
        ({"status": "failed"}, "closed"),
        ({"stopping": True}, "closed"),
        ({"status": "cancelled"}, "cancelled"),
        ({"cancelling": True}, "cancelled"),
        ({"foreign": True}, "not_editable"),
        ({"status": "backordered"}, "backordered"),
        ({"backordered": True}, "backordered"),
        ({"authorized": False, "status": "received"}, "authorizing"),
    ],
)
def test_an_edit_is_refused_with_a_reason(change, reason):
    refusal = edits.edit_refusal(replace(OPEN, **change), NEW)
    assert refusal is not None and refusal.reason == reason
    assert refusal.message


def test_the_same_lines_in_another_order_are_no_change():
    same = [OrderLine("B", 1, "5.0"), OrderLine("A", 2, "10")]
    refusal = edits.edit_refusal(OPEN, same)
    assert refusal is not None and refusal.reason == "no_change"
    assert edits.edit_refusal(OPEN, [*same[:1], OrderLine("A", 2, "10.01")]) is None


@pytest.mark.parametrize(
    "lines",
    [[], [OrderLine("A", 0, "1.00")], [OrderLine("A", 1, "x")], [OrderLine("A", 1, "-1")]],
)
def test_lines_that_bypassed_the_api_are_refused(lines):
    refusal = edits.edit_refusal(OPEN, lines)
    assert refusal is not None and refusal.reason == "invalid_lines"


def test_totals_demand_and_unit_changes():
    assert edits.lines_total(LINES, "EUR") == "25.00"
    assert edits.lines_total([OrderLine("A", 3, "1500")], "JPY") == "4500"
    twice = [OrderLine("A", 1, "1.00"), OrderLine("B", 2, "1.00"), OrderLine("A", 2, "2.00")]
    assert edits.demand(twice) == [SkuQuantity("A", 3), SkuQuantity("B", 2)]
    assert edits.unit_changes(LINES, [OrderLine("A", 1, "10.00"), OrderLine("C", 4, "1")]) == {
        "A": -1,
        "B": -1,
        "C": 4,
    }


def test_the_timeline_entry_holds_lines_and_totals_only():
    data = edits.edit_record(2, "ops (key admin)", LINES, NEW, "25.00", "30.00")
    assert data["edit"] == 2 and data["by"] == "ops (key admin)"
    assert data["before"][0] == {"sku": "A", "quantity": 2, "unit_price": "10.00", "line_id": ""}
    assert data["after"] == [{"sku": "A", "quantity": 3, "unit_price": "10.00", "line_id": ""}]
    assert data["units"] == {"A": 1, "B": -1}
    assert (data["total_before"], data["total_after"]) == ("25.00", "30.00")
    assert set(data) == {"edit", "by", "before", "after", "units", "total_before", "total_after"}
    assert edits.edit_record(1, "ops", LINES, NEW, "25.00", "30.00", "phoned")["reason"] == "phoned"
