"""Returns and refunds: the pure rules (docs/returns.md).

What may be returned (delivered units, never more than were delivered across every
return of the order), which warehouse receives a return, how much money a return gives
back (the accepted units at the order's prices, with their share of the order's
discounts and taxes, and of its shipping when the policy says so), and how a refund is
spread over the order's captures (never more than a capture has left to refund).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from typing import Any

from oms.domain.iso import minor_units
from oms.domain.money import sum_amounts, units_value


class ReturnStatus(StrEnum):
    REQUESTED = "requested"  # waiting for an operator (outside the return window)
    APPROVED = "approved"  # label asked for, the parcel on its way back
    REJECTED = "rejected"  # an operator said no: the end
    RECEIVED = "received"  # the warehouse counted every line
    CLOSED = "closed"  # resolved (refund, exchange, store credit or nothing)


class Resolution(StrEnum):
    REFUND = "refund"
    EXCHANGE = "exchange"
    STORE_CREDIT = "store_credit"
    NONE = "none"


class Condition(StrEnum):
    """What the warehouse found for each returned unit."""

    RESTOCKABLE = "restockable"  # back on the shelf, refunded
    DAMAGED = "damaged"  # received, refunded, not restocked
    MISSING = "missing"  # not in the parcel: neither refunded nor restocked


# Adjustments that are a share of the goods (refunded with them, pro rata); shipping
# follows the policy (OMS_RETURN_REFUND_SHIPPING).
SHIPPING = "shipping"


def delivered_units(view: Mapping[str, Any]) -> dict[str, int]:
    """Units per SKU in the order's delivered shipments (its view as JSON)."""
    units: dict[str, int] = {}
    for shipment in view.get("shipments") or []:
        if shipment.get("status") != "delivered":
            continue
        for line in shipment.get("lines") or []:
            units[line["sku"]] = units.get(line["sku"], 0) + int(line["quantity"])
    return units


# An order whose units may be returned: a delivered one, or one on its way whose delivered
# shipments' units may come back before the rest arrives (a split order).
RETURNABLE_STATUSES = frozenset({"delivered", "shipped", "partially_shipped"})


def returnable_refusal(status: str, delivered: Mapping[str, int]) -> str | None:
    """Why an order in ``status`` with ``delivered`` units (per SKU, its delivered
    shipments) cannot have a return at all; None when it can. A delivered order always
    can (its lines are then checked one by one); an order on its way once one of its
    shipments is delivered."""
    if status not in RETURNABLE_STATUSES:
        return f"order is {status}; only a delivered shipment's units can be returned"
    if status != "delivered" and not any(delivered.values()):
        return f"order is {status} and none of its shipments is delivered yet"
    return None


def preferred_captures(
    order_id: str, view: Mapping[str, Any], skus: Iterable[str], captures: Sequence[str]
) -> list[str]:
    """The capture keys (``<order>-capture-<n>``) in the order a return's refund draws on
    them: first the captures of the delivered shipments that carried the returned SKUs,
    then the other delivered shipments', then the rest (each group in the given order).
    A shipment ``<order>-<n>`` was charged by the capture ``<order>-capture-<n>``."""
    wanted = set(skus)
    rank: dict[str, int] = {}
    for shipment in view.get("shipments") or []:
        if shipment.get("status") != "delivered":
            continue
        number = str(shipment.get("id", "")).rsplit("-", 1)[-1]
        carried = any(x["sku"] in wanted for x in shipment.get("lines") or [])
        rank[f"{order_id}-capture-{number}"] = 0 if carried else 1
    return sorted(captures, key=lambda key: rank.get(key, 2))  # sorted is stable


def receiving_warehouse(view: Mapping[str, Any], skus: Iterable[str]) -> str:
    """The warehouse a return goes back to: the one that shipped most of its SKUs' units
    (the first such shipment on a tie); empty when none did."""
    wanted = set(skus)
    counts: dict[str, int] = {}
    for shipment in view.get("shipments") or []:
        if shipment.get("status") != "delivered":
            continue
        units = sum(int(x["quantity"]) for x in shipment.get("lines") or [] if x["sku"] in wanted)
        if units:
            counts[shipment["warehouse_id"]] = counts.get(shipment["warehouse_id"], 0) + units
    if not counts:
        return ""
    return max(counts, key=lambda w: counts[w])  # max keeps the first of equals


