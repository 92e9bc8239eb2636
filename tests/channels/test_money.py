"""Money conversion: exact decimals from every form the platforms write, and (hypothesis)
random prices, quantities and discounts always give lines + adjustments == total."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oms.channels import money
from oms.channels.errors import MappingError
from oms.channels.platforms import amazon, pdd, shopify, taobao, woocommerce
from tests.channels.conftest import load


@pytest.mark.parametrize(
    ("value", "code", "expected"),
    [
        ("59.99", "USD", "59.99"),
        ("178", "CNY", "178"),
        (178, "CNY", "178"),
        (178.0, "CNY", "178.00"),
        (9.9, "CNY", "9.90"),
        (0.1 + 0.2, "CNY", "0.30"),  # 0.30000000000000004
        (9.675000000000001, "USD", "9.68"),
        ("1000", "JPY", "1000"),
        ("100.00", "JPY", "100"),
        ("1.234", "KWD", "1.234"),
    ],
)
def test_amount_is_exact(value: Any, code: str, expected: str) -> None:
    assert money.amount(value, code, "f") == Decimal(expected)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("9.999", "USD"),
        ("100.5", "JPY"),
        ("-1.00", "USD"),
        ("1e3", "USD"),
        ("", "USD"),
        (" ", "USD"),
        ("NaN", "USD"),
        (float("inf"), "USD"),
        (float("nan"), "USD"),
        (True, "USD"),
        (None, "USD"),
        ([], "USD"),
        ("1000000000000000", "USD"),
    ],
)
def test_amount_refuses(value: Any, code: str) -> None:
    with pytest.raises(MappingError) as caught:
        money.amount(value, code, "orders.0.price")
    assert caught.value.field == "orders.0.price"


def test_signed_amounts_only_when_asked() -> None:
    assert money.amount("-5.00", "CNY", "adjust_fee", signed=True) == Decimal("-5.00")
    assert money.optional_amount(None, "CNY", "f") == 0
    assert money.optional_amount("", "CNY", "f") == 0


@given(
    total=st.integers(min_value=0, max_value=10**9),
    quantity=st.integers(min_value=1, max_value=1000),
    places=st.sampled_from([("JPY", 0), ("USD", 2), ("KWD", 3)]),
)
def test_split_line_total_is_exact_and_floors(
    total: int, quantity: int, places: tuple[str, int]
) -> None:
    code, decimals = places
    line_total = Decimal(total).scaleb(-decimals)
    unit, remainder = money.split_line_total(line_total, quantity, code)
    assert unit * quantity + remainder == line_total
    assert Decimal(0) <= remainder < Decimal(quantity).scaleb(-decimals) or quantity == 1
    assert unit == unit.quantize(money.quantum(code))


cents = st.integers(min_value=0, max_value=10_000_000)
lines_strategy = st.lists(
    st.tuples(cents, st.integers(min_value=1, max_value=50)), min_size=1, max_size=8
)


def _yuan(c: int) -> str:
    return f"{Decimal(c).scaleb(-2):.2f}"


@settings(max_examples=150)
@given(lines=lines_strategy, discount_share=st.floats(0, 1), post=cents)
def test_taobao_random_trades_add_up(
    lines: list[tuple[int, int]], discount_share: float, post: int
) -> None:
    payload = load("taobao/paid_multi_line")
    goods = sum(p * q for p, q in lines)
    discount = int(goods * discount_share)
    payload["orders"]["order"] = [
        {"oid": 1000 + i, "outer_sku_id": f"SKU-{i}", "price": _yuan(p), "num": q}
        for i, (p, q) in enumerate(lines)
    ]
    payload.update(
        total_fee=_yuan(goods),
        discount_fee=_yuan(discount),
        post_fee=_yuan(post),
        payment=_yuan(goods - discount + post),
    )
    _assert_adds_up(taobao.to_order(payload), goods - discount + post)


@settings(max_examples=150)
@given(lines=lines_strategy, discount_share=st.floats(0, 1), post=cents, as_float=st.booleans())
def test_pdd_random_orders_add_up_from_floats_or_strings(
    lines: list[tuple[int, int]], discount_share: float, post: int, as_float: bool
) -> None:
    def amount(c: int) -> Any:
        return float(_yuan(c)) if as_float else _yuan(c)

    payload = load("pdd/paid_multi_line")
    goods = sum(p * q for p, q in lines)
    discount = int(goods * discount_share)
    payload["item_list"] = [
        {"sku_id": i + 1, "outer_id": f"SKU-{i}", "goods_price": amount(p), "goods_count": q}
        for i, (p, q) in enumerate(lines)
    ]
    payload.update(
        goods_amount=amount(goods),
        discount_amount=amount(discount),
        postage=amount(post),
        pay_amount=amount(goods - discount + post),
    )
    _assert_adds_up(pdd.to_order(payload), goods - discount + post)


@settings(max_examples=150)
@given(
    lines=lines_strategy,
    shipping=cents,
    tax=cents,
    promo_share=st.floats(0, 1),
)
def test_amazon_random_orders_add_up_with_rounding(
    lines: list[tuple[int, int]], shipping: int, tax: int, promo_share: float
) -> None:
    """ItemPrice is a line total that need not divide by its quantity."""
    payload = load("amazon/unshipped_multi_line")
    total = 0
    payload["OrderItems"] = []
    for i, (line_total, qty) in enumerate(lines):
        promo = int(line_total * promo_share)
        ship = shipping if i == 0 else 0
        item_tax = tax if i == 0 else 0
        total += line_total + ship + item_tax - promo
        payload["OrderItems"].append(
            {
                "OrderItemId": str(i),
                "SellerSKU": f"SKU-{i}",
                "QuantityOrdered": qty,
                "ItemPrice": {"CurrencyCode": "USD", "Amount": _yuan(line_total)},
                "ShippingPrice": {"CurrencyCode": "USD", "Amount": _yuan(ship)},
                "ItemTax": {"CurrencyCode": "USD", "Amount": _yuan(item_tax)},
                "PromotionDiscount": {"CurrencyCode": "USD", "Amount": _yuan(promo)},
            }
        )
    payload["OrderTotal"] = {"CurrencyCode": "USD", "Amount": _yuan(total)}
    order = amazon.to_order(payload)
    _assert_adds_up(order, total)
    for line, (line_total, qty) in zip(order.lines, lines, strict=True):
        assert Decimal(line.unit_price) * qty <= Decimal(line_total).scaleb(-2)


@settings(max_examples=150)
@given(lines=lines_strategy, discount_share=st.floats(0, 1), shipping=cents, tax=cents)
def test_shopify_and_woocommerce_random_orders_add_up(
    lines: list[tuple[int, int]], discount_share: float, shipping: int, tax: int
) -> None:
    goods = sum(p * q for p, q in lines)
    discount = int(goods * discount_share)
    total = goods - discount + shipping + tax

    shop = load("shopify/paid_multi_line")
    shop["line_items"] = [
        {"id": i + 1, "sku": f"SKU-{i}", "quantity": q, "price": _yuan(p)}
        for i, (p, q) in enumerate(lines)
    ]
    shop.update(
        subtotal_price=_yuan(goods - discount),
        total_discounts=_yuan(discount),
        total_tax=_yuan(tax),
        total_price=_yuan(total),
        shipping_lines=[{"title": "x", "price": _yuan(shipping)}],
    )
    _assert_adds_up(shopify.to_order(shop), total)

    woo = load("woocommerce/paid_multi_line")
    woo["line_items"] = [
        {"id": i + 1, "sku": f"SKU-{i}", "quantity": q, "subtotal": _yuan(p * q), "price": 0.1}
        for i, (p, q) in enumerate(lines)
    ]
    woo.update(
        discount_total=_yuan(discount),
        shipping_total=_yuan(shipping),
        total_tax=_yuan(tax),
        total=_yuan(total),
    )
    _assert_adds_up(woocommerce.to_order(woo), total)


def _assert_adds_up(order: Any, total_cents: int) -> None:
    expected = Decimal(total_cents).scaleb(-2)
    lines = sum((Decimal(line.unit_price) * line.quantity for line in order.lines), Decimal(0))
    adjustments = sum((Decimal(a.amount) for a in order.adjustments), Decimal(0))
    assert lines + adjustments == expected == Decimal(order.total)
    assert all(Decimal(a.amount) != 0 for a in order.adjustments)
