"""Native: our own order body (``POST /v1/orders``' ``OrderCreate``) sent as a webhook by a
channel that speaks our format, with an optional ``status`` (our platform states,
"paid" when absent).

Unlike every other platform, a native channel does not take the buyer's money itself: the
body carries a payment instrument (``payment.method``, ``payment.token``) that the OMS
authorises and captures, so the order is not prepaid and has no payment reference.
Prices are unit prices in the order's currency, as decimal strings; there are no
adjustments, and the total is the lines' sum. A body may give its own ``created_at`` and
``updated_at``; without them both are "" and whoever takes the order stamps it when it
arrives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from oms.channels import money
from oms.channels.canonical import (
    ChannelAddress,
    ChannelClient,
    ChannelCustomer,
    ChannelLine,
    ChannelOrder,
    PlatformState,
    ShippedLine,
)
from oms.channels.errors import MappingError
from oms.channels.payload import (
    child,
    country,
    items,
    loose_text,
    loose_timestamp,
    obj,
    opt_text,
    opt_timestamp,
    quantity,
    text,
)

PLATFORM = "native"
DEFAULT_STATUS = PlatformState.PAID

STATUS: dict[str, PlatformState] = {state.value: state for state in PlatformState}

FIELDS: dict[str, str] = {
    "external_id": "external_id",
    "state": "status (default paid)",
    "currency": "currency",
    "total": "(the lines' sum)",
    "lines[].sku": "lines[].sku",
    "lines[].quantity": "lines[].quantity",
    "lines[].unit_price": "lines[].unit_price",
    "customer.id": "customer.id",
    "customer.email": "customer.email",
    "customer.name": "customer.name",
    "customer.created_at": "customer.created_at (optional)",
    "client.ip": "client.ip (optional)",
    "client.device_id": "client.device_id (optional)",
    "shipping_address.name": "shipping_address.name",
    "shipping_address.line1": "shipping_address.line1",
    "shipping_address.line2": "shipping_address.line2",
    "shipping_address.city": "shipping_address.city",
    "shipping_address.region": "shipping_address.region",
    "shipping_address.postal_code": "shipping_address.postal_code",
    "shipping_address.country": "shipping_address.country",
    "created_at": "created_at (optional)",
    "updated_at": "updated_at (optional)",
    "payment_method": "payment.method",
    "payment_token": "payment.token",
}


def external_id(payload: dict[str, Any]) -> str:
    return text(obj(payload), "external_id")


def updated_at(payload: dict[str, Any]) -> str:
    p = obj(payload)
    return opt_timestamp(p.get("updated_at") or p.get("created_at"), "updated_at") or ""


def state(payload: dict[str, Any]) -> PlatformState:
    status = obj(payload).get("status", DEFAULT_STATUS.value)
    if not isinstance(status, str) or status not in STATUS:
        raise MappingError("status", f"unknown status {status!r}")
    return STATUS[status]


def to_order(payload: dict[str, Any]) -> ChannelOrder:
    p = obj(payload)
    oid = external_id(p)
    code = money.currency(p.get("currency"), "currency")
    current = state(p)

    lines: list[ChannelLine] = []
    for i, raw in enumerate(items(p, "lines")):
        at = f"lines.{i}"
        line = obj(raw, at)
        price = line.get("unit_price")
        if not isinstance(price, str):
            raise MappingError(f"{at}.unit_price", 'must be a decimal string such as "12.50"')
        lines.append(
            ChannelLine(
                sku=text(line, "sku", f"{at}.sku"),
                quantity=quantity(line, "quantity", f"{at}.quantity"),
                unit_price=money.fmt(money.amount(price, code, f"{at}.unit_price"), code),
                line_id=str(i),
            )
        )
    if not lines:
        raise MappingError("lines", "an order needs at least one line")

    customer = child(p, "customer")
    address = child(p, "shipping_address")
    payment = child(p, "payment")
    created = opt_timestamp(p.get("created_at"), "created_at") or ""
    return ChannelOrder(
        platform=PLATFORM,
        external_id=oid,
        state=current.value,
        platform_status=current.value,
        currency=code,
        lines=lines,
        total=money.fmt(money.lines_sum(lines), code),
        customer=ChannelCustomer(
            id=text(customer, "id", "customer.id"),
            email=text(customer, "email", "customer.email"),
            name=text(customer, "name", "customer.name"),
            created_at=loose_timestamp(customer.get("created_at")),
        ),
        shipping_address=ChannelAddress(
            name=text(address, "name", "shipping_address.name"),
            line1=text(address, "line1", "shipping_address.line1"),
            line2=opt_text(address, "line2", "shipping_address.line2"),
            city=text(address, "city", "shipping_address.city"),
            region=opt_text(address, "region", "shipping_address.region"),
            postal_code=text(address, "postal_code", "shipping_address.postal_code"),
            country=country(address.get("country"), "shipping_address.country"),
            phone=opt_text(address, "phone", "shipping_address.phone"),
        ),
        created_at=created,
        updated_at=updated_at(p),
        adjustments=[],
        paid_at=None,
        payment_reference=None,
        prepaid=False,
        payment_method=text(payment, "method", "payment.method"),
        payment_token=text(payment, "token", "payment.token"),
        client=_client(p.get("client")),
    )


def _client(raw: object) -> ChannelClient | None:
    if not isinstance(raw, dict):
        return None
    ip, device = loose_text(raw, "ip"), loose_text(raw, "device_id")
    return ChannelClient(ip=ip, device_id=device) if ip or device else None


def ship_request(
    order_external_id: str,
    tracking_number: str,
    carrier: str,
    lines: Sequence[ShippedLine],
    *,
    credentials: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What a native channel hears when its order ships: our own shape, with our carrier
    name (a native channel speaks our names; ``credentials`` is not needed)."""
    return {
        "external_id": order_external_id,
        "tracking_number": tracking_number,
        "carrier": carrier,
        "lines": [{"sku": line.sku, "quantity": line.quantity} for line in lines],
    }
