"""Shopify: a REST Admin API order (the body of an ``orders/*`` webhook) to ours.

Money is decimal strings in the shop's currency. ``line_items[].price`` is the unit price
before discounts; ``total_discounts`` is every discount on the order (line and order
level), ``shipping_lines[].price`` the shipping charged, and ``total_tax`` is added only
when the prices do not already include it (``taxes_included``). Their sum is
``total_price``, what the buyer pays, and it is checked.

Shopify's state is three fields: ``cancelled_at``, ``financial_status`` and
``fulfillment_status``. A cancelled order is cancelled whatever else it says; a refunded
or voided one too; a (partly) fulfilled one is shipped; otherwise the financial status
decides (:data:`STATUS`). A partial refund before anything shipped is a refund request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from oms.channels import money
from oms.channels.canonical import (
    AdjustmentKind,
    ChannelAddress,
    ChannelClient,
    ChannelCustomer,
    ChannelLine,
    ChannelOrder,
    PlatformState,
    ShippedLine,
)
from oms.channels.carriers import carrier_code
from oms.channels.errors import MappingError
from oms.channels.payload import (
    child,
    country,
    digits_id,
    ident,
    items,
    loose_text,
    loose_timestamp,
    obj,
    opt_items,
    opt_text,
    opt_timestamp,
    quantity,
    text,
    timestamp,
)

PLATFORM = "shopify"

# financial_status -> our state (when the order is neither cancelled nor fulfilled).
STATUS: dict[str, PlatformState] = {
    "pending": PlatformState.UNPAID,
    "authorized": PlatformState.PAID,
    "partially_paid": PlatformState.PAID,
    "paid": PlatformState.PAID,
    "partially_refunded": PlatformState.REFUND_REQUESTED,
    "refunded": PlatformState.CANCELLED,
    "voided": PlatformState.CANCELLED,
}
# fulfillment_status -> shipped, or None: the financial status decides. ("restocked":
# the goods came back to stock after a refund, which the financial status says.)
FULFILLMENT_STATUS: dict[str | None, PlatformState | None] = {
    None: None,
    "partial": PlatformState.SHIPPED,
    "fulfilled": PlatformState.SHIPPED,
    "restocked": None,
}

FIELDS: dict[str, str] = {
    "external_id": "id",
    "state": "cancelled_at, financial_status, fulfillment_status",
    "currency": "currency",
    "total": "total_price",
    "lines[].sku": "line_items[].sku",
    "lines[].quantity": "line_items[].quantity",
    "lines[].unit_price": "line_items[].price",
    "lines[].line_id": "line_items[].id",
    "adjustments.discount": "total_discounts",
    "adjustments.shipping": "shipping_lines[].price",
    "adjustments.tax": "total_tax (unless taxes_included)",
    "customer.id": "customer.id",
    "customer.email": "email, else customer.email",
    "customer.created_at": "customer.created_at",
    "client.ip": "browser_ip, else client_details.browser_ip",
    "shipping_address.line1": "shipping_address.address1",
    "shipping_address.line2": "shipping_address.address2",
    "shipping_address.city": "shipping_address.city",
    "shipping_address.region": "shipping_address.province_code",
    "shipping_address.postal_code": "shipping_address.zip",
    "shipping_address.country": "shipping_address.country_code",
    "shipping_address.phone": "shipping_address.phone",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "paid_at": "processed_at (when paid)",
    "payment_reference": "checkout_token, else shopify:<id>",
}

_PAID = {"authorized", "partially_paid", "paid", "partially_refunded"}


def external_id(payload: dict[str, Any]) -> str:
    return digits_id(obj(payload), "id")


def updated_at(payload: dict[str, Any]) -> str:
    return timestamp(obj(payload).get("updated_at"), "updated_at")


def state(payload: dict[str, Any]) -> PlatformState:
    p = obj(payload)
    financial = p.get("financial_status")
    if not isinstance(financial, str) or financial not in STATUS:
        raise MappingError("financial_status", f"unknown status {financial!r}")
    fulfillment = p.get("fulfillment_status")
    if not (fulfillment is None or isinstance(fulfillment, str)) or (
        fulfillment not in FULFILLMENT_STATUS
    ):
        raise MappingError("fulfillment_status", f"unknown status {fulfillment!r}")
    if p.get("cancelled_at"):
        return PlatformState.CANCELLED
    if STATUS[financial] is PlatformState.CANCELLED:
        return PlatformState.CANCELLED
    return FULFILLMENT_STATUS[fulfillment] or STATUS[financial]


def to_order(payload: dict[str, Any]) -> ChannelOrder:
    p = obj(payload)
    oid = external_id(p)
    code = money.currency(p.get("currency"), "currency")
    current = state(p)

    lines: list[ChannelLine] = []
    for i, raw in enumerate(items(p, "line_items")):
        at = f"line_items.{i}"
        line = obj(raw, at)
        lines.append(
            ChannelLine(
                sku=text(line, "sku", f"{at}.sku"),
                quantity=quantity(line, "quantity", f"{at}.quantity"),
                unit_price=money.fmt(money.amount(line.get("price"), code, f"{at}.price"), code),
                line_id=ident(line, "id", f"{at}.id"),
                title=opt_text(line, "title", f"{at}.title") or "",
            )
        )
    if not lines:
        raise MappingError("line_items", "an order needs at least one line")

    shipping = Decimal(0)
    for i, raw in enumerate(opt_items(p, "shipping_lines")):
        shipping += money.amount(
            obj(raw, f"shipping_lines.{i}").get("price"), code, f"shipping_lines.{i}.price"
        )
    discount = money.optional_amount(p.get("total_discounts"), code, "total_discounts")
    tax = money.optional_amount(p.get("total_tax"), code, "total_tax")
    adjustments = money.nonzero(
        [
            money.adjustment(AdjustmentKind.DISCOUNT, -discount, code, "discounts"),
            money.adjustment(AdjustmentKind.SHIPPING, shipping, code, "shipping"),
            *(
                []
                if p.get("taxes_included") is True
                else [money.adjustment(AdjustmentKind.TAX, tax, code, "tax")]
            ),
        ]
    )
    total = money.amount(p.get("total_price"), code, "total_price")
    if p.get("subtotal_price") not in (None, ""):
        subtotal = money.amount(p.get("subtotal_price"), code, "subtotal_price")
        money.check_equal(
            money.lines_sum(lines) - discount, subtotal, "subtotal_price", "lines less discounts"
        )
    money.check_total(lines, adjustments, total, "total_price")

    customer_raw = p.get("customer")
    customer = obj(customer_raw, "customer") if customer_raw is not None else {}
    email = opt_text(p, "email") or opt_text(customer, "email", "customer.email")
    if email is None:
        raise MappingError("email", "the order has no email, neither its own nor its customer's")
    name = " ".join(
        part
        for part in (
            opt_text(customer, "first_name", "customer.first_name"),
            opt_text(customer, "last_name", "customer.last_name"),
        )
        if part
    )
    customer_id = ident(customer, "id", "customer.id") if customer.get("id") is not None else email

    financial = str(p.get("financial_status"))
    return ChannelOrder(
        platform=PLATFORM,
        external_id=oid,
        state=current.value,
        platform_status=_platform_status(p),
        currency=code,
        lines=lines,
        total=money.fmt(total, code),
        customer=ChannelCustomer(
            id=customer_id,
            email=email,
            name=name,
            created_at=loose_timestamp(customer.get("created_at")),
        ),
        shipping_address=_address(child(p, "shipping_address")),
        created_at=timestamp(p.get("created_at"), "created_at"),
        updated_at=updated_at(p),
        adjustments=adjustments,
        paid_at=(
            opt_timestamp(p.get("processed_at"), "processed_at") if financial in _PAID else None
        ),
        payment_reference=opt_text(p, "checkout_token") or f"{PLATFORM}:{oid}",
        prepaid=True,
        client=_client(p),
    )


def _client(p: dict[str, Any]) -> ChannelClient | None:
    """The buyer's browser as the storefront saw it (no device id: Shopify gives none)."""
    details = p.get("client_details")
    ip = loose_text(p, "browser_ip") or (
        loose_text(details, "browser_ip") if isinstance(details, dict) else None
    )
    return ChannelClient(ip=ip) if ip else None


