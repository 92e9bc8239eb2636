"""A payload that cannot be mapped raises MappingError naming the platform's field, never
a KeyError or TypeError, whatever is missing or malformed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from oms.channels.errors import MappingError
from oms.channels.registry import ADAPTERS, adapter
from tests.channels.conftest import load, sample_ids

Edit = Callable[[dict[str, Any]], None]


def drop(key: str) -> Edit:
    return lambda p: p.pop(key)


def put(key: str, value: Any) -> Edit:
    return lambda p: p.__setitem__(key, value)


def line(path: str, i: int, key: str, value: Any = None, *, remove: bool = False) -> Edit:
    def edit(p: dict[str, Any]) -> None:
        target = p
        for part in path.split("."):
            target = target[part]
        entry = target[i]  # type: ignore[index]
        if remove:
            entry.pop(key)
        else:
            entry[key] = value

    return edit


def nested(path: str, key: str, value: Any) -> Edit:
    def edit(p: dict[str, Any]) -> None:
        p[path][key] = value

    return edit


# (sample, what is wrong, the field the error must name)
CASES: list[tuple[str, str, Edit, str]] = [
    # Shopify
    ("shopify/paid_multi_line", "no id", drop("id"), "id"),
    ("shopify/paid_multi_line", "id not digits", put("id", "abc"), "id"),
    ("shopify/paid_multi_line", "float id", put("id", 5940139491234.0), "id"),
    ("shopify/paid_multi_line", "unknown currency", put("currency", "XYZ"), "currency"),
    ("shopify/paid_multi_line", "lower-case currency", put("currency", "usd"), "currency"),
    ("shopify/paid_multi_line", "no lines", put("line_items", []), "line_items"),
    ("shopify/paid_multi_line", "lines not a list", put("line_items", {}), "line_items"),
    (
        "shopify/paid_multi_line",
        "line without SKU",
        line("line_items", 1, "sku", ""),
        "line_items.1.sku",
    ),
    (
        "shopify/paid_multi_line",
        "zero quantity",
        line("line_items", 0, "quantity", 0),
        "line_items.0.quantity",
    ),
    (
        "shopify/paid_multi_line",
        "price with 3 decimals",
        line("line_items", 0, "price", "25.001"),
        "line_items.0.price",
    ),
    (
        "shopify/paid_multi_line",
        "negative price",
        line("line_items", 0, "price", "-25.00"),
        "line_items.0.price",
    ),
    (
        "shopify/paid_multi_line",
        "price as a word",
        line("line_items", 0, "price", "free"),
        "line_items.0.price",
    ),
    ("shopify/paid_multi_line", "total off by a cent", put("total_price", "72.48"), "total_price"),
    ("shopify/paid_multi_line", "subtotal wrong", put("subtotal_price", "60.00"), "subtotal_price"),
    ("shopify/paid_multi_line", "no total", drop("total_price"), "total_price"),
    ("shopify/paid_multi_line", "bad timestamp", put("created_at", "yesterday"), "created_at"),
    (
        "shopify/paid_multi_line",
        "bad country",
        nested("shipping_address", "country_code", "USA"),
        "shipping_address.country_code",
    ),
    ("shopify/paid_multi_line", "no address", drop("shipping_address"), "shipping_address"),
    (
        "shopify/guest_taxes_included_gbp",
        "no email at all",
        put("email", None),
        "email",
    ),
    ("shopify/paid_multi_line", "payload is a list", lambda p: p.clear(), "id"),
    # WooCommerce
    ("woocommerce/paid_multi_line", "no id", drop("id"), "id"),
    (
        "woocommerce/paid_multi_line",
        "line without SKU",
        line("line_items", 0, "sku", None),
        "line_items.0.sku",
    ),
    (
        "woocommerce/paid_multi_line",
        "subtotal as a float",
        line("line_items", 0, "subtotal", None),
        "line_items.0.subtotal",
    ),
    ("woocommerce/paid_multi_line", "total wrong", put("total", "54.36"), "total"),
    (
        "woocommerce/unpaid_guest",
        "guest without email",
        nested("billing", "email", ""),
        "billing.email",
    ),
    (
        "woocommerce/paid_multi_line",
        "modified not a date",
        put("date_modified_gmt", 17),
        "date_modified_gmt",
    ),
    # Taobao
    ("taobao/paid_multi_line", "tid as a float", put("tid", 3.3001234567890125e18), "tid"),
    ("taobao/paid_multi_line", "no tid", drop("tid"), "tid"),
    ("taobao/paid_multi_line", "no sub-orders", put("orders", {"order": []}), "orders.order"),
    ("taobao/paid_multi_line", "orders not wrapped", put("orders", "x"), "orders.order"),
    (
        "taobao/paid_multi_line",
        "sub-order without any SKU",
        lambda p: p["orders"]["order"][1].update(outer_sku_id="", outer_iid=None),
        "orders.order.1.outer_sku_id",
    ),
    ("taobao/paid_multi_line", "goods total wrong", put("total_fee", "240.00"), "total_fee"),
    ("taobao/paid_multi_line", "payment wrong", put("payment", "236.00"), "payment"),
    (
        "taobao/paid_multi_line",
        "no buyer",
        lambda p: p.update(buyer_open_uid="", buyer_nick=None),
        "buyer_open_uid",
    ),
    ("taobao/paid_multi_line", "no receiver address", drop("receiver_address"), "receiver_address"),
    (
        "taobao/paid_multi_line",
        "quantity as a float",
        lambda p: p["orders"]["order"][0].update(num=2.5),
        "orders.order.0.num",
    ),
    # JD
    ("jd/paid_multi_line", "no orderId", drop("orderId"), "orderId"),
    ("jd/paid_multi_line", "no items", put("itemInfoList", []), "itemInfoList"),
    (
        "jd/paid_multi_line",
        "item without outer SKU",
        line("itemInfoList", 0, "outerSkuId", "", remove=False),
        "itemInfoList.0.outerSkuId",
    ),
    (
        "jd/paid_multi_line",
        "quantity not a number",
        line("itemInfoList", 0, "itemTotal", "two"),
        "itemInfoList.0.itemTotal",
    ),
    ("jd/paid_multi_line", "goods wrong", put("orderTotalPrice", "248.00"), "orderTotalPrice"),
    ("jd/paid_multi_line", "payment wrong", put("orderPayment", "234.00"), "orderPayment"),
    ("jd/paid_multi_line", "no consignee", drop("consigneeInfo"), "consigneeInfo"),
    ("jd/paid_multi_line", "no pin", drop("pin"), "pin"),
    # PDD
    ("pdd/paid_multi_line", "no order_sn", drop("order_sn"), "order_sn"),
    ("pdd/paid_multi_line", "no items", put("item_list", []), "item_list"),
    (
        "pdd/paid_multi_line",
        "item without any SKU",
        lambda p: p["item_list"][0].update(outer_id="", outer_goods_id=""),
        "item_list.0.outer_id",
    ),
    ("pdd/paid_multi_line", "paid amount wrong", put("pay_amount", 207.71), "pay_amount"),
    ("pdd/paid_multi_line", "goods wrong", put("goods_amount", 227.0), "goods_amount"),
    ("pdd/paid_multi_line", "amount not a number", put("pay_amount", "lots"), "pay_amount"),
    ("pdd/paid_multi_line", "amount NaN", put("pay_amount", float("nan")), "pay_amount"),
    ("pdd/paid_multi_line", "amount a boolean", put("postage", True), "postage"),
    (
        "pdd/paid_multi_line",
        "no receiver at all",
        lambda p: p.update(receiver_phone=None, receiver_name=None),
        "buyer_id",
    ),
    ("pdd/paid_multi_line", "status a word", put("confirm_status", "yes"), "confirm_status"),
    # Amazon
    ("amazon/unshipped_multi_line", "no order id", drop("AmazonOrderId"), "AmazonOrderId"),
    ("amazon/unshipped_multi_line", "no items", put("OrderItems", []), "OrderItems"),
    (
        "amazon/unshipped_multi_line",
        "item without SKU",
        line("OrderItems", 1, "SellerSKU", None, remove=True),
        "OrderItems.1.SellerSKU",
    ),
    (
        "amazon/unshipped_multi_line",
        "item in another currency",
        line("OrderItems", 1, "ItemTax", {"CurrencyCode": "EUR", "Amount": "1.00"}),
        "OrderItems.1.ItemTax.CurrencyCode",
    ),
    (
        "amazon/unshipped_multi_line",
        "item price missing",
        line("OrderItems", 0, "ItemPrice", None, remove=True),
        "OrderItems.0.ItemPrice",
    ),
    (
        "amazon/unshipped_multi_line",
        "order total wrong",
        put("OrderTotal", {"CurrencyCode": "USD", "Amount": "67.49"}),
        "OrderTotal",
    ),
    (
        "amazon/unshipped_multi_line",
        "unknown currency",
        put("OrderTotal", {"CurrencyCode": "ABC", "Amount": "67.50"}),
        "OrderTotal",
    ),
    ("amazon/unshipped_multi_line", "no address", drop("ShippingAddress"), "ShippingAddress"),
    # native
    ("native/paid_default", "no external id", drop("external_id"), "external_id"),
    (
        "native/paid_default",
        "price as a number",
        line("lines", 0, "unit_price", 19.9),
        "lines.0.unit_price",
    ),
    ("native/paid_default", "no payment", drop("payment"), "payment"),
    ("native/paid_default", "no lines", put("lines", []), "lines"),
    ("native/paid_default", "JPY with decimals", put("currency", "JPY"), "lines.0.unit_price"),
]


@pytest.mark.parametrize(
    ("sample", "edit", "field"),
    [(s, e, f) for s, _, e, f in CASES],
    ids=[f"{s}: {why}" for s, why, _, _ in CASES],
)
def test_bad_payload_names_its_field(sample: str, edit: Edit, field: str) -> None:
    payload = load(sample)
    edit(payload)
    with pytest.raises(MappingError) as caught:
        adapter(sample.split("/")[0]).to_order(payload)
    assert caught.value.field == field, str(caught.value)


@pytest.mark.parametrize("platform", sorted(ADAPTERS))
@pytest.mark.parametrize("payload", [None, [], "order", 42, {}])
def test_not_an_order_at_all(platform: str, payload: Any) -> None:
    module = adapter(platform)
    for read in (module.to_order, module.external_id):
        with pytest.raises(MappingError):
            read(payload)


@pytest.mark.parametrize("sample", sample_ids())
def test_removing_any_top_level_field_never_leaks_another_exception(sample: str) -> None:
    """Whatever single field is missing or of the wrong type, the adapter either maps the
    order or says which field is at fault."""
    module = adapter(sample.split("/")[0])
    for key in load(sample):
        for replacement in (None, 7, 1.5, "", [], {}, "junk"):
            payload = load(sample)
            if replacement is None:
                payload.pop(key)
            else:
                payload[key] = replacement
            try:
                module.to_order(payload)
            except MappingError as exc:
                assert exc.field


def test_mapping_error_carries_field_and_message() -> None:
    error = MappingError("orders.order.0.num", "must be a whole quantity")
    assert error.field == "orders.order.0.num"
    assert error.message == "must be a whole quantity"
    assert str(error) == "orders.order.0.num: must be a whole quantity"
    assert isinstance(error, ValueError)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    children = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else []
    )
    for key, child in children:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


@pytest.mark.parametrize("sample", sample_ids())
def test_any_nested_field_of_any_type_never_leaks_another_exception(sample: str) -> None:
    module = adapter(sample.split("/")[0])
    for path in _paths(load(sample)):
        for replacement in (None, -1, 2.5, "", [], {}, True, "junk"):
            payload = load(sample)
            target: Any = payload
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = replacement
            try:
                module.to_order(payload)
                module.external_id(payload)
                module.state(payload)
                module.updated_at(payload)
            except MappingError as exc:
                assert exc.field
