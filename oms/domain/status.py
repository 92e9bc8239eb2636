"""Order and shipment statuses and the transitions between them."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class OrderStatus(StrEnum):
    RECEIVED = "received"
    PAYMENT_AUTHORIZED = "payment_authorized"
    ON_HOLD = "on_hold"
    BACKORDERED = "backordered"
    RESERVED = "reserved"
    DISPATCHED = "dispatched"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    FAILED = "failed"
    # A shadow channel's order: decided (holds, routing, split) and recorded, never acted on.
    SHADOWED = "shadowed"


class ShipmentStatus(StrEnum):
    PENDING = "pending"
    DISPATCHED = "dispatched"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    # Set by the order when its shipment's workflow fails (the WMS refused the dispatch).
    FAILED = "failed"


class ReservationStatus(StrEnum):
    """A reservation's state: held until its shipment leaves (committed) or the order no
    longer needs it (released)."""

    HELD = "held"
    COMMITTED = "committed"
    RELEASED = "released"


# What warehouses and carriers may report; everything else about a shipment is ours.
PARTNER_SHIPMENT_EVENTS: frozenset[str] = frozenset(
    {"shipped", "in_transit", "out_for_delivery", "delivered"}
)
SHIPMENT_DONE: frozenset[str] = frozenset({"delivered", "failed"})

S = OrderStatus
TERMINAL: frozenset[OrderStatus] = frozenset({S.DELIVERED, S.CANCELLED, S.FAILED, S.SHADOWED})
# Cancellation applies until the first shipment is handed to a warehouse.
CANCELLABLE: frozenset[OrderStatus] = frozenset(
    {S.RECEIVED, S.PAYMENT_AUTHORIZED, S.ON_HOLD, S.BACKORDERED, S.RESERVED}
)

_FORWARD: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.RECEIVED: frozenset({S.PAYMENT_AUTHORIZED, S.ON_HOLD}),
    # Shipped straight after its payment: an order imported with its parcel on its way.
    S.PAYMENT_AUTHORIZED: frozenset({S.ON_HOLD, S.BACKORDERED, S.RESERVED, S.SHIPPED}),
    S.ON_HOLD: frozenset({S.PAYMENT_AUTHORIZED, S.BACKORDERED, S.RESERVED}),
    S.BACKORDERED: frozenset({S.RESERVED}),
    # A reserved order can still be held (by hand, or after its address changed); it is
    # backordered again when every warehouse refused it and none can take its lines.
    S.RESERVED: frozenset({S.ON_HOLD, S.BACKORDERED, S.DISPATCHED, S.PARTIALLY_SHIPPED, S.SHIPPED}),
    S.DISPATCHED: frozenset({S.BACKORDERED, S.PARTIALLY_SHIPPED, S.SHIPPED}),
    S.PARTIALLY_SHIPPED: frozenset({S.SHIPPED}),
    S.SHIPPED: frozenset({S.DELIVERED}),
}


def can_transition(current: OrderStatus, new: OrderStatus) -> bool:
    """Whether an order may move from ``current`` to ``new``."""
    if current in TERMINAL:
        return False
    if new is S.CANCELLED:
        return current in CANCELLABLE
    if new is S.FAILED:
        return current not in {S.SHIPPED, S.PARTIALLY_SHIPPED}
    if new is S.SHADOWED:
        return current in {S.RECEIVED, S.PAYMENT_AUTHORIZED}
    return new in _FORWARD.get(current, frozenset())


def never_started(status: str, last_seq: int) -> bool:
    """An order recorded at intake whose workflow has recorded no step: its workflow may
    never have been started (Temporal was unreachable at intake)."""
    return status == S.RECEIVED and last_seq == 0


_SHIPMENT_RANK = {status: rank for rank, status in enumerate(ShipmentStatus)}


def shipment_advances(current: str, new: str) -> bool:
    """A carrier or warehouse event counts only if it moves the parcel forward."""
    return _SHIPMENT_RANK[ShipmentStatus(new)] > _SHIPMENT_RANK[ShipmentStatus(current)]


def status_from_shipments(statuses: Iterable[str]) -> OrderStatus | None:
    """The order status implied by its (not failed) shipments, or None while none is dispatched.

    ``delivered`` is never derived here: the order is delivered only once the
    workflow has also captured the payment.
    """
    ranks = [_SHIPMENT_RANK[ShipmentStatus(s)] for s in statuses if s != ShipmentStatus.FAILED]
    shipped = _SHIPMENT_RANK[ShipmentStatus.SHIPPED]
    dispatched = _SHIPMENT_RANK[ShipmentStatus.DISPATCHED]
    if not ranks:
        return None
    if all(r >= shipped for r in ranks):
        return S.SHIPPED
    if any(r >= shipped for r in ranks):
        return S.PARTIALLY_SHIPPED
    if all(r >= dispatched for r in ranks):
        return S.DISPATCHED
    return None
