"""Every sample maps, keeps the money invariant to the cent, and lands in the state the
platform's documentation gives it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms.channels.canonical import PLATFORMS, PULL_PLATFORMS, ChannelOrder, PlatformState
from oms.channels.registry import adapter
from oms.domain.iso import COUNTRY_CODES, minor_units
from tests.channels.conftest import load, sample_ids

# sample -> (our state, the platform's own paid total)
EXPECTED: dict[str, tuple[PlatformState, str]] = {
    "amazon/canceled": (PlatformState.CANCELLED, "67.50"),
    "amazon/pending": (PlatformState.UNPAID, "67.50"),
    "amazon/shipped_guest": (PlatformState.SHIPPED, "67.50"),
    "amazon/unshipped_gbp_uneven": (PlatformState.PAID, "31.97"),
    "amazon/unshipped_multi_line": (PlatformState.PAID, "67.50"),
    "amazon/cancel_requested": (PlatformState.REFUND_REQUESTED, "67.50"),
    "jd/cancelled": (PlatformState.CANCELLED, "233.00"),
    "jd/finished": (PlatformState.DELIVERED, "233.00"),
    "jd/locked_refund_requested": (PlatformState.REFUND_REQUESTED, "233.00"),
    "jd/paid_multi_line": (PlatformState.PAID, "233.00"),
    "jd/paused": (PlatformState.ON_HOLD, "233.00"),
    "native/cancelled": (PlatformState.CANCELLED, "48.30"),
    "native/paid_default": (PlatformState.PAID, "48.30"),
    "native/unpaid": (PlatformState.UNPAID, "48.30"),
    "pdd/delivered_string_amounts": (PlatformState.DELIVERED, "207.70"),
    "pdd/group_failed": (PlatformState.CANCELLED, "207.70"),
    "pdd/paid_multi_line": (PlatformState.PAID, "207.70"),
    "pdd/refund_requested": (PlatformState.REFUND_REQUESTED, "207.70"),
    "pdd/refunded": (PlatformState.CANCELLED, "207.70"),
    "pdd/risk_control": (PlatformState.ON_HOLD, "207.70"),
    "pdd/unpaid": (PlatformState.UNPAID, "207.70"),
    "shopify/cancelled": (PlatformState.CANCELLED, "72.49"),
    "shopify/guest_taxes_included_gbp": (PlatformState.PAID, "44.95"),
    "shopify/paid_multi_line": (PlatformState.PAID, "72.49"),
    "shopify/refund_requested": (PlatformState.REFUND_REQUESTED, "72.49"),
    "shopify/shipped": (PlatformState.SHIPPED, "72.49"),
    "shopify/unpaid": (PlatformState.UNPAID, "24.99"),
    "taobao/closed": (PlatformState.CANCELLED, "235.00"),
    "taobao/paid_forbid_consign": (PlatformState.ON_HOLD, "235.00"),
    "taobao/paid_multi_line": (PlatformState.PAID, "235.00"),
    "taobao/refund_requested": (PlatformState.REFUND_REQUESTED, "235.00"),
    "taobao/shipped_adjusted_no_zip": (PlatformState.SHIPPED, "94.00"),
    "taobao/unpaid": (PlatformState.UNPAID, "235.00"),
    "woocommerce/cancelled": (PlatformState.CANCELLED, "54.35"),
    "woocommerce/completed_eur_france": (PlatformState.SHIPPED, "54.35"),
    "woocommerce/on_hold_bank_transfer": (PlatformState.UNPAID, "54.35"),
    "woocommerce/paid_multi_line": (PlatformState.PAID, "54.35"),
    "woocommerce/refunded": (PlatformState.CANCELLED, "54.35"),
    "woocommerce/unpaid_guest": (PlatformState.UNPAID, "25.60"),
}

# Where each platform keeps what the buyer paid.
PAID_TOTAL = {
    "shopify": lambda p: p["total_price"],
    "woocommerce": lambda p: p["total"],
    "taobao": lambda p: p["payment"],
    "jd": lambda p: p["orderPayment"],
    "pdd": lambda p: str(p["pay_amount"]),
    "amazon": lambda p: p["OrderTotal"]["Amount"],
}


def _map(sample: str) -> ChannelOrder:
    return adapter(sample.split("/")[0]).to_order(load(sample))


def test_every_sample_is_expected_and_every_platform_has_samples() -> None:
    assert sorted(EXPECTED) == sample_ids()
    assert {s.split("/")[0] for s in EXPECTED} == set(PLATFORMS)
    for platform in PLATFORMS:
        states = {state for s, (state, _) in EXPECTED.items() if s.startswith(f"{platform}/")}
        assert {PlatformState.PAID, PlatformState.CANCELLED} <= states, platform
        # JD lists an order only once it is paid: it has no unpaid sample to give.
        if platform != "jd":
            assert PlatformState.UNPAID in states, platform


@pytest.mark.parametrize("sample", sample_ids())
def test_sample_maps_to_its_state_and_total(sample: str) -> None:
    order = _map(sample)
    state, total = EXPECTED[sample]
    assert order.state == state.value
    assert order.total == total
    assert order.platform == sample.split("/")[0]


@pytest.mark.parametrize("sample", sample_ids())
def test_lines_plus_adjustments_equal_the_total_exactly(sample: str) -> None:
    order = _map(sample)
    places = minor_units(order.currency)
    amounts = [order.total] + [line.unit_price for line in order.lines]
    amounts += [a.amount for a in order.adjustments]
    for value in amounts:
        assert Decimal(value).as_tuple().exponent == -places, value  # type: ignore[operator]
    lines = sum((Decimal(line.unit_price) * line.quantity for line in order.lines), Decimal(0))
    adjustments = sum((Decimal(a.amount) for a in order.adjustments), Decimal(0))
    assert lines + adjustments == Decimal(order.total)
    platform = sample.split("/")[0]
    if platform in PAID_TOTAL:
        assert Decimal(order.total) == Decimal(PAID_TOTAL[platform](load(sample)))


@pytest.mark.parametrize("sample", sample_ids())
def test_adjustment_signs_follow_their_kind(sample: str) -> None:
    for a in _map(sample).adjustments:
        value = Decimal(a.amount)
        assert value != 0
        if a.kind == "discount" and a.label != "adjust_fee":
            assert value < 0, a
        if a.kind in ("shipping", "tax"):
            assert value > 0, a
        if a.kind == "rounding":
            assert value > 0, a


@pytest.mark.parametrize("sample", sample_ids())
def test_cheap_readers_agree_with_the_full_mapping(sample: str) -> None:
    platform = sample.split("/")[0]
    module = adapter(platform)
    payload = load(sample)
    order = module.to_order(payload)
    assert module.external_id(payload) == order.external_id
    assert module.updated_at(payload) == order.updated_at
    assert module.state(payload).value == order.state


@pytest.mark.parametrize("sample", sample_ids())
def test_sample_has_a_complete_customer_and_address(sample: str) -> None:
    order = _map(sample)
    assert order.customer.id
    assert "@" in order.customer.email
    address = order.shipping_address
    assert address.name and address.line1 and address.city and address.postal_code
    assert address.country in COUNTRY_CODES
    assert all(line.sku and line.quantity > 0 for line in order.lines)
    if order.platform in PULL_PLATFORMS | {"shopify", "woocommerce"}:
        assert order.prepaid
        # Taobao names the Alipay trade only once the buyer has paid.
        assert order.payment_reference or (order.platform, order.state) == ("taobao", "unpaid")
        assert order.payment_method == order.payment_token == ""
    else:
        assert not order.prepaid and order.payment_reference is None
        assert order.payment_method == "card" and order.payment_token == "tok_visa_4242"


def test_taobao_keeps_the_19_digit_tid_and_attaches_china_time() -> None:
    order = _map("taobao/paid_multi_line")
    assert order.external_id == "3300123456789012345"
    assert order.lines[0].line_id == "3300123456789012346"
    assert order.created_at == "2026-11-11T00:00:05+08:00"
    assert order.paid_at == "2026-11-11T00:00:31+08:00"
    assert order.payment_reference == "2026111122001456781234567890"
    assert order.customer.id == "AAHk5d-EAAeGwJedwSHpg8bT"
    assert order.customer.email == "3300123456789012345@taobao.invalid"
    a = order.shipping_address
    assert (a.region, a.city, a.line1, a.postal_code, a.country, a.phone) == (
        "浙江省",
        "杭州市",
        "余杭区五常街道文一西路***号",
        "311100",
        "CN",
        "138****5678",
    )


def test_taobao_without_zip_or_sku_id_uses_000000_and_outer_iid() -> None:
    order = _map("taobao/shipped_adjusted_no_zip")
    assert order.shipping_address.postal_code == "000000"
    assert order.lines[0].sku == "BOOK-ZH-001"
    assert [(a.kind, a.amount) for a in order.adjustments] == [("discount", "-5.00")]


def test_jd_strips_the_address_parts_full_address_repeats() -> None:
    paid = _map("jd/paid_multi_line").shipping_address
    assert (paid.region, paid.city) == ("北京", "朝阳区")
    assert paid.line1 == "三环到四环之间建国路88号SOHO现代城"
    spaced = _map("jd/finished").shipping_address
    assert spaced.line1 == "南山区粤海街道科技园科苑路15号"
    assert spaced.postal_code == "000000"


def test_pdd_float_amounts_are_exact_and_buyer_falls_back_to_the_masked_phone() -> None:
    order = _map("pdd/paid_multi_line")
    assert [line.unit_price for line in order.lines] == ["99.00", "9.90"]
    assert order.customer.id == "186****0000"
    assert order.payment_reference == "4200002026111100001234567890"
    assert _map("pdd/delivered_string_amounts").customer.id == "987654321"
    assert _map("pdd/unpaid").payment_reference == "pdd:261111-123456789012346"


def test_amazon_item_price_is_the_line_total_split_with_rounding() -> None:
    order = _map("amazon/unshipped_gbp_uneven")
    assert order.currency == "GBP"
    assert (order.lines[0].quantity, order.lines[0].unit_price) == (3, "9.99")
    assert order.adjustments[0].kind == "rounding" and order.adjustments[0].amount == "0.02"
    assert order.shipping_address.line2 == "Sherwood Drive"
    assert order.created_at == "2026-11-10T10:30:00+00:00"


def test_amazon_guest_without_buyer_email() -> None:
    order = _map("amazon/shipped_guest")
    assert order.customer.id == "amazon-guest:902-3159896-1390919"
    assert order.customer.email == "902-3159896-1390919@amazon.invalid"
    buyer = _map("amazon/unshipped_multi_line").customer
    assert buyer.id == buyer.email == "5vlh04mgfmjh9h5@marketplace.amazon.com"


def test_amazon_pending_without_order_total_sums_its_items() -> None:
    payload = load("amazon/pending")
    del payload["OrderTotal"]
    assert adapter("amazon").to_order(payload).total == "67.50"


def test_shopify_western_address_customer_and_guest() -> None:
    order = _map("shopify/paid_multi_line")
    assert order.external_id == "5940139491234"
    assert order.customer.id == "7390123456789"
    assert order.customer.name == "Ada Lovelace"
    a = order.shipping_address
    assert (a.name, a.line1, a.line2, a.city, a.region, a.postal_code, a.country) == (
        "Ada Lovelace",
        "350 Fifth Avenue",
        "Suite 2100",
        "New York",
        "NY",
        "10118",
        "US",
    )
    assert a.phone == "+1 212-555-0100"
    assert order.payment_reference == "b1946ac92492d2347c6235b4d2611184"
    assert order.paid_at == "2026-11-10T10:30:02-05:00"
    assert _map("shopify/unpaid").paid_at is None
    guest = _map("shopify/guest_taxes_included_gbp")
    assert guest.customer.id == guest.customer.email == "grace@example.co.uk"
    # Taxes included in the prices are not added again.
    assert [a.kind for a in guest.adjustments] == ["shipping"]


def test_woocommerce_unit_price_from_subtotal_never_the_float_price() -> None:
    order = _map("woocommerce/paid_multi_line")
    assert order.lines[0].unit_price == "9.67"  # 19.35 / 2, floored; price was 8.925
    assert order.adjustments[0].kind == "rounding" and order.adjustments[0].amount == "0.01"
    assert order.customer.id == "26"
    assert order.payment_reference == "ch_3PqRsT2eZvKYlo2C0xYz1234"
    assert order.paid_at == "2026-11-10T15:30:05+00:00"


def test_woocommerce_guest_is_its_billing_email() -> None:
    order = _map("woocommerce/unpaid_guest")
    assert order.customer.id == order.customer.email == "guest.buyer@example.org"
    assert order.payment_reference == "woocommerce:728"
    assert order.paid_at is None


def test_woocommerce_without_a_shipping_address_ships_to_billing() -> None:
    payload = load("woocommerce/paid_multi_line")
    payload["shipping"] = {"first_name": "", "last_name": "", "address_1": "", "country": ""}
    payload["billing"]["address_1"] = "1 Billing Road"
    assert adapter("woocommerce").to_order(payload).shipping_address.line1 == "1 Billing Road"


def test_native_keeps_its_payment_instrument_and_its_own_times() -> None:
    order = _map("native/paid_default")
    assert (order.payment_method, order.payment_token) == ("card", "tok_visa_4242")
    assert order.created_at == order.updated_at == ""
    assert order.adjustments == []
    timed = _map("native/unpaid")
    assert timed.created_at == "2026-11-10T09:00:00+01:00"
