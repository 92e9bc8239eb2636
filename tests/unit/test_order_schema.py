import copy
from typing import Any

import pytest
from pydantic import ValidationError

from api.schemas import MAX_LINES, OrderCreate

VALID: dict[str, Any] = {
    "channel": "web-shop",
    "external_id": "A-1001",
    "customer": {"id": "c-42", "email": "ada@example.com", "name": "Ada Lovelace"},
    "shipping_address": {
        "name": "Ada Lovelace",
        "line1": "1 Main Street",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DE",
    },
    "currency": "EUR",
    "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price": "12.50"}],
    "payment": {"method": "card", "token": "tok_123"},
}


def body(**overrides: Any) -> dict[str, Any]:
    data = copy.deepcopy(VALID)
    data.update(overrides)
    return data


def with_line(**fields: Any) -> dict[str, Any]:
    return body(lines=[{**VALID["lines"][0], **fields}])


def errors_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as caught:
        OrderCreate.model_validate(data)
    return caught.value.errors()


def locs_of(data: dict[str, Any]) -> list[tuple[str | int, ...]]:
    return [tuple(e["loc"]) for e in errors_of(data)]


def test_a_valid_body_parses() -> None:
    order = OrderCreate.model_validate(body())
    assert order.channel == "web-shop"
    assert order.currency == "EUR"
    assert order.shipping_address.country == "DE"
    assert order.lines[0].quantity == 2
    assert order.lines[0].unit_price == "12.50"
    assert order.customer.email == "ada@example.com"


def test_a_valid_body_parses_from_json() -> None:
    order = OrderCreate.model_validate_json(OrderCreate.model_validate(body()).model_dump_json())
    assert order.external_id == "A-1001"


@pytest.mark.parametrize("quantity", [0, -1, 1.5, "2", True, 2.0, None, 1_000_001])
def test_a_line_quantity_that_is_not_a_strict_positive_int_is_rejected(quantity: Any) -> None:
    assert locs_of(with_line(quantity=quantity)) == [("lines", 0, "quantity")]


def test_a_bad_quantity_on_a_later_line_names_that_line() -> None:
    good = VALID["lines"][0]
    data = body(lines=[good, good, {**good, "quantity": 0}])
    assert locs_of(data) == [("lines", 2, "quantity")]


def test_the_largest_allowed_quantity_is_accepted() -> None:
    assert OrderCreate.model_validate(with_line(quantity=1_000_000)).lines[0].quantity == 1_000_000


def test_500_lines_are_accepted() -> None:
    assert MAX_LINES == 500
    order = OrderCreate.model_validate(body(lines=[VALID["lines"][0]] * 500))
    assert len(order.lines) == 500


def test_501_lines_are_rejected() -> None:
    errors = errors_of(body(lines=[VALID["lines"][0]] * 501))
    assert [(tuple(e["loc"]), e["type"]) for e in errors] == [(("lines",), "too_long")]


def test_an_order_without_lines_is_rejected() -> None:
    errors = errors_of(body(lines=[]))
    assert [(tuple(e["loc"]), e["type"]) for e in errors] == [(("lines",), "too_short")]


@pytest.mark.parametrize("currency", ["eur", "XXX", "EURO", "", "ZZZ", "HRK"])
def test_an_invalid_currency_is_rejected(currency: str) -> None:
    assert locs_of(body(currency=currency)) == [("currency",)]


def test_a_currency_error_explains_the_expected_format() -> None:
    (error,) = errors_of(body(currency="eur"))
    assert "ISO 4217" in error["msg"]


@pytest.mark.parametrize("country", ["UK", "de", "DEU", "EU", ""])
def test_an_invalid_shipping_country_is_rejected(country: str) -> None:
    address = {**VALID["shipping_address"], "country": country}
    assert locs_of(body(shipping_address=address)) == [("shipping_address", "country")]


def test_an_unknown_top_level_field_is_rejected() -> None:
    errors = errors_of(body(coupon="FREE"))
    assert [(tuple(e["loc"]), e["type"]) for e in errors] == [(("coupon",), "extra_forbidden")]


def test_an_unknown_field_on_a_line_is_rejected() -> None:
    errors = errors_of(with_line(discount="1.00"))
    assert [(tuple(e["loc"]), e["type"]) for e in errors] == [
        (("lines", 0, "discount"), "extra_forbidden")
    ]


@pytest.mark.parametrize("email", ["ada.example.com", "ada@", "@example.com", "ada@example"])
def test_a_malformed_email_is_rejected(email: str) -> None:
    customer = {**VALID["customer"], "email": email}
    assert locs_of(body(customer=customer)) == [("customer", "email")]


@pytest.mark.parametrize("field", ["channel", "customer", "currency", "lines", "payment"])
def test_a_missing_required_field_is_rejected(field: str) -> None:
    data = body()
    del data[field]
    errors = errors_of(data)
    assert [(tuple(e["loc"]), e["type"]) for e in errors] == [((field,), "missing")]


@pytest.mark.parametrize("channel", ["Web", "-shop", "", "shop!"])
def test_a_malformed_channel_is_rejected(channel: str) -> None:
    assert locs_of(body(channel=channel)) == [("channel",)]


@pytest.mark.parametrize("sku", ["", "-SKU", "SKU 1", "x" * 65])
def test_a_malformed_sku_is_rejected(sku: str) -> None:
    assert locs_of(with_line(sku=sku)) == [("lines", 0, "sku")]


def test_surrounding_whitespace_is_stripped_from_strings() -> None:
    order = OrderCreate.model_validate(body(currency=" EUR ", external_id=" A-1001 "))
    assert order.currency == "EUR"
    assert order.external_id == "A-1001"
