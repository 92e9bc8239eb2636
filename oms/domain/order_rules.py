"""The order workflow's rules as plain functions: no Temporal, no I/O, unit-tested alone.

The workflow (``workflows/order.py``) decides *when*; these decide *what*: which status the
shipments imply, whether an action is still allowed, what a shipment costs, how long a
backorder waits, what a failed reservation means for the order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from oms.domain.messages import OrderLine, ShipmentView, SkuQuantity
from oms.domain.money import format_amount, units_value
from oms.domain.status import (
    CANCELLABLE,
    OrderStatus,
    ShipmentStatus,
    status_from_shipments,
)

S = OrderStatus


@dataclass(eq=False)
class OrderStopped(Exception):
    """The order ends early: ``status`` is ``failed`` or ``cancelled``, ``reason`` the code
    on the timeline (``payment_declined``, ``hold_expired``, ...), ``detail`` who and why."""

    status: OrderStatus
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.reason)


def cancellation(stop: OrderStopped) -> dict[str, str]:
    """What a cancelled order's view says: who cancelled it and why, whatever did it
    (customer, operator, hold rule, hold expiry, backorder expiry). ``code`` is the kind
    of cancellation; ``reason`` the person's words, or the code where a rule decided."""
    detail = {k: str(v) for k, v in stop.detail.items()}
    detail.setdefault("by", "system")
    if not detail.get("reason"):
        detail["reason"] = stop.reason
    detail["code"] = stop.reason
    return detail


def live(shipments: Sequence[ShipmentView]) -> bool:
    """Whether any shipment is still on its way (not refused)."""
    return any(s.status != ShipmentStatus.FAILED for s in shipments)


def implied_status(
    shipments: Sequence[ShipmentView], missing: bool, dispatching: bool, current: str
) -> OrderStatus | None:
    """The order status its shipments and backorder imply, or None to leave it."""
    implied = status_from_shipments(s.status for s in shipments)
    if missing and not live(shipments):
        return S.BACKORDERED
    if missing and implied == S.SHIPPED:
        return S.PARTIALLY_SHIPPED
    if implied is None and live(shipments) and dispatching:
        return S.RESERVED if current == S.BACKORDERED else None
    return implied


def merge_lines(*groups: Sequence[SkuQuantity]) -> list[SkuQuantity]:
    """Units per SKU over several groups of lines, in first-seen order."""
    units: dict[str, int] = {}
    for group in groups:
        for line in group:
            units[line.sku] = units.get(line.sku, 0) + line.quantity
    return [SkuQuantity(sku, q) for sku, q in units.items()]


def shipment_amount(
    lines: Sequence[OrderLine], shipped: Sequence[SkuQuantity], currency: str
) -> str:
    """What a shipment carries is worth, at the order's prices."""
    prices = [(line.sku, Decimal(line.unit_price)) for line in lines]
    units = [(line.sku, line.quantity) for line in shipped]
    return format_amount(units_value(prices, units), currency)


def settled_payment_status(
    current: str, shipments: Sequence[ShipmentView], captured: set[str]
) -> str:
    """``captured`` once every shipment that was not refused is paid for, else
    ``partially_captured``; a failed capture or no capture yet leaves it as it is."""
    if current == "capture_failed" or not captured:
        return current
    live_ones = [s for s in shipments if s.status != ShipmentStatus.FAILED]
    return "captured" if all(s.id in captured for s in live_ones) else "partially_captured"


def cancel_refusal(status: str, dispatching: bool, stopping: bool) -> str | None:
    """Why a cancel can no longer be taken, or None if it can. A backordered order with
    nothing on its way may still be cancelled."""
    if (dispatching and status != S.BACKORDERED) or stopping:
        return f"order is {status}; it can no longer be cancelled"
    if S(status) not in CANCELLABLE:
        return f"order is {status}; it can no longer be cancelled"
    return None


def decision_refusal(status: str, decided: bool) -> str | None:
    """Why an approve or reject does not apply, or None if it does."""
    if status != S.ON_HOLD or decided:
        return f"order is {status}; it is not on hold"
    return None


def change_refusal(status: str, dispatching: bool, stopping: bool) -> str | None:
    """Why a hold or a new address can no longer be taken (the words say "cancelled";
    callers put their own verb in)."""
    if dispatching:
        return f"order is {status}; it can no longer be cancelled"
    return cancel_refusal(status, dispatching, stopping)


def reserve_failure(kind: str | None, details: Sequence[Any]) -> OrderStopped | None:
    """What a business failure of ``reserve_stock`` means for the order; None for any
    other error (a fault, to be raised as it is)."""
    if kind == "OutOfStock":
        skus = list(details[0]) if details else []
        return OrderStopped(S.FAILED, "out_of_stock", {"skus": skus})
    if kind == "OrderClosed":
        return OrderStopped(S.FAILED, "order_closed")
    return None


def backorder_wait(deadline: datetime, now: datetime, recheck_s: float) -> timedelta:
    """Until the next recheck of stock, or the backorder's deadline if sooner."""
    left = (deadline - now).total_seconds()
    wait = min(left, recheck_s) if recheck_s > 0 else left
    return timedelta(seconds=max(wait, 0.001))


def until(deadline: datetime, now: datetime) -> float:
    """Seconds to a deadline; never zero, so a timer is always set (a zero timer would
    change the commands a history recorded)."""
    return max((deadline - now).total_seconds(), 0.001)
