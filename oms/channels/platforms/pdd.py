"""Pinduoduo (PDD): an order of ``pdd.order.information.get`` (``order_info``) to ours.

Money is yuan (CNY), as JSON numbers in some endpoints (178.0) and strings in others:
both go through ``str()`` to a Decimal and are rounded to the fen. ``goods_amount`` is
the goods (``goods_price`` times ``goods_count`` over ``item_list``), ``discount_amount``
every discount (seller, platform and "capital free" parts together), ``postage`` the
shipping, and ``pay_amount`` what the buyer paid; both sums are checked.

PDD's state is five fields, so :func:`state` decides it from the tables below in this
order (the first that applies wins):

1. ``confirm_status`` 2 (cancelled) or ``group_status`` 2 (the group buy failed): cancelled;
2. ``refund_status`` 4 (refunded): cancelled;
3. ``confirm_status`` 0 (not yet a deal: unpaid): unpaid;
4. ``refund_status`` 2 or 3 (after-sales in progress, refunding) while awaiting shipment
   (``order_status`` 1): refund requested;
5. ``risk_control_status`` 1 (PDD's risk control holds it) or ``group_status`` 0 (the
   group is still forming, so the order may not ship yet): on hold;
6. ``order_status``: 1 awaiting shipment is paid, 2 shipped, 3 signed for (delivered).

PDD masks the buyer: the customer id is ``buyer_id`` when the payload has one, else the
masked receiver phone, else the masked receiver name (stable for one buyer, never a
hash of ours). The email is a placeholder in the reserved ``.invalid`` domain.
"""

from __future__ import annotations

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

PLATFORM = "pdd"
CURRENCY = "CNY"
NO_POSTAL_CODE = "000000"

# Each field's values; None: that value alone does not decide the state.
ORDER_STATUS: dict[int, PlatformState] = {
    1: PlatformState.PAID,  # 待发货 awaiting shipment
    2: PlatformState.SHIPPED,  # 已发货待签收 shipped
    3: PlatformState.DELIVERED,  # 已签收 signed for
}
CONFIRM_STATUS: dict[int, PlatformState | None] = {
    0: PlatformState.UNPAID,  # 未成交
    1: None,  # 已成交 confirmed
    2: PlatformState.CANCELLED,  # 已取消
}
REFUND_STATUS: dict[int, PlatformState | None] = {
    1: None,  # 无售后或售后关闭 none
    2: PlatformState.REFUND_REQUESTED,  # 售后处理中 (before shipping)
    3: PlatformState.REFUND_REQUESTED,  # 退款中 (before shipping)
    4: PlatformState.CANCELLED,  # 退款成功 refunded
}
GROUP_STATUS: dict[int, PlatformState | None] = {
    0: PlatformState.ON_HOLD,  # 拼团中 the group is forming
    1: None,  # 已成团 the group formed
    2: PlatformState.CANCELLED,  # 团失败 the group failed
}
RISK_CONTROL_STATUS: dict[int, PlatformState | None] = {
    0: None,  # 正常
    1: PlatformState.ON_HOLD,  # 风控中 held by risk control
}
_TABLES: dict[str, Mapping[int, PlatformState | None]] = {
    "order_status": ORDER_STATUS,
    "confirm_status": CONFIRM_STATUS,
    "refund_status": REFUND_STATUS,
    "group_status": GROUP_STATUS,
    "risk_control_status": RISK_CONTROL_STATUS,
}
# The tables flattened ("field=value" -> state), for the docs and the coverage tests.
STATUS: dict[str, PlatformState] = {
    f"{name}={value}": mapped
    for name, table in _TABLES.items()
    for value, mapped in table.items()
    if mapped is not None
}

FIELDS: dict[str, str] = {
    "external_id": "order_sn",
    "state": "confirm_status, group_status, refund_status, risk_control_status, order_status",
    "currency": "(always CNY)",
    "total": "pay_amount",
    "lines[].sku": "item_list[].outer_id, else outer_goods_id",
    "lines[].quantity": "item_list[].goods_count",
    "lines[].unit_price": "item_list[].goods_price",
    "lines[].line_id": "item_list[].sku_id",
    "adjustments.discount": "discount_amount",
    "adjustments.shipping": "postage",
    "customer.id": "buyer_id, else receiver_phone (masked), else receiver_name (masked)",
    "customer.email": "(none: <order_sn>@pdd.invalid)",
    "shipping_address.name": "receiver_name",
    "shipping_address.region": "province",
    "shipping_address.city": "city",
    "shipping_address.line1": "town + address",
    "shipping_address.postal_code": "(none: 000000)",
    "shipping_address.country": "(always CN)",
    "shipping_address.phone": "receiver_phone",
    "created_at": "created_time (+08:00)",
    "updated_at": "updated_at (+08:00)",
    "paid_at": "confirm_time (+08:00)",
    "payment_reference": "pay_no, else pdd:<order_sn>",
}


def external_id(payload: dict[str, Any]) -> str:
    return text(obj(payload), "order_sn")


def updated_at(payload: dict[str, Any]) -> str:
    p = obj(payload)
    return timestamp(p.get("updated_at") or p.get("created_time"), "updated_at", naive=CHINA)


def _code(p: dict[str, Any], name: str, default: int | None = None) -> int:
    value = p.get(name)
    if value is None:
        value = default
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value not in _TABLES[name]:
        raise MappingError(name, f"unknown status {value!r}")
    return value


