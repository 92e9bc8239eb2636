"""Platform money to ours: exact decimals in the currency's minor units, never floats.

Platforms write money in different forms: Shopify, WooCommerce and Amazon as decimal
strings ("59.99"), Taobao and JD as yuan strings, PDD as JSON numbers in some endpoints
(178.0). A number is read through ``str()`` first, so ``0.1`` is the decimal 0.1 and not
the binary float nearest to it. Strings must already fit the currency's decimals (a
Shopify "9.999" in USD is refused, not rounded); numbers, which a JSON encoder may have
written as 9.675000000000001, are rounded half-up to the currency's decimals.

The one place an amount is split is a line total that the platform gives for the whole
line (Amazon's ItemPrice): the unit price is the total divided by the quantity, floored
to the currency's minor unit, and what that leaves becomes a ``rounding`` adjustment, so
that the lines and adjustments still add up to the platform's total exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation

from oms.channels.canonical import Adjustment, AdjustmentKind, ChannelLine
from oms.channels.errors import MappingError
from oms.domain.iso import is_currency, minor_units
from oms.domain.money import format_amount

_DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


def currency(value: object, field: str) -> str:
    """An ISO 4217 code, exactly (upper case), or MappingError."""
    if not isinstance(value, str) or not is_currency(value):
        raise MappingError(field, f"unknown currency {value!r}")
    return value


def quantum(code: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(code))


def amount(value: object, code: str, field: str, *, signed: bool = False) -> Decimal:
    """The platform's amount as an exact Decimal in ``code``'s minor units.

    Strings must be plain decimals within the currency's decimals; ints and floats are
    read through ``str()`` and rounded half-up to the currency's decimals. Negative
    amounts only when ``signed``.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MappingError(field, f"must be an amount, got {type(value).__name__}")
    text = str(value).strip()
    if isinstance(value, float):
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise MappingError(field, f"not a number: {value!r}") from None
        if not number.is_finite():
            raise MappingError(field, f"not a finite amount: {value!r}")
        number = number.quantize(quantum(code), rounding=ROUND_HALF_UP)
    else:
        if not _DECIMAL.fullmatch(text):
            raise MappingError(field, f"not a decimal amount: {value!r}")
        number = Decimal(text)
        if number != number.quantize(quantum(code)):
            places = minor_units(code)
            raise MappingError(field, f"{value!r}: {code} allows at most {places} decimals")
    if number < 0 and not signed:
        raise MappingError(field, f"must not be negative: {value!r}")
    if abs(number) >= Decimal(10) ** 15:
        raise MappingError(field, f"amount too large: {value!r}")
    return number + 0  # normalise -0 to 0


def optional_amount(value: object, code: str, field: str, *, signed: bool = False) -> Decimal:
    """As :func:`amount`, with an absent (None or "") amount read as zero."""
    if value is None or value == "":
        return Decimal(0)
    return amount(value, code, field, signed=signed)


def fmt(value: Decimal, code: str) -> str:
    return format_amount(value, code)


def split_line_total(total: Decimal, quantity: int, code: str) -> tuple[Decimal, Decimal]:
    """A line total over its quantity: (unit price floored to the minor unit, remainder).

    ``unit * quantity + remainder == total`` exactly, and 0 <= remainder < quantity units.
    """
    unit = (total / quantity).quantize(quantum(code), rounding=ROUND_FLOOR)
    return unit, total - unit * quantity


def adjustment(kind: AdjustmentKind, value: Decimal, code: str, label: str) -> Adjustment:
    return Adjustment(kind=kind.value, amount=fmt(value, code), label=label)


def nonzero(adjustments: Iterable[Adjustment]) -> list[Adjustment]:
    """The adjustments that move money (a "0.00" shipping line says nothing)."""
    return [a for a in adjustments if Decimal(a.amount) != 0]


def lines_sum(lines: Iterable[ChannelLine]) -> Decimal:
    return sum((Decimal(line.unit_price) * line.quantity for line in lines), Decimal(0))


def adjustments_sum(adjustments: Iterable[Adjustment]) -> Decimal:
    return sum((Decimal(a.amount) for a in adjustments), Decimal(0))


def check_total(
    lines: list[ChannelLine], adjustments: list[Adjustment], total: Decimal, field: str
) -> None:
    """The invariant every adapter keeps: lines at their unit prices plus the adjustments
    are the platform's total, exactly. A payload whose parts do not add up is refused."""
    computed = lines_sum(lines) + adjustments_sum(adjustments)
    if computed != total:
        raise MappingError(
            field,
            f"the platform's total {total} is not the lines plus adjustments ({computed})",
        )


def check_equal(expected: Decimal, actual: Decimal, field: str, what: str) -> None:
    if expected != actual:
        raise MappingError(field, f"{field} {actual} is not {what} ({expected})")
