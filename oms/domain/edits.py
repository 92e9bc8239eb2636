"""Edits of an order's lines before dispatch, as plain rules: whether an edit may be
taken, what the new total is, and what changes (docs/edits.md).

The workflow (``workflows/order_edits.py``) decides when; these decide what.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from oms.domain.messages import OrderLine, SkuQuantity
from oms.domain.money import format_amount, line_total, sum_amounts
from oms.domain.order_rules import merge_lines
from oms.domain.status import TERMINAL, OrderStatus

S = OrderStatus

# The reasons an edit is refused, as ``reason`` in the API's answer.
DISPATCHED = "dispatched"
CANCELLED = "cancelled"
CLOSED = "closed"
NOT_EDITABLE = "not_editable"
AUTHORIZING = "authorizing"
BACKORDERED = "backordered"
NO_CHANGE = "no_change"
INVALID_LINES = "invalid_lines"
OUT_OF_STOCK = "out_of_stock"
PAYMENT_DECLINED = "payment_declined"
PAYMENT_REJECTED = "payment_rejected"  # the gateway refused the change outright
# The gateway gave no verdict in time: the edit is refused, and may be sent again.
PAYMENT_UNAVAILABLE = "payment_unavailable"
STOCK_UNAVAILABLE = "stock_unavailable"
# Refusals that mean a dependency is down (503 over HTTP), not the order's state (409).
UNAVAILABLE = frozenset({PAYMENT_UNAVAILABLE, STOCK_UNAVAILABLE})


@dataclass(frozen=True)
class EditState:
    """What the order's workflow knows that decides whether an edit may be taken."""

    status: str
    dispatching: bool  # the order's dispatch has begun (shipments handed over)
    stopping: bool  # the order is being cancelled or failed
    cancelling: bool  # a cancel was accepted and is about to take effect
    authorized: bool  # the order's payment is authorized by the OMS
    backordered: bool  # some of the order waits for stock
    foreign: bool  # the lines belong to a sales platform or to the system it came from
    lines: Sequence[OrderLine]


@dataclass(frozen=True)
class Refusal:
    reason: str  # one of the codes above
    message: str


def edit_refusal(state: EditState, lines: Sequence[OrderLine]) -> Refusal | None:
    """Why an edit to ``lines`` cannot be taken now, or None if it can."""
    status = state.status
    if status == S.CANCELLED or state.cancelling:
        return Refusal(CANCELLED, f"order is {status}; a cancel was accepted, it cannot be edited")
    if S(status) in TERMINAL or state.stopping:
        return Refusal(CLOSED, f"order is {status}; it is closed and can no longer be edited")
    if state.dispatching:
        return Refusal(
            DISPATCHED,
            f"order is {status}; its shipments were handed to the warehouse, so it can no "
            "longer be edited",
        )
    if state.foreign:
        return Refusal(
            NOT_EDITABLE,
            "the order's lines belong to its sales platform (or to the system it was "
            "imported from); edit it there",
        )
    if status == S.BACKORDERED or state.backordered:
        return Refusal(
            BACKORDERED,
            "order is backordered: it keeps its place in the queue for stock, so its lines "
            "cannot change; cancel it or wait until it is reserved",
        )
    if not state.authorized:
        return Refusal(
            AUTHORIZING,
            f"order is {status}; its payment is not authorized yet, try again shortly",
        )
    if invalid := line_problem(lines):
        return Refusal(INVALID_LINES, invalid)
    if same_lines(state.lines, lines):
        return Refusal(NO_CHANGE, "the new lines are the order's lines: nothing to change")
    return None


def line_problem(lines: Sequence[OrderLine]) -> str | None:
    """What is wrong with lines that did not come through the API's checks, or None."""
    if not lines:
        return "an order needs at least one line"
    for line in lines:
        if line.quantity <= 0:
            return f"line {line.sku}: the quantity must be positive"
        try:
            price = Decimal(line.unit_price)
        except InvalidOperation:
            return f"line {line.sku}: the unit price is not a decimal amount"
        if not price.is_finite() or price < 0:
            return f"line {line.sku}: the unit price is not a decimal amount"
    return None


def _key(lines: Sequence[OrderLine]) -> list[tuple[str, int, Decimal]]:
    return sorted((x.sku, x.quantity, Decimal(x.unit_price)) for x in lines)


def same_lines(old: Sequence[OrderLine], new: Sequence[OrderLine]) -> bool:
    """The same SKUs, quantities and prices, in any order."""
    return _key(old) == _key(new)


def lines_total(lines: Sequence[OrderLine], currency: str) -> str:
    """What the lines come to, in the currency's minor units."""
    return format_amount(
        sum_amounts(line_total(x.quantity, Decimal(x.unit_price)) for x in lines), currency
    )


def demand(lines: Sequence[OrderLine]) -> list[SkuQuantity]:
    """Units per SKU, in first-seen order."""
    return merge_lines([SkuQuantity(x.sku, x.quantity) for x in lines])


def unit_changes(old: Sequence[OrderLine], new: Sequence[OrderLine]) -> dict[str, int]:
    """SKU -> units more (positive) or fewer (negative) the edit asks for."""
    before = {x.sku: x.quantity for x in demand(old)}
    after = {x.sku: x.quantity for x in demand(new)}
    changes = {sku: after.get(sku, 0) - before.get(sku, 0) for sku in {*before, *after}}
    return {sku: d for sku, d in sorted(changes.items()) if d}


def edit_record(
    number: int,
    by: str,
    old: Sequence[OrderLine],
    new: Sequence[OrderLine],
    total_before: str,
    total_after: str,
    reason: str = "",
) -> dict[str, Any]:
    """The ``order_edited`` timeline entry's data: lines carry no personal data."""
    data: dict[str, Any] = {
        "edit": number,
        "by": by,
        "before": [asdict(x) for x in old],
        "after": [asdict(x) for x in new],
        "units": unit_changes(old, new),
        "total_before": total_before,
        "total_after": total_after,
    }
    if reason:
        data["reason"] = reason
    return data
