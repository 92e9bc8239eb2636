"""Amazon: a Selling Partner API order (``getOrders``) with its items (``getOrderItems``,
embedded as ``OrderItems``) to ours.

Money is ``{"CurrencyCode": "USD", "Amount": "25.00"}``. An item's ``ItemPrice`` is the
price of the whole line, not of one unit: the unit price is ItemPrice / QuantityOrdered,
floored to the cent when it does not divide, with the remainder as a ``rounding``
adjustment. ``ShippingPrice`` is shipping, ``ItemTax`` and ``ShippingTax`` tax,
``PromotionDiscount`` and ``ShippingDiscount`` discounts; their sum over the items is
``OrderTotal``, which is checked. Every amount must be in the order's currency.

Amazon shows no payment before the order leaves ``Pending``, no delivery state, and no
refund request on the order (returns are a report of their own). ``BuyerEmail`` is an
anonymised marketplace address and may be absent: the customer is then a guest named
after the order and the email a placeholder in the reserved ``.invalid`` domain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from oms.channels import money
from oms.channels.canonical import (
    Adjustment,
    AdjustmentKind,
    ChannelAddress,
    ChannelCustomer,
    ChannelLine,
    ChannelOrder,
    PlatformState,
    ShippedLine,
)
from oms.channels.carriers import OTHER, carrier_code
from oms.channels.errors import MappingError
from oms.channels.payload import (
    child,
    country,
    ident,
    items,
    obj,
    opt_text,
    placeholder_email,
    quantity,
    text,
    timestamp,
)

PLATFORM = "amazon"

STATUS: dict[str, PlatformState] = {
    "PendingAvailability": PlatformState.UNPAID,  # a pre-order, not yet charged
    "Pending": PlatformState.UNPAID,  # placed, payment not yet authorised
    "Unshipped": PlatformState.PAID,  # paid, ready to ship
    "PartiallyShipped": PlatformState.SHIPPED,
    "Shipped": PlatformState.SHIPPED,
    "InvoiceUnconfirmed": PlatformState.SHIPPED,  # shipped, invoice not yet confirmed
    "Unfulfillable": PlatformState.ON_HOLD,  # cannot be fulfilled as it is
    "Canceled": PlatformState.CANCELLED,
}

FIELDS: dict[str, str] = {
    "external_id": "AmazonOrderId",
    "state": "OrderStatus",
    "currency": "OrderTotal.CurrencyCode",
    "total": "OrderTotal.Amount",
    "lines[].sku": "OrderItems[].SellerSKU",
    "lines[].quantity": "OrderItems[].QuantityOrdered",
    "lines[].unit_price": "OrderItems[].ItemPrice.Amount / QuantityOrdered",
    "lines[].line_id": "OrderItems[].OrderItemId",
    "adjustments.discount": "OrderItems[].PromotionDiscount, ShippingDiscount",
    "adjustments.shipping": "OrderItems[].ShippingPrice",
    "adjustments.tax": "OrderItems[].ItemTax, ShippingTax",
    "adjustments.rounding": "what ItemPrice / QuantityOrdered leaves",
    "customer.id": "BuyerInfo.BuyerEmail, else amazon-guest:<AmazonOrderId>",
    "customer.email": "BuyerInfo.BuyerEmail, else <AmazonOrderId>@amazon.invalid",
    "shipping_address.name": "ShippingAddress.Name",
    "shipping_address.line1": "ShippingAddress.AddressLine1",
    "shipping_address.line2": "ShippingAddress.AddressLine2",
    "shipping_address.city": "ShippingAddress.City",
    "shipping_address.region": "ShippingAddress.StateOrRegion",
    "shipping_address.postal_code": "ShippingAddress.PostalCode",
    "shipping_address.country": "ShippingAddress.CountryCode",
    "shipping_address.phone": "ShippingAddress.Phone",
    "created_at": "PurchaseDate",
    "updated_at": "LastUpdateDate",
    "paid_at": "(none)",
    "payment_reference": "(none: amazon:<AmazonOrderId>)",
}

# (field, kind, sign) for the item's money besides ItemPrice.
_ITEM_MONEY = (
    ("ShippingPrice", AdjustmentKind.SHIPPING, 1),
    ("ItemTax", AdjustmentKind.TAX, 1),
    ("ShippingTax", AdjustmentKind.TAX, 1),
    ("PromotionDiscount", AdjustmentKind.DISCOUNT, -1),
    ("ShippingDiscount", AdjustmentKind.DISCOUNT, -1),
)


def external_id(payload: dict[str, Any]) -> str:
    return text(obj(payload), "AmazonOrderId")


def updated_at(payload: dict[str, Any]) -> str:
    p = obj(payload)
    return timestamp(p.get("LastUpdateDate") or p.get("PurchaseDate"), "LastUpdateDate")


def state(payload: dict[str, Any]) -> PlatformState:
    p = obj(payload)
    status = p.get("OrderStatus")
    if not isinstance(status, str) or status not in STATUS:
        raise MappingError("OrderStatus", f"unknown status {status!r}")
    mapped = STATUS[status]
    if mapped == PlatformState.PAID and _cancel_requested(p):
        # The buyer asked to cancel before it shipped: the intercept, as a refund request.
        return PlatformState.REFUND_REQUESTED
    return mapped


def _cancel_requested(p: dict[str, Any]) -> bool:
    """``BuyerRequestedCancel.IsBuyerRequestedCancel`` on the order or any of its items
    (the Orders API gives it per item)."""
    flags = [p.get("BuyerRequestedCancel")]
    items = p.get("OrderItems")
    if isinstance(items, list):
        flags += [i.get("BuyerRequestedCancel") for i in items if isinstance(i, dict)]
    return any(
        isinstance(f, dict) and str(f.get("IsBuyerRequestedCancel", "")).lower() == "true"
        for f in flags
    )


def _money(value: object, code: str, field: str) -> Decimal:
    m = obj(value, field)
    if m.get("CurrencyCode") != code:
        raise MappingError(
            f"{field}.CurrencyCode", f"{m.get('CurrencyCode')!r} is not the order's {code}"
        )
    return money.amount(m.get("Amount"), code, f"{field}.Amount")


def to_order(payload: dict[str, Any]) -> ChannelOrder:
    p = obj(payload)
    oid = external_id(p)
    current = state(p)
    order_total = p.get("OrderTotal")
    if order_total is not None:
        code = money.currency(obj(order_total, "OrderTotal").get("CurrencyCode"), "OrderTotal")
    else:
        # A Pending order may come without its total: the items' currency then.
        first = next(iter(items(p, "OrderItems")), None)
        price = obj(first, "OrderItems.0").get("ItemPrice") if first is not None else None
        code = money.currency(
            obj(price, "OrderItems.0.ItemPrice").get("CurrencyCode") if price else None,
            "OrderTotal.CurrencyCode",
        )

    lines: list[ChannelLine] = []
    rounding: list[Adjustment] = []
    sums = {(field, kind): Decimal(0) for field, kind, _ in _ITEM_MONEY}
    for i, raw in enumerate(items(p, "OrderItems")):
        at = f"OrderItems.{i}"
        item = obj(raw, at)
        sku = text(item, "SellerSKU", f"{at}.SellerSKU")
        qty = quantity(item, "QuantityOrdered", f"{at}.QuantityOrdered")
        line_total = _money(item.get("ItemPrice"), code, f"{at}.ItemPrice")
        unit, remainder = money.split_line_total(line_total, qty, code)
        lines.append(
            ChannelLine(
                sku=sku,
                quantity=qty,
                unit_price=money.fmt(unit, code),
                line_id=ident(item, "OrderItemId", f"{at}.OrderItemId"),
                title=opt_text(item, "Title", f"{at}.Title") or "",
            )
        )
        if remainder:
            rounding.append(
                money.adjustment(AdjustmentKind.ROUNDING, remainder, code, f"{sku} ItemPrice")
            )
        for field, kind, _ in _ITEM_MONEY:
            if item.get(field) is not None:
                sums[(field, kind)] += _money(item.get(field), code, f"{at}.{field}")
    if not lines:
        raise MappingError("OrderItems", "an order needs at least one item")

    adjustments = money.nonzero(
        [
            *rounding,
            *(
                money.adjustment(kind, sign * sums[(field, kind)], code, field)
                for field, kind, sign in _ITEM_MONEY
            ),
        ]
    )
    if order_total is not None:
        total = _money(order_total, code, "OrderTotal")
        money.check_total(lines, adjustments, total, "OrderTotal")
    else:
        total = money.lines_sum(lines) + money.adjustments_sum(adjustments)

    email = opt_text(
        obj(p.get("BuyerInfo") or {}, "BuyerInfo"), "BuyerEmail", "BuyerInfo.BuyerEmail"
    )
    return ChannelOrder(
        platform=PLATFORM,
        external_id=oid,
        state=current.value,
        platform_status=str(p.get("OrderStatus")),
        currency=code,
        lines=lines,
        total=money.fmt(total, code),
        customer=ChannelCustomer(
            id=email or f"amazon-guest:{oid}",
            email=email or placeholder_email(oid, PLATFORM),
            name=opt_text(obj(p.get("BuyerInfo") or {}), "BuyerName", "BuyerInfo.BuyerName") or "",
        ),
        shipping_address=_address(child(p, "ShippingAddress")),
        created_at=timestamp(p.get("PurchaseDate"), "PurchaseDate"),
        updated_at=updated_at(p),
        adjustments=adjustments,
        paid_at=None,
        payment_reference=f"{PLATFORM}:{oid}",
        prepaid=True,
    )


def _address(a: dict[str, Any]) -> ChannelAddress:
    at = "ShippingAddress"
    return ChannelAddress(
        name=text(a, "Name", f"{at}.Name"),
        line1=text(a, "AddressLine1", f"{at}.AddressLine1"),
        line2=opt_text(a, "AddressLine2", f"{at}.AddressLine2"),
        city=text(a, "City", f"{at}.City"),
        region=opt_text(a, "StateOrRegion", f"{at}.StateOrRegion"),
        postal_code=text(a, "PostalCode", f"{at}.PostalCode"),
        country=country(a.get("CountryCode"), f"{at}.CountryCode"),
        phone=opt_text(a, "Phone", f"{at}.Phone"),
    )


def ship_request(
    order_external_id: str,
    tracking_number: str,
    carrier: str,
    lines: Sequence[ShippedLine],
    *,
    credentials: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``confirmShipment`` (POST /orders/v0/orders/{orderId}/shipmentConfirmation): the
    marketplace (the channel's ``marketplace_id`` credential), and one package with its
    carrier, tracking number and the order items (by OrderItemId) it carries. A carrier
    Amazon has no code for is "Other" with its name in ``carrierName``. Amazon takes only
    positive numbers as a package's reference: it is derived from the tracking number, so
    that a retried confirmation names the same package."""
    marketplace = (credentials or {}).get("marketplace_id")
    if not isinstance(marketplace, str) or not marketplace:
        raise MappingError("marketplace_id", "the channel's credentials name no marketplace_id")
    code = carrier_code(PLATFORM, carrier, credentials)
    package: dict[str, Any] = {
        "packageReferenceId": _package_reference(tracking_number),
        "carrierCode": code,
        "trackingNumber": tracking_number,
        "orderItems": [{"orderItemId": line.line_id, "quantity": line.quantity} for line in lines],
    }
    if code == OTHER[PLATFORM]:
        package["carrierName"] = carrier
    return {
        "amazonOrderId": order_external_id,
        "marketplaceId": marketplace,
        "packageDetail": package,
    }


def _package_reference(tracking_number: str) -> str:
    digest = hashlib.sha256(tracking_number.encode()).hexdigest()
    return str(int(digest[:12], 16) or 1)