def return_refusals(
    delivered: Mapping[str, int], returned: Mapping[str, int], asked: Mapping[str, int]
) -> list[dict[str, str]]:
    """Why the ``asked`` units (sku -> quantity) cannot be returned, per line: a SKU that
    was not delivered, or more units than were delivered less those already in other
    returns (``returned``). Empty: every line may be returned."""
    errors = []
    for sku, quantity in asked.items():
        left = delivered.get(sku, 0) - returned.get(sku, 0)
        if delivered.get(sku, 0) == 0:
            errors.append({"field": f"lines.{sku}", "message": "not delivered in this order"})
        elif quantity > left:
            errors.append(
                {
                    "field": f"lines.{sku}",
                    "message": f"{quantity} asked, {max(left, 0)} left to return "
                    f"({delivered[sku]} delivered, {returned.get(sku, 0)} in other returns)",
                }
            )
    return errors


def within_window(delivered_at: datetime | None, now: datetime, window_s: float) -> bool:
    """Whether a return asked ``now`` is inside the return window (approved without an
    operator). No delivery time, or a window of 0: never."""
    if delivered_at is None or window_s <= 0:
        return False
    return now <= delivered_at + timedelta(seconds=window_s)


def parse_windows(spec: str) -> dict[str, float]:
    """``"webshop:1209600,marketplace:0"`` -> channel -> seconds (OMS_RETURN_WINDOWS)."""
    windows: dict[str, float] = {}
    for entry in (e.strip() for e in spec.split(",") if e.strip()):
        channel, sep, value = entry.rpartition(":")
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1.0
        if not sep or not channel.strip() or not seconds >= 0:
            raise ValueError(f"expected channel:seconds, got {entry!r}")
        windows[channel.strip()] = seconds
    return windows


def window_for(default_s: float, spec: str, channel: str) -> float:
    return parse_windows(spec).get(channel, default_s)


def accepted_units(received: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    """The units a return gives money (or an exchange) for: received, whether restockable
    or damaged; missing units are not accepted."""
    accepted = {
        sku: int(c.get(Condition.RESTOCKABLE, 0)) + int(c.get(Condition.DAMAGED, 0))
        for sku, c in received.items()
    }
    return {sku: n for sku, n in accepted.items() if n > 0}


def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def refund_value(
    lines: Sequence[tuple[str, int, Decimal]],
    adjustments: Sequence[tuple[str, Decimal]],
    units: Mapping[str, int],
    currency: str,
    *,
    refund_shipping: bool,
) -> Decimal:
    """What ``units`` (sku -> quantity) give back: their value at the order's prices
    (``lines``: sku, quantity, unit price), plus their share of the order-level
    ``adjustments`` (kind, amount: discounts negative, taxes positive), the share being
    the units' value over the lines' value; shipping only when ``refund_shipping``.
    Rounded down to the currency's minor unit, so that returns of every unit never give
    back more than the order cost."""
    value = units_value(((sku, price) for sku, _q, price in lines), units.items())
    subtotal = sum_amounts(price * quantity for _sku, quantity, price in lines)
    if subtotal <= 0 or value <= 0:
        return Decimal(0).quantize(_quantum(currency))
    share = sum_amounts(
        amount for kind, amount in adjustments if kind != SHIPPING or refund_shipping
    )
    total = value + share * value / subtotal
    return max(total, Decimal(0)).quantize(_quantum(currency), rounding=ROUND_DOWN)


def split_over_captures(
    amount: Decimal, captures: Sequence[tuple[str, Decimal]]
) -> list[tuple[str, Decimal]]:
    """Spread ``amount`` over the captures (key, what it has left to refund), the first
    first, never more than a capture has left. Raises ValueError when they hold less."""
    if amount <= 0:
        raise ValueError("a refund is a positive amount")
    parts: list[tuple[str, Decimal]] = []
    left = amount
    for key, available in captures:
        if left <= 0:
            break
        take = min(left, available)
        if take > 0:
            parts.append((key, take))
            left -= take
    if left > 0:
        raise ValueError(f"{amount} is more than the captures have left to refund")
    return parts
