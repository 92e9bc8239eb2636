"""Money as decimal strings with the currency's minor units; never floats."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal

from oms.domain.iso import minor_units

_AMOUNT = re.compile(r"^(0|[1-9][0-9]{0,14})(\.[0-9]+)?$")


class InvalidAmount(ValueError):
    pass


def parse_amount(value: object, currency: str) -> Decimal:
    """Parse a non-negative decimal string with at most the currency's minor units."""
    if not isinstance(value, str):
        raise InvalidAmount('must be a decimal string such as "12.50"')
    match = _AMOUNT.fullmatch(value)
    if not match:
        raise InvalidAmount('must be a non-negative decimal string such as "12.50"')
    places = len(match.group(2) or ".") - 1
    allowed = minor_units(currency)
    if places > allowed:
        raise InvalidAmount(f"{currency} allows at most {allowed} decimal places")
    return Decimal(value)


def format_amount(amount: Decimal, currency: str) -> str:
    """The amount with exactly the currency's number of decimal places."""
    places = minor_units(currency)
    return str(amount.quantize(Decimal(1).scaleb(-places)))


def line_total(quantity: int, unit_price: Decimal) -> Decimal:
    return unit_price * quantity


def sum_amounts(amounts: Iterable[Decimal]) -> Decimal:
    return sum(amounts, Decimal(0))


def units_value(prices: Iterable[tuple[str, Decimal]], units: Iterable[tuple[str, int]]) -> Decimal:
    """What ``units`` (sku, quantity) are worth at the order's prices (sku, unit price).

    A SKU ordered on several lines at different prices is valued at its highest price,
    so money given back for units that never ship is never less than was paid for them.
    """
    best: dict[str, Decimal] = {}
    for sku, price in prices:
        best[sku] = max(price, best.get(sku, price))
    return sum_amounts(best[sku] * quantity for sku, quantity in units)
