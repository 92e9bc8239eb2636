"""JD (Jingdong POP): an order of ``jingdong.pop.order.search`` (``orderInfoList[]``) to ours.

Money is yuan (CNY) in strings: ``orderTotalPrice`` is the goods (``jdPrice`` times
``itemTotal`` over the items), ``sellerDiscount`` the seller's discounts, ``freightPrice``
the shipping, and ``orderPayment`` = orderTotalPrice - sellerDiscount + freightPrice is
what the buyer paid; both sums are checked. ``itemTotal`` is the quantity, as a string.

JD lists an order only once it is paid, so there is no unpaid state. JD locks an order
(``LOCKED``) when the buyer asks for a refund before it ships: that is a refund request;
``PAUSE`` and ``POP_ORDER_PAUSE`` are JD holding the order, which is on hold. Times are
China time without an offset (+08:00 is attached). JD gives no buyer email: the order
gets a placeholder in the reserved ``.invalid`` domain.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
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
    child,
    ident,
    items,
    obj,
    opt_text,
    opt_timestamp,
    placeholder_email,
    quantity,
    text,
    timestamp,
)

PLATFORM = "jd"
CURRENCY = "CNY"
NO_POSTAL_CODE = "000000"

STATUS: dict[str, PlatformState] = {
    "WAIT_SELLER_STOCK_OUT": PlatformState.PAID,  # awaiting the seller's dispatch
    "LOCKED": PlatformState.REFUND_REQUESTED,  # locked by the buyer's refund request
    "PAUSE": PlatformState.ON_HOLD,
    "POP_ORDER_PAUSE": PlatformState.ON_HOLD,
    "WAIT_GOODS_RECEIVE_CONFIRM": PlatformState.SHIPPED,  # awaiting the buyer's receipt
    "FINISHED_L": PlatformState.DELIVERED,
    "TRADE_CANCELED": PlatformState.CANCELLED,
}

FIELDS: dict[str, str] = {
    "external_id": "orderId",
    "state": "orderState",
    "currency": "(always CNY)",
    "total": "orderPayment",
    "lines[].sku": "itemInfoList[].outerSkuId",
    "lines[].quantity": "itemInfoList[].itemTotal",
    "lines[].unit_price": "itemInfoList[].jdPrice",
    "lines[].line_id": "itemInfoList[].skuId",
    "adjustments.discount": "sellerDiscount",
    "adjustments.shipping": "freightPrice",
    "customer.id": "pin",
    "customer.email": "(none: <orderId>@jd.invalid)",
    "shipping_address.name": "consigneeInfo.fullname",
    "shipping_address.region": "consigneeInfo.province",
    "shipping_address.city": "consigneeInfo.city",
    "shipping_address.line1": "consigneeInfo.county + town + fullAddress (without the parts "
    "it repeats)",
    "shipping_address.postal_code": "(none: 000000)",
    "shipping_address.country": "(always CN)",
    "shipping_address.phone": "consigneeInfo.mobile, else telephone",
    "created_at": "orderStartTime (+08:00)",
    "updated_at": "modified (+08:00)",
    "paid_at": "paymentConfirmTime (+08:00)",
    "payment_reference": "(none: jd:<orderId>)",
}


def external_id(payload: dict[str, Any]) -> str:
    return ident(obj(payload), "orderId")


def updated_at(payload: dict[str, Any]) -> str:
    p = obj(payload)
    # A search answer may leave modified out on an order never changed since it was placed.
    value = p.get("modified") or p.get("orderStartTime")
    return timestamp(value, "modified", naive=CHINA)


def state(payload: dict[str, Any]) -> PlatformState:
    status = obj(payload).get("orderState")
    if not isinstance(status, str) or status not in STATUS:
        raise MappingError("orderState", f"unknown status {status!r}")
    return STATUS[status]


def to_order(payload: dict[str, Any]) -> ChannelOrder:
    p = obj(payload)
    oid = external_id(p)
    code = CURRENCY
    current = state(p)

    lines: list[ChannelLine] = []
    for i, raw in enumerate(items(p, "itemInfoList")):
        at = f"itemInfoList.{i}"
        item = obj(raw, at)
        lines.append(
            ChannelLine(
                sku=text(item, "outerSkuId", f"{at}.outerSkuId"),
                quantity=quantity(item, "itemTotal", f"{at}.itemTotal"),
                unit_price=money.fmt(
                    money.amount(item.get("jdPrice"), code, f"{at}.jdPrice"), code
                ),
                line_id=ident(item, "skuId", f"{at}.skuId"),
                title=opt_text(item, "skuName", f"{at}.skuName") or "",
            )
        )
    if not lines:
        raise MappingError("itemInfoList", "an order needs at least one item")

    goods = money.amount(p.get("orderTotalPrice"), code, "orderTotalPrice")
    money.check_equal(
        money.lines_sum(lines), goods, "orderTotalPrice", "the items' jdPrice * itemTotal"
    )
    discount = money.optional_amount(p.get("sellerDiscount"), code, "sellerDiscount")
    freight = money.optional_amount(p.get("freightPrice"), code, "freightPrice")
    adjustments = money.nonzero(
        [
            money.adjustment(AdjustmentKind.DISCOUNT, -discount, code, "sellerDiscount"),
            money.adjustment(AdjustmentKind.SHIPPING, freight, code, "freightPrice"),
        ]
    )
    total = money.amount(p.get("orderPayment"), code, "orderPayment")
    money.check_total(lines, adjustments, total, "orderPayment")

    return ChannelOrder(
        platform=PLATFORM,
        external_id=oid,
        state=current.value,
        platform_status=str(p.get("orderState")),
        currency=code,
        lines=lines,
        total=money.fmt(total, code),
        customer=ChannelCustomer(
            id=text(p, "pin"), email=placeholder_email(oid, PLATFORM), name=text(p, "pin")
        ),
        shipping_address=_address(child(p, "consigneeInfo")),
        created_at=timestamp(p.get("orderStartTime"), "orderStartTime", naive=CHINA),
        updated_at=updated_at(p),
        adjustments=adjustments,
        paid_at=opt_timestamp(p.get("paymentConfirmTime"), "paymentConfirmTime", naive=CHINA),
        payment_reference=f"{PLATFORM}:{oid}",
        prepaid=True,
    )


def _address(c: dict[str, Any]) -> ChannelAddress:
    at = "consigneeInfo"
    province = text(c, "province", f"{at}.province")
    city = text(c, "city", f"{at}.city")
    county = opt_text(c, "county", f"{at}.county")
    town = opt_text(c, "town", f"{at}.town")
    rest = text(c, "fullAddress", f"{at}.fullAddress")
    # fullAddress usually starts with the province, city, county and town again
    # ("北京 朝阳区 三环到四环之间 建国路88号"): take off the parts it repeats, in order.
    for part in (province, city, county, town):
        if part:
            rest = re.sub(rf"^\s*{re.escape(part)}\s*", "", rest)
    line1 = "".join(part for part in (county, town, rest.strip()) if part)
    return ChannelAddress(
        name=text(c, "fullname", f"{at}.fullname"),
        line1=line1,
        city=city,
        region=province,
        postal_code=NO_POSTAL_CODE,
        country="CN",
        phone=opt_text(c, "mobile", f"{at}.mobile") or opt_text(c, "telephone", f"{at}.telephone"),
    )


def ship_request(
    order_external_id: str,
    tracking_number: str,
    carrier: str,
    lines: Sequence[ShippedLine],
    *,
    credentials: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``jingdong.pop.order.shipment``: the order, JD's id of the carrier
    (``logiCoprId``) and the tracking number (``logiNo``)."""
    return {
        "orderId": order_external_id,
        "logiCoprId": carrier_code(PLATFORM, carrier, credentials),
        "logiNo": tracking_number,
    }
