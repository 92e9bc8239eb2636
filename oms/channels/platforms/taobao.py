"""Taobao and Tmall: a trade (``taobao.trade.fullinfo.get``) to ours.

Money is yuan (CNY) in strings. The trade's ``total_fee`` is the goods at their prices
(the sub-orders' ``price`` times ``num``), ``discount_fee`` every discount, ``post_fee``
the shipping, and the sub-orders' ``adjust_fee`` a seller's manual change of price
(signed); ``payment``, what the buyer paid, is their sum and is checked.

``tid`` is a 19-digit integer: a JSON decoder that reads it into a float has already lost
its last digits, so a float tid is refused, never rounded. Times are China time without
an offset (+08:00 is attached). Taobao never gives the buyer's email: the order gets a
placeholder in the reserved ``.invalid`` domain (see ``payload.placeholder_email``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from oms.channels import money
from oms.channels.canonical import (
    AdjustmentKind,
    ChannelAddress,
    ChannelCustomer,
    ChannelLine,
    ChannelOrder,
    PlatformState,
    ShippedLine,
)
from oms.channels.carriers import carrier_code
from oms.channels.errors import MappingError
from oms.channels.payload import (
    CHINA,
    digits_id,
    ident,
    obj,
    opt_text,
    opt_timestamp,
    placeholder_email,
    quantity,
    text,
    timestamp,
)

PLATFORM = "taobao"
CURRENCY = "CNY"
NO_POSTAL_CODE = "000000"

STATUS: dict[str, PlatformState] = {
    "TRADE_NO_CREATE_PAY": PlatformState.UNPAID,  # no Alipay trade created yet
    "WAIT_BUYER_PAY": PlatformState.UNPAID,
    "PAY_PENDING": PlatformState.UNPAID,  # foreign-card payment being confirmed
    "WAIT_PRE_AUTH_CONFIRM": PlatformState.UNPAID,  # pre-authorisation (0-yuan purchase)
    "WAIT_SELLER_SEND_GOODS": PlatformState.PAID,
    "PAID_FORBID_CONSIGN": PlatformState.ON_HOLD,  # paid, shipping forbidden for now
    "SELLER_CONSIGNED_PART": PlatformState.SHIPPED,
    "WAIT_BUYER_CONFIRM_GOODS": PlatformState.SHIPPED,
    "TRADE_BUYER_SIGNED": PlatformState.DELIVERED,
    "TRADE_FINISHED": PlatformState.DELIVERED,
    "TRADE_CLOSED": PlatformState.CANCELLED,  # refunded after payment, or closed
    "TRADE_CLOSED_BY_TAOBAO": PlatformState.CANCELLED,  # closed before payment
}

# A sub-order's refund_status: True when a refund is open (the buyer asked, and the
# seller has not refused nor has it finished), which turns a paid trade into a request.
REFUND_STATUS: dict[str, bool] = {
    "NO_REFUND": False,
    "WAIT_SELLER_AGREE": True,
    "WAIT_BUYER_RETURN_GOODS": True,
    "WAIT_SELLER_CONFIRM_GOODS": True,
    "SELLER_REFUSE_BUYER": False,
    "CLOSED": False,  # the refund was withdrawn or closed
    "SUCCESS": False,  # refunded: the trade's own status says the rest
}

FIELDS: dict[str, str] = {
    "external_id": "tid",
    "state": "status, orders.order[].refund_status",
    "currency": "(always CNY)",
    "total": "payment",
    "lines[].sku": "orders.order[].outer_sku_id, else outer_iid",
    "lines[].quantity": "orders.order[].num",
    "lines[].unit_price": "orders.order[].price",
    "lines[].line_id": "orders.order[].oid",
    "adjustments.discount": "discount_fee; orders.order[].adjust_fee",
    "adjustments.shipping": "post_fee",
    "customer.id": "buyer_open_uid, else buyer_nick",
    "customer.email": "(none: <tid>@taobao.invalid)",
    "shipping_address.name": "receiver_name",
    "shipping_address.region": "receiver_state",
    "shipping_address.city": "receiver_city",
    "shipping_address.line1": "receiver_district + receiver_town + receiver_address",
    "shipping_address.postal_code": "receiver_zip, else 000000",
    "shipping_address.country": "(always CN)",
    "shipping_address.phone": "receiver_mobile, else receiver_phone",
    "created_at": "created (+08:00)",
    "updated_at": "modified (+08:00)",
    "paid_at": "pay_time (+08:00)",
    "payment_reference": "alipay_no",
}


def external_id(payload: dict[str, Any]) -> str:
    return digits_id(obj(payload), "tid")


def updated_at(payload: dict[str, Any]) -> str:
    return timestamp(obj(payload).get("modified"), "modified", naive=CHINA)


def _sub_orders(p: dict[str, Any]) -> list[dict[str, Any]]:
    orders = p.get("orders")
    # The TOP JSON wraps lists: {"orders": {"order": [...]}}; a bare list is accepted too.
    raw = orders.get("order") if isinstance(orders, dict) else orders
    if not isinstance(raw, list):
        raise MappingError("orders.order", "must be a list of sub-orders")
    return [obj(o, f"orders.order.{i}") for i, o in enumerate(raw)]


def state(payload: dict[str, Any]) -> PlatformState:
    p = obj(payload)
    status = p.get("status")
    if not isinstance(status, str) or status not in STATUS:
        raise MappingError("status", f"unknown status {status!r}")
    refund_open = False
    for i, order in enumerate(_sub_orders(p)):
        refund = order.get("refund_status") or "NO_REFUND"
        if refund not in REFUND_STATUS:
            raise MappingError(f"orders.order.{i}.refund_status", f"unknown status {refund!r}")
        refund_open = refund_open or REFUND_STATUS[refund]
    if STATUS[status] is PlatformState.PAID and refund_open:
        return PlatformState.REFUND_REQUESTED
    return STATUS[status]


def to_order(payload: dict[str, Any]) -> ChannelOrder:
    p = obj(payload)
    tid = external_id(p)
    code = CURRENCY
    current = state(p)

    lines: list[ChannelLine] = []
    adjust = Decimal(0)
    for i, order in enumerate(_sub_orders(p)):
        at = f"orders.order.{i}"
        sku = opt_text(order, "outer_sku_id", f"{at}.outer_sku_id") or opt_text(
            order, "outer_iid", f"{at}.outer_iid"
        )
        if sku is None:
            raise MappingError(f"{at}.outer_sku_id", "the line has no seller SKU (nor outer_iid)")
        lines.append(
            ChannelLine(
                sku=sku,
                quantity=quantity(order, "num", f"{at}.num"),
                unit_price=money.fmt(money.amount(order.get("price"), code, f"{at}.price"), code),
                line_id=ident(order, "oid", f"{at}.oid"),
                title=opt_text(order, "title", f"{at}.title") or "",
            )
        )
        adjust += money.optional_amount(
            order.get("adjust_fee"), code, f"{at}.adjust_fee", signed=True
        )
    if not lines:
        raise MappingError("orders.order", "a trade needs at least one sub-order")

    goods = money.amount(p.get("total_fee"), code, "total_fee")
    money.check_equal(money.lines_sum(lines), goods, "total_fee", "the sub-orders' price * num")
    discount = money.optional_amount(p.get("discount_fee"), code, "discount_fee")
    post = money.optional_amount(p.get("post_fee"), code, "post_fee")
    adjustments = money.nonzero(
        [
            money.adjustment(AdjustmentKind.DISCOUNT, -discount, code, "discount_fee"),
            money.adjustment(AdjustmentKind.DISCOUNT, adjust, code, "adjust_fee"),
            money.adjustment(AdjustmentKind.SHIPPING, post, code, "post_fee"),
        ]
    )
    total = money.amount(p.get("payment"), code, "payment")
    money.check_total(lines, adjustments, total, "payment")

    buyer = opt_text(p, "buyer_open_uid") or opt_text(p, "buyer_nick")
    if buyer is None:
        raise MappingError("buyer_open_uid", "the trade names no buyer (nor buyer_nick)")
    name = text(p, "receiver_name")
    return ChannelOrder(
        platform=PLATFORM,
        external_id=tid,
        state=current.value,
        platform_status=str(p.get("status")),
        currency=code,
        lines=lines,
        total=money.fmt(total, code),
        customer=ChannelCustomer(
            id=buyer, email=placeholder_email(tid, PLATFORM), name=opt_text(p, "buyer_nick") or ""
        ),
        shipping_address=ChannelAddress(
            name=name,
            line1="".join(
                part
                for part in (
                    opt_text(p, "receiver_district"),
                    opt_text(p, "receiver_town"),
                    text(p, "receiver_address"),
                )
                if part
            ),
            city=text(p, "receiver_city"),
            region=text(p, "receiver_state"),
            postal_code=opt_text(p, "receiver_zip") or NO_POSTAL_CODE,
            country="CN",
            phone=opt_text(p, "receiver_mobile") or opt_text(p, "receiver_phone"),
        ),
        created_at=timestamp(p.get("created"), "created", naive=CHINA),
        updated_at=updated_at(p),
        adjustments=adjustments,
        paid_at=opt_timestamp(p.get("pay_time"), "pay_time", naive=CHINA),
        payment_reference=opt_text(p, "alipay_no"),
        prepaid=True,
    )


def ship_request(
    order_external_id: str,
    tracking_number: str,
    carrier: str,
    lines: Sequence[ShippedLine],
    *,
    credentials: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``taobao.logistics.offline.send``: the seller ships the trade with their own carrier
    (the whole trade: a split shipment is not sent back to Taobao)."""
    return {
        "tid": order_external_id,
        "out_sid": tracking_number,
        "company_code": carrier_code(PLATFORM, carrier, credentials),
    }
