"""The event catalogue: every event type an endpoint can subscribe to, and which timeline
entry makes each.

``TIMELINE_EVENTS`` is data: the latest migration that maps it (0008, then 0020, which
added ``order_edited``) holds a literal copy of it (a migration is frozen, the catalogue may
grow in a later revision) and a unit test checks the two agree. Per shipment,
``order.dispatched`` and ``order.shipped`` come once for each shipment, with its
``shipment_id`` and ``tracking_number``.

Bodies carry ids, statuses and the timeline entry's own data: never names, emails,
addresses or payment tokens (``PERSONAL_KEYS`` are dropped from the timeline data as a
second guard). Partners read personal data through the API, with a key.
"""

from __future__ import annotations

from typing import Any

# Timeline entry type (order_events.type) -> public event type.
TIMELINE_EVENTS: dict[str, str] = {
    "order_received": "order.received",
    "order_held": "order.on_hold",
    "payment_authorized": "order.payment_authorized",
    "stock_reserved": "order.reserved",
    "order_backordered": "order.backordered",
    "shipment_dispatched": "order.dispatched",
    "shipment_shipped": "order.shipped",
    "order_delivered": "order.delivered",
    "order_cancelled": "order.cancelled",
    "order_failed": "order.failed",
    "order_late": "order.late",
    "order_edited": "order.edited",
}

# Returns and refunds (docs/returns.md), made by the same trigger since revision 0022,
# which holds a literal copy of both mappings (a unit test checks they agree).
RETURN_TIMELINE_EVENTS: dict[str, str] = {
    "return_opened": "return.opened",
    "return_approved": "return.approved",
    "return_rejected": "return.rejected",
    "return_received": "return.received",
    "return_closed": "return.closed",
    "refund_issued": "refund.succeeded",
    "refund_failed": "refund.failed",
}

ALERT_RAISED = "alert.raised"
STOCK_CHANGED = "stock.changed"
WEBHOOK_TEST = "webhook.test"
ALL = "*"

# Keys never copied from a timeline entry's data into an event body.
PERSONAL_KEYS: tuple[str, ...] = (
    "customer",
    "email",
    "name",
    "shipping_address",
    "address",
    "payment",
    "token",
    "payment_token",
)

DESCRIPTIONS: dict[str, str] = {
    "order.received": "An order was accepted at intake.",
    "order.on_hold": "An order was put on hold for review (data.reasons).",
    "order.payment_authorized": "The payment was authorized (data.amount).",
    "order.reserved": "Stock was reserved for the order (data.allocations per warehouse).",
    "order.backordered": "Part of the order waits for stock (data.lines).",
    "order.dispatched": "A shipment was handed to its warehouse (data.shipment_id).",
    "order.shipped": "A shipment left the warehouse (data.shipment_id, data.tracking_number).",
    "order.delivered": "Every shipment of the order was delivered.",
    "order.cancelled": "The order was cancelled (data.reason).",
    "order.failed": "The order failed (data.reason).",
    "order.late": "The order missed its dispatch or delivery deadline (data.stage).",
    "order.edited": "The order's lines were edited before dispatch (data.before, data.after).",
    "return.opened": "A return of delivered units was opened (data.return_id, data.lines, "
    "data.resolution).",
    "return.approved": "A return was approved, by the return window or an operator (data.by).",
    "return.rejected": "A return was rejected by an operator (data.by).",
    "return.received": "The warehouse counted a return's units (data.lines: restockable, "
    "damaged, missing per SKU).",
    "return.closed": "A return was resolved (data.resolution, data.amount, data.refund_id or "
    "data.exchange_order_id).",
    "refund.succeeded": "Money was given back through the gateway (data.refund_id, "
    "data.refunded, data.reason, data.return_id for a return's).",
    "refund.failed": "The gateway refused a refund (data.refund_id, data.refunded, data.error).",
    ALERT_RAISED: "An alert was raised for operators (data.kind, data.order_id).",
    STOCK_CHANGED: "A stock level changed (on_hand, reserved, available).",
    WEBHOOK_TEST: "A test event sent on request (POST .../test).",
}

EVENT_TYPES: tuple[str, ...] = tuple(DESCRIPTIONS)
ORDER_EVENT_TYPES: tuple[str, ...] = tuple(TIMELINE_EVENTS.values())


def unknown_types(requested: list[str]) -> list[str]:
    """The requested types that are neither in the catalogue nor ``*``."""
    return [t for t in requested if t != ALL and t not in DESCRIPTIONS]


def body(event_type: str, timestamp: str, data: dict[str, Any]) -> dict[str, Any]:
    """The Standard Webhooks payload: ``{type, timestamp, data}``."""
    return {"type": event_type, "timestamp": timestamp, "data": data}


def public_data(data: dict[str, Any]) -> dict[str, Any]:
    """A timeline entry's data without personal keys (the trigger does the same in SQL)."""
    return {k: v for k, v in data.items() if k not in PERSONAL_KEYS}
