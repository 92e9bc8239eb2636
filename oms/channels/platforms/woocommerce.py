"""WooCommerce: a REST API v3 order (the body of an ``order.*`` webhook) to ours.

WooCommerce keeps amounts excluding tax: a line's ``subtotal`` is its price before
coupons, its ``total`` after them; the order's ``discount_total`` is the coupons,
``shipping_total`` the shipping and ``total_tax`` every tax, and ``total`` is their sum,
what the buyer pays. A line's ``price`` is a JSON float of the unit price after discounts
(9.675 for a line of 2 at 19.35): it is never read. The unit price is ``subtotal`` over
``quantity``; when that does not divide to the cent, the unit is floored and the remainder
is a ``rounding`` adjustment.

A guest order has ``customer_id`` 0: the billing email is then the customer's id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any

from oms.channels import money
from oms.channels.canonical import (
    Adjustment,
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
    country,
    digits_id,
    ident,
    items,
    loose_text,
    obj,
    opt_text,
    opt_timestamp,
    quantity,
    text,
    timestamp,
)

PLATFORM = "woocommerce"

STATUS: dict[str, PlatformState] = {
    "checkout-draft": PlatformState.UNPAID,  # a checkout in progress (block checkout)
    "pending": PlatformState.UNPAID,  # pending payment
    "on-hold": PlatformState.UNPAID,  # awaiting payment (bank transfer, cheque ...)
    "failed": PlatformState.UNPAID,  # the payment failed; the buyer may pay again
    "processing": PlatformState.PAID,  # paid, awaiting fulfilment
    "completed": PlatformState.SHIPPED,  # fulfilled (WooCommerce has no delivery state)
    "cancelled": PlatformState.CANCELLED,
    "refunded": PlatformState.CANCELLED,
    "trash": PlatformState.CANCELLED,
}

FIELDS: dict[str, str] = {
    "external_id": "id",
    "state": "status",
    "currency": "currency",
    "total": "total",
    "lines[].sku": "line_items[].sku",
    "lines[].quantity": "line_items[].quantity",
    "lines[].unit_price": "line_items[].subtotal / quantity",
    "lines[].line_id": "line_items[].id",
    "adjustments.discount": "discount_total",
    "adjustments.shipping": "shipping_total",
    "adjustments.tax": "total_tax",
    "customer.id": "customer_id, else (guest) billing.email",
    "customer.email": "billing.email",
    "client.ip": "customer_ip_address",
    "shipping_address.line1": "shipping.address_1 (billing.address_1 when no shipping)",
    "shipping_address.line2": "shipping.address_2",
    "shipping_address.city": "shipping.city",
    "shipping_address.region": "shipping.state",
    "shipping_address.postal_code": "shipping.postcode",
    "shipping_address.country": "shipping.country",
    "shipping_address.phone": "shipping.phone, else billing.phone",
    "created_at": "date_created_gmt",
    "updated_at": "date_modified_gmt",
    "paid_at": "date_paid_gmt",
    "payment_reference": "transaction_id, else woocommerce:<id>",
}


def external_id(payload: dict[str, Any]) -> str:
    return digits_id(obj(payload), "id")


def updated_at(payload: dict[str, Any]) -> str:
    return timestamp(obj(payload).get("date_modified_gmt"), "date_modified_gmt", naive=UTC)


def state(payload: dict[str, Any]) -> PlatformState:
    status = obj(payload).get("status")
    if not isinstance(status, str) or status not in STATUS:
        raise MappingError("status", f"unknown status {status!r}")
    return STATUS[status]


def to_order(payload: dict[str, Any]) -> ChannelOrder:
    p = obj(payload)
    oid = external_id(p)
    code = money.currency(p.get("currency"), "currency")
    current = state(p)

    lines: list[ChannelLine] = []
    rounding: list[Adjustment] = []
    for i, raw in enumerate(items(p, "line_items")):
        at = f"line_items.{i}"
        line = obj(raw, at)
        sku = text(line, "sku", f"{at}.sku")
        qty = quantity(line, "quantity", f"{at}.quantity")
        subtotal = money.amount(line.get("subtotal"), code, f"{at}.subtotal")
        unit, remainder = money.split_line_total(subtotal, qty, code)
        lines.append(
            ChannelLine(
                sku=sku,
                quantity=qty,
                unit_price=money.fmt(unit, code),
                line_id=ident(line, "id", f"{at}.id"),
                title=opt_text(line, "name", f"{at}.name") or "",
            )
        )
        if remainder:
            rounding.append(
                money.adjustment(AdjustmentKind.ROUNDING, remainder, code, f"{sku} line total")
            )
    if not lines:
        raise MappingError("line_items", "an order needs at least one line")

    discount = money.optional_amount(p.get("discount_total"), code, "discount_total")
    shipping = money.optional_amount(p.get("shipping_total"), code, "shipping_total")
    tax = money.optional_amount(p.get("total_tax"), code, "total_tax")
    adjustments = money.nonzero(
        [
            *rounding,
            money.adjustment(AdjustmentKind.DISCOUNT, -discount, code, "coupons"),
            money.adjustment(AdjustmentKind.SHIPPING, shipping, code, "shipping"),
            money.adjustment(AdjustmentKind.TAX, tax, code, "tax"),
        ]
    )
    total = money.amount(p.get("total"), code, "total")
    money.check_total(lines, adjustments, total, "total")

    billing = obj(p.get("billing") or {}, "billing")
    email = opt_text(billing, "email", "billing.email")
    customer_id = ident(p, "customer_id") if p.get("customer_id") is not None else "0"
    if customer_id == "0":
        if email is None:
            raise MappingError("billing.email", "a guest order needs the billing email")
        customer_id = email
    if email is None:
        raise MappingError("billing.email", "the order has no email")
    name = " ".join(
        part
        for part in (
            opt_text(billing, "first_name", "billing.first_name"),
            opt_text(billing, "last_name", "billing.last_name"),
        )
        if part
    )

    return ChannelOrder(
        platform=PLATFORM,
        external_id=oid,
        state=current.value,
        platform_status=str(p.get("status")),
        currency=code,
        lines=lines,
        total=money.fmt(total, code),
        customer=ChannelCustomer(id=customer_id, email=email, name=name),
        shipping_address=_address(p, billing),
        created_at=timestamp(p.get("date_created_gmt"), "date_created_gmt", naive=UTC),
        updated_at=updated_at(p),
        adjustments=adjustments,
        paid_at=opt_timestamp(p.get("date_paid_gmt"), "date_paid_gmt", naive=UTC),
        payment_reference=opt_text(p, "transaction_id") or f"{PLATFORM}:{oid}",
        prepaid=True,
        client=_client(p),
    )


def _client(p: dict[str, Any]) -> ChannelClient | None:
    """The checkout's IP address (empty for an order made in the shop's admin); WooCommerce
    keeps no device id, and its user agent is no id."""
    ip = loose_text(p, "customer_ip_address")
    return ChannelClient(ip=ip) if ip else None


def _address(p: dict[str, Any], billing: dict[str, Any]) -> ChannelAddress:
    shipping = obj(p.get("shipping") or {}, "shipping")
    at = "shipping"
    if opt_text(shipping, "address_1", "shipping.address_1") is None:
        # Digital goods or a store that ships to the billing address only.
        shipping, at = billing, "billing"
    name = " ".join(
        part
        for part in (
            opt_text(shipping, "first_name", f"{at}.first_name"),
            opt_text(shipping, "last_name", f"{at}.last_name"),
            # A company-only address is still addressed.
            None if shipping.get("first_name") else opt_text(shipping, "company", f"{at}.company"),
        )
        if part
    )
    if not name:
        raise MappingError(f"{at}.last_name", "the address has no name")
    return ChannelAddress(
        name=name,
        line1=text(shipping, "address_1", f"{at}.address_1"),
        line2=opt_text(shipping, "address_2", f"{at}.address_2"),
        city=text(shipping, "city", f"{at}.city"),
        region=opt_text(shipping, "state", f"{at}.state"),
        postal_code=text(shipping, "postcode", f"{at}.postcode"),
        country=country(shipping.get("country"), f"{at}.country"),
        phone=opt_text(shipping, "phone", f"{at}.phone")
        or opt_text(billing, "phone", "billing.phone"),
    )


def ship_request(
    order_external_id: str,
    tracking_number: str,
    carrier: str,
    lines: Sequence[ShippedLine],
    *,
    credentials: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An order update (PUT /wp-json/wc/v3/orders/{id}): completed, with the tracking
    number and carrier as order metadata (WooCommerce core has no shipment object)."""
    code = carrier_code(PLATFORM, carrier, credentials)
    return {
        "id": order_external_id,
        "status": "completed",
        "meta_data": [
            {"key": "tracking_number", "value": tracking_number},
            {"key": "tracking_provider", "value": carrier if code == "OTHER" else code},
            {
                "key": "shipped_items",
                "value": [
                    {"sku": line.sku, "line_id": line.line_id, "quantity": line.quantity}
                    for line in lines
                ],
            },
        ],
    }
