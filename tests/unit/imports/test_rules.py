"""Each validation rule: an order it accepts and one it refuses, by code."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from oms.imports.formats.canonical import DIALECT
from oms.imports.model import ImportStatus, RawLine, RawOrder, Where
from oms.imports.rules import CODES, Checks, Seen, validate

NOW = datetime(2025, 1, 1, tzinfo=UTC)
CHECKS = Checks(DIALECT, now=NOW, known_skus={"MUG", "CAP"})


def good(**changes: object) -> RawOrder:
    order = RawOrder(
        where=Where("f.csv", 2),
        external_id="A-1",
        status="delivered",
        created_at="2024-03-01T10:00:00+01:00",
        currency="EUR",
        lines=[RawLine(sku="MUG", quantity="2", unit_price="10.00", where=Where("f.csv", 2))],
        paid_at="2024-03-01T10:05:00+01:00",
        shipped_at="2024-03-02T10:00:00+01:00",
        delivered_at="2024-03-04T10:00:00+01:00",
        shipping="5.00",
        total="25.00",
        email="ann@example.com",
        ship_name="Ann Weber",
        ship_line1="Invalidenstraße 12",
        ship_city="Berlin",
        ship_postal_code="10115",
        ship_country="DE",
        ship_phone="+49 30 1234567",
    )
    return replace(order, **changes)  # type: ignore[arg-type]


def codes(raw: RawOrder, checks: Checks = CHECKS, seen: Seen | None = None) -> set[str]:
    order, issues = validate(raw, checks, seen)
    errors = {i.code for i in issues if i.severity == "error"}
    assert (order is None) == bool(errors)
    return errors


def test_a_good_order_passes_typed_and_in_utc():
    order, issues = validate(good(), CHECKS)
    assert issues == [] and order is not None
    assert order.status is ImportStatus.DELIVERED and order.closed
    assert order.created_at == "2024-03-01T09:00:00+00:00"
    assert (order.subtotal, order.total, order.shipping, order.paid) == (
        "20.00",
        "25.00",
        "5.00",
        "25.00",
    )
    assert order.customer_id == "ann@example.com"  # no customer id: the email


@pytest.mark.parametrize(
    ("code", "bad"),
    [
        ("required", {"external_id": None}),
        ("required", {"lines": []}),
        ("required", {"customer_id": None, "email": None}),
        ("money_format", {"shipping": "5,00"}),
        ("money_format", {"total": "-25.00"}),
        ("money_decimals", {"total": "25.001"}),
        ("total_mismatch", {"total": "26.00"}),
        ("total_mismatch", {"subtotal": "21.00"}),
        ("currency", {"currency": "EURO"}),
        ("quantity", {"lines": [RawLine(sku="MUG", quantity="1.5", unit_price="10")]}),
        ("quantity", {"lines": [RawLine(sku="MUG", quantity="0", unit_price="10")]}),
        ("unknown_sku", {"lines": [RawLine(sku="HAT", quantity="2", unit_price="10.00")]}),
        ("country", {"ship_country": "Germany"}),
        ("postal_code", {"ship_postal_code": "1011"}),
        ("date_format", {"created_at": "01.03.2024"}),
        ("date_format", {"created_at": "2024-03-01T10:00:00"}),  # no offset
        ("date_order", {"paid_at": "2024-02-28T10:00:00+01:00"}),
        ("date_order", {"delivered_at": "2024-03-01T12:00:00+01:00"}),
        ("date_future", {"delivered_at": "2025-06-01T00:00:00Z"}),
        ("status", {"status": "shipped-ish"}),
        ("unpaid", {"status": "pending"}),
        ("status_facts", {"status": "dispatched"}),  # no tracking number
        ("status_facts", {"status": "reserved"}),  # no warehouse
        ("status_facts", {"status": "paid", "paid": "0"}),
        ("status_facts", {"cancelled_at": "2024-03-05T00:00:00Z"}),
        ("phone", {"ship_phone": "call me"}),
        ("email", {"email": "ann.example.com"}),
        ("paid_mismatch", {"paid": "30.00"}),
        ("refund_over_paid", {"refunded": "26.00"}),
        ("cancelled_by", {"cancelled_by": "the cat"}),
    ],
)
def test_each_rule_refuses_its_mistake(code, bad):
    assert code in CODES
    assert code in codes(good(**bad)), bad


@pytest.mark.parametrize(
    "fine",
    [
        {"status": "dispatched", "tracking_number": "1Z999"},
        {"status": "reserved", "warehouse_id": "wh-1"},
        {
            "status": "cancelled",
            "paid_at": None,
            "cancelled_at": "2024-03-01T11:00:00+01:00",
            "shipped_at": None,
            "delivered_at": None,
        },
        {"status": "refunded", "refunded": "25.00"},
        {"delivered_at": None},  # decided: a delivered order need not say when
        {"ship_country": "US", "ship_postal_code": "02134-1234"},
        {"ship_country": "GB", "ship_postal_code": "sw1a 1aa"},
        {"ship_country": "JP", "ship_postal_code": "100-0001"},
        {"ship_country": "CN", "ship_postal_code": "310012"},
        {"ship_country": "HK", "ship_postal_code": None},
        {
            "currency": "JPY",
            "total": "2500",
            "shipping": "500",
            "lines": [RawLine(sku="MUG", quantity="2", unit_price="1000")],
        },
        {
            "currency": "KWD",
            "total": "25.000",
            "shipping": "5.000",
            "lines": [RawLine(sku="MUG", quantity="2", unit_price="10.000")],
        },
        {"total": "25.0"},  # fewer decimals than the currency's
        {"tax": "3.99"},  # the prices include the tax: the total says so
        {"tax": "3.99", "total": "28.99"},  # tax added
        {"discount": "5.00", "total": "20.00", "subtotal": "20.00"},
        {"created_at": "2024-03-01T09:00:00Z"},
        {"ship_country": None, "ship_postal_code": None},  # closed: the address may be gone
    ],
)
def test_and_accepts_what_is_right(fine):
    assert codes(good(**fine)) == set(), fine


def test_money_decimals_follow_the_currency():
    assert "money_decimals" in codes(
        good(currency="JPY", total="25.50", shipping="5", lines=[RawLine("MUG", "2", "10.25")])
    )
    assert "money_decimals" in codes(good(currency="KWD", total="25.0001"))


def test_an_open_order_needs_its_address_and_a_closed_one_does_not():
    assert "required" in codes(good(status="paid", ship_line1=None))
    assert "required" in codes(good(status="paid", ship_postal_code=None))
    assert codes(good(ship_line1=None)) == set()


def test_a_masked_phone_is_a_warning_only():
    order, issues = validate(good(ship_phone="138****1234"), CHECKS)
    assert order is not None
    assert [(i.code, i.severity) for i in issues] == [("phone", "warning")]


def test_paid_less_than_the_total_is_a_warning():
    order, issues = validate(good(paid="20.00"), CHECKS)
    assert order is not None and order.paid == "20.00"
    assert [(i.code, i.severity) for i in issues] == [("paid_mismatch", "warning")]


def test_unknown_skus_become_warnings_with_create_skus_and_are_unchecked_without_a_list():
    raw = good(lines=[RawLine(sku="HAT", quantity="2", unit_price="10.00")])
    order, issues = validate(raw, replace(CHECKS, create_skus=True))
    assert order is not None and [(i.code, i.severity) for i in issues] == [
        ("unknown_sku", "warning")
    ]
    assert codes(raw, Checks(DIALECT, now=NOW)) == set()


def test_duplicates_are_told_where_the_first_was():
    seen = Seen()
    assert codes(good(), seen=seen) == set()
    order, issues = validate(good(where=Where("g.csv", 9)), CHECKS, seen)
    assert order is None
    assert [(i.code, i.message) for i in issues] == [
        ("duplicate_external_id", "already in f.csv at line 2")
    ]
    assert codes(good(external_id="A-2"), seen=seen) == set()


def test_a_refund_defaults_to_what_was_paid_and_a_cancelled_unpaid_order_paid_nothing():
    refunded, _ = validate(good(status="refunded"), CHECKS)
    assert refunded is not None and refunded.refunded == "25.00"
    cancelled, _ = validate(
        good(status="cancelled", paid_at=None, shipped_at=None, delivered_at=None), CHECKS
    )
    assert cancelled is not None and (cancelled.paid, cancelled.refunded) == ("0.00", "0.00")


def test_every_code_is_described():
    assert all(CODES.values())