def _platform_status(p: dict[str, Any]) -> str:
    status = f"{p.get('financial_status')}/{p.get('fulfillment_status') or 'unfulfilled'}"
    return f"cancelled ({status})" if p.get("cancelled_at") else status


def _address(a: dict[str, Any]) -> ChannelAddress:
    at = "shipping_address"
    name = opt_text(a, "name", f"{at}.name") or " ".join(
        part
        for part in (
            opt_text(a, "first_name", f"{at}.first_name"),
            opt_text(a, "last_name", f"{at}.last_name"),
        )
        if part
    )
    if not name:
        raise MappingError(f"{at}.last_name", "the address has no name")
    return ChannelAddress(
        name=name,
        line1=text(a, "address1", f"{at}.address1"),
        line2=opt_text(a, "address2", f"{at}.address2"),
        city=text(a, "city", f"{at}.city"),
        region=opt_text(a, "province_code", f"{at}.province_code"),
        postal_code=text(a, "zip", f"{at}.zip"),
        country=country(a.get("country_code"), f"{at}.country_code"),
        phone=opt_text(a, "phone", f"{at}.phone"),
    )


def ship_request(
    order_external_id: str,
    tracking_number: str,
    carrier: str,
    lines: Sequence[ShippedLine],
    *,
    credentials: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A fulfillment (POST /orders/{id}/fulfillments.json, simplified): the tracking
    number and carrier, and which line items (by Shopify line id) in what quantities."""
    return {
        "fulfillment": {
            "order_id": order_external_id,
            "tracking_info": {
                "number": tracking_number,
                "company": carrier_code(PLATFORM, carrier, credentials),
            },
            "notify_customer": True,
            "line_items": [{"id": line.line_id, "quantity": line.quantity} for line in lines],
        }
    }
