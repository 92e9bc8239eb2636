"""The marketplace simulator's orders: every platform's rendering adds up in the platform's
own arithmetic, whatever the seed and whatever happened to the order; the same seed gives the
same orders; the lifecycle refuses what a platform refuses."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.marketplace.generator import (
    MARKET_PLATFORMS,
    Mix,
    State,
    TransitionRefused,
    allocate,
    generate,
    plan,
    transition,
)
from simulators.marketplace.shapes import render

NOW = datetime(2026, 11, 10, 16, 0, 5, tzinfo=UTC)  # 2026-11-11 00:00:05 in Shanghai
D = Decimal


def dec(value: object) -> Decimal:
    return D(str(value))


def check_totals(platform: str, body: dict) -> None:  # type: ignore[type-arg]
    """The platform's own total from its own fields, computed here from scratch."""
    if platform == "taobao":
        lines = body["orders"]["order"]
        goods = sum(dec(x["price"]) * x["num"] for x in lines)
        assert all(dec(x["total_fee"]) == dec(x["price"]) * x["num"] for x in lines)
        assert dec(body["total_fee"]) == goods
        assert dec(body["payment"]) == goods - dec(body["discount_fee"]) + dec(body["post_fee"])
        assert sum(dec(x["payment"]) for x in lines) == goods - dec(body["discount_fee"])
        assert sum(dec(x["discount_fee"]) for x in lines) == dec(body["discount_fee"])
    elif platform == "jd":
        goods = sum(dec(x["jdPrice"]) * int(x["itemTotal"]) for x in body["itemInfoList"])
        assert dec(body["orderTotalPrice"]) == goods
        expected = goods - dec(body["sellerDiscount"]) + dec(body["freightPrice"])
        assert dec(body["orderPayment"]) == expected
    elif platform == "pdd":
        goods = sum(dec(x["goods_price"]) * x["goods_count"] for x in body["item_list"])
        assert dec(body["goods_amount"]) == goods
        expected = goods - dec(body["discount_amount"]) + dec(body["postage"])
        assert dec(body["pay_amount"]) == expected
    elif platform == "amazon":
        total = D(0)
        for item in body["OrderItems"]:
            total += dec(item["ItemPrice"]["Amount"]) + dec(item["ShippingPrice"]["Amount"])
            total += dec(item["ItemTax"]["Amount"]) - dec(item["PromotionDiscount"]["Amount"])
            assert item["ItemPrice"]["CurrencyCode"] == body["OrderTotal"]["CurrencyCode"]
        assert dec(body["OrderTotal"]["Amount"]) == total
    elif platform == "shopify":
        goods = sum(dec(x["price"]) * x["quantity"] for x in body["line_items"])
        shipping = sum(dec(x["price"]) for x in body["shipping_lines"])
        expected = goods - dec(body["total_discounts"]) + shipping + dec(body["total_tax"])
        assert dec(body["total_price"]) == expected
        assert dec(body["subtotal_price"]) == goods - dec(body["total_discounts"])
    elif platform == "woocommerce":
        lines = body["line_items"]
        assert dec(body["discount_total"]) == sum(
            dec(x["subtotal"]) - dec(x["total"]) for x in lines
        )
        shipping = sum(dec(x["total"]) for x in body["shipping_lines"])
        assert dec(body["shipping_total"]) == shipping
        expected = sum(dec(x["total"]) for x in lines) + shipping + dec(body["total_tax"])
        assert dec(body["total"]) == expected
    else:
        assert body["lines"] and all(dec(x["unit_price"]) > 0 for x in body["lines"])


@settings(max_examples=150, deadline=None)
@given(
    platform=st.sampled_from(MARKET_PLATFORMS),
    seed=st.integers(min_value=0, max_value=2**32),
    actions=st.lists(st.sampled_from(["pay", "close", "refund", "cancel", "ship"]), max_size=4),
)
def test_every_rendering_adds_up_whatever_happened(
    platform: str, seed: int, actions: list[str]
) -> None:
    rng = random.Random(seed)
    order = generate(platform, rng, NOW, paid=rng.random() < 0.5)
    when = NOW
    for action in actions:
        when += timedelta(seconds=1)
        try:
            transition(order, action, when)
        except TransitionRefused:
            pass
    body = render(order)
    check_totals(platform, body)
    assert 1 <= len(order.lines) <= 4
    assert len({line.sku for line in order.lines}) == len(order.lines)
    for value in (order.total, order.discount, order.shipping, order.tax):
        assert value == value.quantize(D("0.01"))
    assert order.total > 0


def test_the_same_seed_gives_the_same_orders() -> None:
    first = [render(generate(p, random.Random(7), NOW)) for p in MARKET_PLATFORMS]
    again = [render(generate(p, random.Random(7), NOW)) for p in MARKET_PLATFORMS]
    other = [render(generate(p, random.Random(8), NOW)) for p in MARKET_PLATFORMS]
    assert first == again
    assert first != other


def test_lines_come_from_the_skus_given() -> None:
    skus = ["A-1", "B-2", "C-3"]
    for seed in range(30):
        order = generate("shopify", random.Random(seed), NOW, skus)
        assert {line.sku for line in order.lines} <= set(skus)