def state(payload: dict[str, Any]) -> PlatformState:
    """PDD's five status fields to our state (the order is in the module's docstring)."""
    p = obj(payload)
    order = _code(p, "order_status")
    confirm = _code(p, "confirm_status", 1)
    refund = _code(p, "refund_status", 1)
    group = _code(p, "group_status", 1)
    risk = _code(p, "risk_control_status", 0)
    if CONFIRM_STATUS[confirm] is PlatformState.CANCELLED:
        return PlatformState.CANCELLED
    if GROUP_STATUS[group] is PlatformState.CANCELLED:
        return PlatformState.CANCELLED
    if REFUND_STATUS[refund] is PlatformState.CANCELLED:
        return PlatformState.CANCELLED
    if CONFIRM_STATUS[confirm] is PlatformState.UNPAID:
        return PlatformState.UNPAID
    if REFUND_STATUS[refund] is PlatformState.REFUND_REQUESTED and order == 1:
        return PlatformState.REFUND_REQUESTED
    if RISK_CONTROL_STATUS[risk] is PlatformState.ON_HOLD:
        return PlatformState.ON_HOLD
    if GROUP_STATUS[group] is PlatformState.ON_HOLD:
        return PlatformState.ON_HOLD
    return ORDER_STATUS[order]


def to_order(payload: dict[str, Any]) -> ChannelOrder:
    p = obj(payload)
    sn = external_id(p)
    code = CURRENCY
    current = state(p)

    lines: list[ChannelLine] = []
    for i, raw in enumerate(items(p, "item_list")):
        at = f"item_list.{i}"
        item = obj(raw, at)
        sku = opt_text(item, "outer_id", f"{at}.outer_id") or opt_text(
            item, "outer_goods_id", f"{at}.outer_goods_id"
        )
        if sku is None:
            raise MappingError(f"{at}.outer_id", "the item has no seller SKU (nor outer_goods_id)")
        price = money.amount(item.get("goods_price"), code, f"{at}.goods_price")
        line_id = item.get("sku_id") if item.get("sku_id") is not None else item.get("goods_id")
        lines.append(
            ChannelLine(
                sku=sku,
                quantity=quantity(item, "goods_count", f"{at}.goods_count"),
                unit_price=money.fmt(price, code),
                line_id=ident({"sku_id": line_id}, "sku_id", f"{at}.sku_id"),
                title=opt_text(item, "goods_name", f"{at}.goods_name") or "",
            )
        )
    if not lines:
        raise MappingError("item_list", "an order needs at least one item")

    goods = money.amount(p.get("goods_amount"), code, "goods_amount")
    money.check_equal(
        money.lines_sum(lines), goods, "goods_amount", "the items' goods_price * goods_count"
    )
    discount = money.optional_amount(p.get("discount_amount"), code, "discount_amount")
    postage = money.optional_amount(p.get("postage"), code, "postage")
    adjustments = money.nonzero(
        [
            money.adjustment(AdjustmentKind.DISCOUNT, -discount, code, "discount_amount"),
            money.adjustment(AdjustmentKind.SHIPPING, postage, code, "postage"),
        ]
    )
    total = money.amount(p.get("pay_amount"), code, "pay_amount")
    money.check_total(lines, adjustments, total, "pay_amount")

    buyer = (
        (ident(p, "buyer_id") if p.get("buyer_id") not in (None, "", 0) else None)
        or opt_text(p, "receiver_phone")
        or opt_text(p, "receiver_name")
    )
    if buyer is None:
        raise MappingError("buyer_id", "the order names no buyer (nor a receiver)")
    return ChannelOrder(
        platform=PLATFORM,
        external_id=sn,
        state=current.value,
        platform_status=_platform_status(p),
        currency=code,
        lines=lines,
        total=money.fmt(total, code),
        customer=ChannelCustomer(
            id=buyer,
            email=placeholder_email(sn, PLATFORM),
            name=opt_text(p, "receiver_name") or "",
        ),
        shipping_address=ChannelAddress(
            name=text(p, "receiver_name"),
            line1="".join(part for part in (opt_text(p, "town"), text(p, "address")) if part),
            city=text(p, "city"),
            region=text(p, "province"),
            postal_code=NO_POSTAL_CODE,
            country="CN",
            phone=opt_text(p, "receiver_phone"),
        ),
        created_at=timestamp(p.get("created_time"), "created_time", naive=CHINA),
        updated_at=updated_at(p),
        adjustments=adjustments,
        paid_at=opt_timestamp(p.get("confirm_time"), "confirm_time", naive=CHINA),
        payment_reference=opt_text(p, "pay_no") or f"{PLATFORM}:{sn}",
        prepaid=True,
    )


def _platform_status(p: dict[str, Any]) -> str:
    return " ".join(f"{name}={p.get(name)}" for name in _TABLES if p.get(name) is not None)


def ship_request(
    order_external_id: str,
    tracking_number: str,
    carrier: str,
    lines: Sequence[ShippedLine],
    *,
    credentials: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``pdd.logistics.online.send``: the order, PDD's id of the carrier
    (``logistics_id``) and the tracking number."""
    return {
        "order_sn": order_external_id,
        "logistics_id": carrier_code(PLATFORM, carrier, credentials),
        "tracking_number": tracking_number,
    }
