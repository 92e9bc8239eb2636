from decimal import Decimal

import pytest

from oms.domain.money import (
    InvalidAmount,
    format_amount,
    line_total,
    parse_amount,
    sum_amounts,
)


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("12.50", "EUR", "12.50"),
        ("0", "EUR", "0"),
        ("0.05", "EUR", "0.05"),
        ("1000", "JPY", "1000"),
        ("0", "JPY", "0"),
        ("1.234", "KWD", "1.234"),
        ("999999999999999.99", "USD", "999999999999999.99"),
    ],
)
def test_parse_amount_accepts_well_formed_strings_and_keeps_them_exact(
    value: str, currency: str, expected: str
) -> None:
    amount = parse_amount(value, currency)
    assert isinstance(amount, Decimal)
    assert str(amount) == expected


def test_parse_amount_rejects_more_places_than_the_currency_allows() -> None:
    with pytest.raises(InvalidAmount, match="EUR allows at most 2 decimal places"):
        parse_amount("12.505", "EUR")


def test_parse_amount_rejects_any_fraction_for_a_zero_decimal_currency() -> None:
    with pytest.raises(InvalidAmount, match="JPY allows at most 0 decimal places"):
        parse_amount("1.5", "JPY")


def test_parse_amount_allows_three_places_for_kwd_but_not_four() -> None:
    assert parse_amount("0.125", "KWD") == Decimal("0.125")
    with pytest.raises(InvalidAmount, match="at most 3 decimal places"):
        parse_amount("0.1250", "KWD")


@pytest.mark.parametrize(
    "value",
    [
        "-1",
        "1e3",
        "1E3",
        "01.00",
        "00",
        " 1",
        "1 ",
        "",
        ".5",
        "1.",
        "+1",
        "1,00",
        "NaN",
        "Infinity",
        "1_000",
        "1234567890123456",
    ],
)
def test_parse_amount_rejects_malformed_strings(value: str) -> None:
    with pytest.raises(InvalidAmount, match="non-negative decimal string"):
        parse_amount(value, "EUR")


def test_parse_amount_rejects_a_trailing_newline() -> None:
    # " 1" and "1 " are rejected, so "12.50\n" must be too.
    with pytest.raises(InvalidAmount):
        parse_amount("12.50\n", "EUR")


@pytest.mark.parametrize("value", [12.5, 12, 0, Decimal("12.50"), None, b"12.50"])
def test_parse_amount_rejects_values_that_are_not_strings(value: object) -> None:
    with pytest.raises(InvalidAmount, match="decimal string"):
        parse_amount(value, "EUR")


def test_invalid_amount_is_a_value_error() -> None:
    assert issubclass(InvalidAmount, ValueError)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("12.5", "EUR", "12.50"),
        ("12", "EUR", "12.00"),
        ("0", "EUR", "0.00"),
        ("1000", "JPY", "1000"),
        ("1", "KWD", "1.000"),
        ("0.1", "KWD", "0.100"),
    ],
)
def test_format_amount_pads_to_the_currency_minor_units(
    amount: str, currency: str, expected: str
) -> None:
    assert format_amount(Decimal(amount), currency) == expected


def test_format_amount_round_trips_a_parsed_amount() -> None:
    assert format_amount(parse_amount("7.1", "USD"), "USD") == "7.10"


@pytest.mark.parametrize(
    ("quantity", "price", "expected"),
    [
        (3, "0.10", "0.30"),
        (3, "19.99", "59.97"),
        (1, "0.01", "0.01"),
        (7, "0.07", "0.49"),
        (1000, "1000", "1000000"),
    ],
)
def test_line_total_is_exact(quantity: int, price: str, expected: str) -> None:
    total = line_total(quantity, Decimal(price))
    assert isinstance(total, Decimal)
    assert total == Decimal(expected)


def test_sum_amounts_adds_point_one_and_point_two_to_exactly_point_three() -> None:
    assert sum_amounts([Decimal("0.1"), Decimal("0.2")]) == Decimal("0.3")


def test_sum_amounts_of_ten_dimes_is_exactly_one() -> None:
    assert sum_amounts([Decimal("0.10")] * 10) == Decimal("1")


def test_sum_amounts_of_nothing_is_zero() -> None:
    total = sum_amounts([])
    assert isinstance(total, Decimal)
    assert total == 0


def test_sum_of_line_totals_formats_to_the_exact_order_amount() -> None:
    lines = [(3, "0.10"), (1, "0.20"), (2, "19.99")]
    total = sum_amounts(line_total(q, parse_amount(p, "EUR")) for q, p in lines)
    assert format_amount(total, "EUR") == "40.48"