def test_chinese_platforms_mask_the_buyer_as_they_do() -> None:
    trade = render(generate("taobao", random.Random(3), NOW))
    assert re.fullmatch(r"\S\*+", trade["receiver_name"])
    assert re.fullmatch(r"1\d\d\*{4}\d{4}", trade["receiver_mobile"])
    assert not re.search(r"\d", trade["receiver_address"])
    assert trade["receiver_state"].endswith(("省", "市"))
    assert isinstance(trade["tid"], int) and len(str(trade["tid"])) == 19
    assert trade["created"] == "2026-11-11 00:00:05"  # Asia/Shanghai
    jd = render(generate("jd", random.Random(3), NOW))
    assert "****" in jd["consigneeInfo"]["mobile"]
    assert jd["itemInfoList"][0]["itemTotal"].isdigit()  # JD's counts are strings
    pdd = render(generate("pdd", random.Random(3), NOW))
    assert re.fullmatch(r"261111-\d{15}", pdd["order_sn"])
    assert isinstance(pdd["pay_amount"], float)


def test_western_platforms_carry_the_address_in_full() -> None:
    amazon = render(generate("amazon", random.Random(3), NOW))
    assert amazon["PurchaseDate"] == "2026-11-10T16:00:05Z"
    assert re.fullmatch(r"\d{3}-\d{7}-\d{7}", amazon["AmazonOrderId"])
    assert amazon["ShippingAddress"]["CountryCode"] == "US"
    shopify = render(generate("shopify", random.Random(3), NOW))
    assert shopify["created_at"].endswith("-05:00")
    assert shopify["name"] == "#1001"
    assert "@" in shopify["email"]


def test_the_lifecycle_moves_modified_and_refuses_what_does_not_apply() -> None:
    order = generate("taobao", random.Random(1), NOW, paid=False)
    assert render(order)["status"] == "WAIT_BUYER_PAY"
    with pytest.raises(TransitionRefused):
        transition(order, "ship", NOW)
    transition(order, "pay", NOW + timedelta(seconds=5))
    assert order.modified == NOW + timedelta(seconds=5)
    assert render(order)["status"] == "WAIT_SELLER_SEND_GOODS"
    transition(order, "refund", NOW + timedelta(seconds=9))
    assert render(order)["orders"]["order"][0]["refund_status"] == "WAIT_SELLER_AGREE"
    with pytest.raises(TransitionRefused):
        transition(order, "ship", NOW + timedelta(seconds=10))
    transition(order, "close", NOW + timedelta(seconds=11))
    body = render(order)
    assert body["status"] == "TRADE_CLOSED"
    assert body["orders"]["order"][0]["refund_status"] == "SUCCESS"
    # A clock that steps back never moves modified back.
    with pytest.raises(TransitionRefused):
        transition(order, "pay", NOW)
    assert order.modified == NOW + timedelta(seconds=11)


def test_an_unpaid_order_closed_is_closed_by_the_platform() -> None:
    order = generate("taobao", random.Random(1), NOW, paid=False)
    transition(order, "close", NOW)
    assert render(order)["status"] == "TRADE_CLOSED_BY_TAOBAO"
    shop = generate("shopify", random.Random(1), NOW, paid=False)
    transition(shop, "close", NOW)
    assert render(shop)["financial_status"] == "voided"
    assert render(shop)["cancelled_at"] is not None


def test_a_refund_request_locks_a_jd_order_and_flags_an_amazon_one() -> None:
    jd = generate("jd", random.Random(1), NOW)
    transition(jd, "refund", NOW)
    assert render(jd)["orderState"] == "LOCKED"
    amazon = generate("amazon", random.Random(1), NOW)
    transition(amazon, "refund", NOW)
    body = render(amazon)
    assert body["OrderStatus"] == "Unshipped"
    assert body["BuyerRequestedCancel"]["IsBuyerRequestedCancel"] == "true"


@given(
    amount=st.decimals(min_value=0, max_value=10_000, places=2),
    weights=st.lists(st.decimals(min_value=0, max_value=1000, places=2), min_size=1, max_size=5),
)
def test_allocation_adds_up_to_the_cent(amount: Decimal, weights: list[Decimal]) -> None:
    shares = allocate(amount, weights)
    assert sum(shares) == amount
    assert len(shares) == len(weights)


def test_a_plan_follows_the_mix() -> None:
    rng = random.Random(5)
    mix = Mix(paid_ratio=0.5, unpaid_then_paid_ratio=0.3, closed_ratio=0.1, refund_ratio=0.5)
    plans = [plan("taobao", rng, NOW, mix, 10.0) for _ in range(400)]
    paid_now = sum(p.order.state == State.PAID for p in plans)
    pays = sum(any(a == "pay" for _, a in p.later) for p in plans)
    closes = sum(any(a == "close" for _, a in p.later) for p in plans)
    refunds = sum(any(a == "refund" for _, a in p.later) for p in plans)
    assert 160 < paid_now < 240 and 80 < pays < 160 and 20 < closes < 65
    assert 120 < refunds < 280
    for p in plans:
        assert all(5.0 <= s <= 20.0 for s, _ in p.later)
        if any(a == "close" for _, a in p.later):
            assert not any(a == "refund" for _, a in p.later)
    with pytest.raises(ValueError):
        Mix(paid_ratio=0.9, closed_ratio=0.2).validate()
