"""Each platform's own JSON for a :class:`MarketOrder`: what its API answers, or its webhook
carries.

The field names, value types and time formats follow each platform's documentation as far as
the OMS reads them (Taobao's ids are numbers, JD's counts are strings, PDD's money is a float
of yuan, Amazon's money is ``{CurrencyCode, Amount}``). Chinese platforms mask the buyer's
name, mobile and street number as they do for sellers (``张*``, ``138****0000``,
``文一西路***号``). Every rendering adds up: its total equals its lines, discounts, shipping
and tax to the cent, in the platform's own arithmetic (docs/marketplace-simulator.md lists
them).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from simulators.marketplace.generator import SHANGHAI, MarketOrder, State

SHOP_ZONE = timezone(timedelta(hours=-5))  # the Shopify shop's time zone
AMAZON_MARKETPLACE = "ATVPDKIKX0DER"


def cn_time(value: datetime | None) -> str | None:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S") if value else None


def iso_z(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _shop_time(value: datetime | None) -> str | None:
    return value.astimezone(SHOP_ZONE).isoformat(timespec="seconds") if value else None


def _buyer_ip(buyer_id: str) -> str:
    """The address a buyer's browser orders from, in the documentation range (TEST-NET-3):
    the same for every order of one buyer."""
    return f"203.0.113.{int(buyer_id) % 254 + 1}"


def _account_created(order: MarketOrder) -> datetime:
    """When the buyer's shop account was made: a day to some two and a half years before
    the order, the same distance for every order of one buyer."""
    return order.created - timedelta(days=int(order.buyer.id) % 900 + 1)


def _gmt(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") if value else None


def _s(value: Decimal) -> str:
    return f"{value:.2f}"


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(1, len(name) - 1)


def mask_mobile(mobile: str) -> str:
    return mobile[:3] + "****" + mobile[-4:]


def mask_street(text: str) -> str:
    return re.sub(r"\d+", "***", text)


# --- Taobao --------------------------------------------------------------------------------


def taobao_status(order: MarketOrder) -> str:
    if order.state == State.UNPAID:
        return "WAIT_BUYER_PAY"
    if order.state in (State.PAID, State.REFUND_REQUESTED):
        return "WAIT_SELLER_SEND_GOODS"
    if order.state == State.SHIPPED:
        return "WAIT_BUYER_CONFIRM_GOODS"
    return "TRADE_CLOSED" if order.ever_paid else "TRADE_CLOSED_BY_TAOBAO"


def _taobao_refund(order: MarketOrder) -> str:
    if order.state == State.REFUND_REQUESTED:
        return "WAIT_SELLER_AGREE"
    return "SUCCESS" if order.refunded else "NO_REFUND"


def taobao_trade(order: MarketOrder, seller_nick: str = "sim-shop") -> dict[str, Any]:
    status = taobao_status(order)
    b = order.buyer
    trade: dict[str, Any] = {
        "tid": int(order.id),
        "status": status,
        "type": "fixed",
        "created": cn_time(order.created),
        "modified": cn_time(order.modified),
        "seller_nick": seller_nick,
        "buyer_nick": mask_name(b.nick),
        "buyer_open_uid": "AAH" + b.id,
        "total_fee": _s(order.goods),
        "post_fee": _s(order.shipping),
        "discount_fee": _s(order.discount),
        "payment": _s(order.total),
        "alipay_no": order.payment_reference if order.ever_paid else "",
        "receiver_name": mask_name(b.name),
        "receiver_mobile": mask_mobile(b.phone),
        "receiver_state": b.region,
        "receiver_city": b.city,
        "receiver_district": b.district,
        "receiver_town": b.town,
        "receiver_address": mask_street(b.line1 + b.line2),
        "receiver_zip": b.postal_code,
        "orders": {
            "order": [
                {
                    "oid": int(line.line_id),
                    "num_iid": int(line.product_id),
                    "sku_id": line.variant_id,
                    "outer_iid": line.sku.rsplit("-", 1)[0],
                    "outer_sku_id": line.sku,
                    "title": line.title,
                    "price": _s(line.unit_price),
                    "num": line.quantity,
                    "total_fee": _s(line.goods),
                    "payment": _s(line.goods - line.discount),
                    "adjust_fee": "0.00",
                    "discount_fee": _s(line.discount),
                    "status": status,
                    "refund_status": _taobao_refund(order),
                }
                for line in order.lines
            ]
        },
    }
    if order.paid_at:
        trade["pay_time"] = cn_time(order.paid_at)
    if order.shipped_at:
        trade["consign_time"] = cn_time(order.shipped_at)
    if order.closed_at:
        trade["end_time"] = cn_time(order.closed_at)
    return trade


# --- JD ------------------------------------------------------------------------------------


def jd_state(order: MarketOrder) -> str:
    return {
        State.UNPAID: "WAIT_BUYER_PAY",  # never listed: JD lists paid orders only
        State.PAID: "WAIT_SELLER_STOCK_OUT",
        State.REFUND_REQUESTED: "LOCKED",
        State.SHIPPED: "WAIT_GOODS_RECEIVE_CONFIRM",
    }.get(State(order.state), "TRADE_CANCELED")


def jd_order(order: MarketOrder, vender_id: str = "10001") -> dict[str, Any]:
    b = order.buyer
    return {
        "orderId": order.id,
        "venderId": vender_id,
        "orderState": jd_state(order),
        "orderStartTime": cn_time(order.created),
        "paymentConfirmTime": cn_time(order.paid_at) or "",
        "modified": cn_time(order.modified),
        "orderTotalPrice": _s(order.goods),
        "sellerDiscount": _s(order.discount),
        "freightPrice": _s(order.shipping),
        "orderSellerPrice": _s(order.goods - order.discount),
        "orderPayment": _s(order.total),
        "payType": "4-在线支付",
        "pin": "jd_" + b.nick,
        "consigneeInfo": {
            "fullname": mask_name(b.name),
            "mobile": mask_mobile(b.phone),
            "telephone": "",
            "province": b.region,
            "city": b.city,
            "county": b.district,
            "town": b.town,
            "fullAddress": b.region + b.city + b.district + b.town + mask_street(b.line1),
        },
        "itemInfoList": [
            {
                "skuId": line.variant_id,
                "wareId": line.product_id,
                "outerSkuId": line.sku,
                "skuName": line.title,
                "itemTotal": str(line.quantity),
                "jdPrice": _s(line.unit_price),
            }
            for line in order.lines
        ],
        "waybill": order.shipments[-1]["tracking"] if order.shipments else "",
    }


# --- PDD -----------------------------------------------------------------------------------


def pdd_order(order: MarketOrder) -> dict[str, Any]:
    b = order.buyer
    state = State(order.state)
    order_status = 2 if state == State.SHIPPED else 1
    confirm_status = {State.UNPAID: 0, State.CLOSED: 2, State.CANCELLED: 2}.get(state, 1)
    if state == State.REFUND_REQUESTED:
        refund_status = 2
    elif order.refunded:
        refund_status = 3
    else:
        refund_status = 1
    return {
        "order_sn": order.id,
        "order_status": order_status,
        "confirm_status": confirm_status,
        "refund_status": refund_status,
        "group_status": 1,
        "risk_control_status": 0,
        "trade_type": 0,
        "created_time": cn_time(order.created),
        "confirm_time": cn_time(order.paid_at) or "",
        "updated_at": cn_time(order.modified),
        "shipping_time": cn_time(order.shipped_at) or "",
        "tracking_number": order.shipments[-1]["tracking"] if order.shipments else "",
        "pay_amount": float(order.total),
        "goods_amount": float(order.goods),
        "discount_amount": float(order.discount),
        "seller_discount": float(order.discount),
        "platform_discount": 0.0,
        "postage": float(order.shipping),
        "receiver_name": mask_name(b.name),
        "receiver_phone": mask_mobile(b.phone),
        "province": b.region,
        "city": b.city,
        "town": b.district,
        "address": b.region + b.city + b.district + mask_street(b.line1),
        "item_list": [
            {
                "goods_id": int(line.product_id),
                "sku_id": int(line.variant_id),
                "outer_id": line.sku,
                "outer_goods_id": line.sku.rsplit("-", 1)[0],
                "goods_name": line.title,
                "goods_count": line.quantity,
                "goods_price": float(line.unit_price),
            }
            for line in order.lines
        ],
    }


# --- Amazon --------------------------------------------------------------------------------


def amazon_status(order: MarketOrder) -> str:
    return {
        State.UNPAID: "Pending",
        State.PAID: "Unshipped",
        State.REFUND_REQUESTED: "Unshipped",
        State.SHIPPED: "Shipped",
    }.get(State(order.state), "Canceled")


def _money(currency: str, amount: Decimal) -> dict[str, str]:
    return {"CurrencyCode": currency, "Amount": _s(amount)}


def amazon_order(order: MarketOrder, marketplace_id: str = AMAZON_MARKETPLACE) -> dict[str, Any]:
    b = order.buyer
    cur = order.currency
    shipped = order.state == State.SHIPPED
    units = sum(line.quantity for line in order.lines)
    body: dict[str, Any] = {
        "AmazonOrderId": order.id,
        "PurchaseDate": iso_z(order.created),
        "LastUpdateDate": iso_z(order.modified),
        "OrderStatus": amazon_status(order),
        "FulfillmentChannel": "MFN",
        "SalesChannel": "Amazon.com",
        "OrderType": "StandardOrder",
        "NumberOfItemsShipped": units if shipped else 0,
        "NumberOfItemsUnshipped": 0 if shipped else units,
        "OrderTotal": _money(cur, order.total),
        "MarketplaceId": marketplace_id,
        "BuyerInfo": {"BuyerEmail": f"{b.nick}@marketplace.amazon.com"},
        "ShippingAddress": {
            "Name": b.name,
            "AddressLine1": b.line1,
            "AddressLine2": b.line2,
            "City": b.city,
            "StateOrRegion": b.region_code,
            "PostalCode": b.postal_code,
            "CountryCode": b.country,
            "Phone": b.phone,
        },
        "OrderItems": [
            {
                "OrderItemId": line.line_id,
                "SellerSKU": line.sku,
                "ASIN": "B0" + line.product_id[:8],
                "Title": line.title,
                "QuantityOrdered": line.quantity,
                "QuantityShipped": line.quantity if shipped else 0,
                "ItemPrice": _money(cur, line.goods),
                "ShippingPrice": _money(cur, line.shipping),
                "PromotionDiscount": _money(cur, line.discount),
                "ItemTax": _money(cur, line.tax),
            }
            for line in order.lines
        ],
    }
    if order.state == State.REFUND_REQUESTED:
        body["BuyerRequestedCancel"] = {
            "IsBuyerRequestedCancel": "true",
            "BuyerCancelReason": "Order placed by mistake",
        }
    return body


# --- Shopify -------------------------------------------------------------------------------


def shopify_financial_status(order: MarketOrder) -> str:
    state = State(order.state)
    if state == State.UNPAID:
        return "pending"
    if state in (State.PAID, State.SHIPPED):
        return "paid"
    if state == State.REFUND_REQUESTED:
        return "refunded"
    return "refunded" if order.ever_paid else "voided"


def shopify_order(order: MarketOrder) -> dict[str, Any]:
    b = order.buyer
    closed = order.state in (State.CLOSED, State.CANCELLED)
    return {
        "id": int(order.id),
        "name": f"#{order.number}",
        "order_number": order.number,
        "email": b.email,
        "created_at": _shop_time(order.created),
        "updated_at": _shop_time(order.modified),
        "processed_at": _shop_time(order.created),
        "currency": order.currency,
        "total_line_items_price": _s(order.goods),
        "subtotal_price": _s(order.goods - order.discount),  # after discounts, as Shopify
        "total_discounts": _s(order.discount),
        "total_tax": _s(order.tax),
        "total_price": _s(order.total),
        "taxes_included": False,
        "financial_status": shopify_financial_status(order),
        "fulfillment_status": "fulfilled" if order.state == State.SHIPPED else None,
        "cancelled_at": _shop_time(order.closed_at) if closed else None,
        "cancel_reason": (
            ("customer" if order.state == State.CANCELLED else "other") if closed else None
        ),
        "gateway": "shopify_payments",
        "discount_codes": (
            [{"code": "SIM10", "amount": _s(order.discount), "type": "fixed_amount"}]
            if order.discount
            else []
        ),
        "tax_lines": (
            [{"title": "Sales tax", "rate": 0.0825, "price": _s(order.tax)}] if order.tax else []
        ),
        "customer": {
            "id": int(b.id),
            "email": b.email,
            "first_name": b.first_name,
            "last_name": b.last_name,
            "created_at": _shop_time(_account_created(order)),
        },
        "browser_ip": _buyer_ip(b.id),
        "client_details": {"browser_ip": _buyer_ip(b.id), "accept_language": "en-US"},
        "line_items": [
            {
                "id": int(line.line_id),
                "variant_id": int(line.variant_id),
                "product_id": int(line.product_id),
                "sku": line.sku,
                "title": line.title,
                "quantity": line.quantity,
                "price": _s(line.unit_price),
                "total_discount": "0.00",
                "requires_shipping": True,
            }
            for line in order.lines
        ],
        "shipping_lines": [{"title": "Standard", "price": _s(order.shipping)}],
        "shipping_address": {
            "first_name": b.first_name,
            "last_name": b.last_name,
            "address1": b.line1,
            "address2": b.line2 or None,
            "city": b.city,
            "province": b.region,
            "province_code": b.region_code,
            "country": "United States" if b.country == "US" else b.country,
            "country_code": b.country,
            "zip": b.postal_code,
            "phone": b.phone,
        },
        "fulfillments": [
            {"tracking_number": s["tracking"], "tracking_company": s["carrier"]}
            for s in order.shipments
        ],
    }


# --- WooCommerce ---------------------------------------------------------------------------


def woo_status(order: MarketOrder) -> str:
    state = State(order.state)
    if state == State.UNPAID:
        return "pending"
    if state == State.PAID:
        return "processing"
    if state == State.SHIPPED:
        return "completed"
    if state == State.REFUND_REQUESTED:
        return "refunded"
    return "refunded" if order.refunded else "cancelled"


def _woo_address(order: MarketOrder, billing: bool) -> dict[str, Any]:
    b = order.buyer
    address = {
        "first_name": b.first_name,
        "last_name": b.last_name,
        "company": "",
        "address_1": b.line1,
        "address_2": b.line2,
        "city": b.city,
        "state": b.region_code,
        "postcode": b.postal_code,
        "country": b.country,
        "phone": b.phone,
    }
    if billing:
        address["email"] = b.email
    return address


def woo_order(order: MarketOrder) -> dict[str, Any]:
    lines = []
    for line in order.lines:
        total = line.goods - line.discount
        lines.append(
            {
                "id": int(line.line_id),
                "name": line.title,
                "product_id": int(line.product_id[:6]),
                "variation_id": 0,
                "quantity": line.quantity,
                "sku": line.sku,
                # Woo's unit price after the discount, a float that need not divide evenly.
                "price": float(total / line.quantity),
                "subtotal": _s(line.goods),
                "subtotal_tax": "0.00",
                "total": _s(total),
                "total_tax": "0.00",
            }
        )
    return {
        "id": int(order.id),
        "number": str(order.number),
        "status": woo_status(order),
        "currency": order.currency,
        "date_created_gmt": _gmt(order.created),
        "date_modified_gmt": _gmt(order.modified),
        "date_paid_gmt": _gmt(order.paid_at),
        "date_completed_gmt": _gmt(order.shipped_at),
        "discount_total": _s(order.discount),
        "discount_tax": "0.00",
        "shipping_total": _s(order.shipping),
        "shipping_tax": "0.00",
        "total_tax": _s(order.tax),
        "total": _s(order.total),
        "prices_include_tax": False,
        "customer_id": int(order.buyer.id[:6]),
        "customer_ip_address": _buyer_ip(order.buyer.id),
        "billing": _woo_address(order, billing=True),
        "shipping": _woo_address(order, billing=False),
        "line_items": lines,
        "shipping_lines": [{"id": 1, "method_title": "Flat rate", "total": _s(order.shipping)}],
        "payment_method": "stripe",
        "transaction_id": order.payment_reference if order.ever_paid else "",
        "meta_data": [
            {"key": k, "value": v} for s in order.shipments for k, v in s.items() if k != "at"
        ],
    }


# --- native --------------------------------------------------------------------------------


def native_order(order: MarketOrder, channel: str = "native") -> dict[str, Any]:
    b = order.buyer
    # Our own order JSON: its status in our words (oms.channels.canonical.PlatformState).
    status = {
        State.UNPAID: "unpaid",
        State.PAID: "paid",
        State.REFUND_REQUESTED: "refund_requested",
        State.SHIPPED: "shipped",
        State.CLOSED: "cancelled",
        State.CANCELLED: "cancelled",
    }[State(order.state)]
    return {
        "channel": channel,
        "external_id": order.id,
        "customer": {"id": "c" + b.id, "email": b.email, "name": b.name},
        "shipping_address": {
            "name": b.name,
            "line1": b.line1,
            "city": b.city,
            "postal_code": b.postal_code,
            "country": b.country,
        },
        "currency": order.currency,
        "lines": [
            {"sku": line.sku, "quantity": line.quantity, "unit_price": _s(line.unit_price)}
            for line in order.lines
        ],
        "payment": {"method": "card", "token": "tok_ok"},
        "status": status,
    }


def render(order: MarketOrder, channel: str | None = None) -> dict[str, Any]:
    """The order in its platform's shape."""
    if order.platform == "taobao":
        return taobao_trade(order)
    if order.platform == "jd":
        return jd_order(order)
    if order.platform == "pdd":
        return pdd_order(order)
    if order.platform == "amazon":
        return amazon_order(order)
    if order.platform == "shopify":
        return shopify_order(order)
    if order.platform == "woocommerce":
        return woo_order(order)
    return native_order(order, channel or "native")
