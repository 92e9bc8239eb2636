"""The risk inputs each platform gives, mapped where it gives them: Shopify's browser IP and
the customer's account creation, WooCommerce's checkout IP, a native channel's own fields;
what a platform sends unusable is dropped and the order still taken."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from oms.channels.canonical import PLATFORMS
from oms.channels.config import ChannelConfig
from oms.channels.intake import build_view
from oms.channels.registry import adapter
from tests.channels.conftest import load, sample_ids

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _view(platform: str, payload: dict) -> object:
    order = adapter(platform).to_order(payload)
    return build_view(
        ChannelConfig(name=f"{platform}-shop", platform=platform), order, "0" * 20, NOW
    )


def test_shopify_gives_the_browser_ip_and_the_accounts_creation() -> None:
    payload = load("shopify/paid_multi_line")
    payload["browser_ip"] = "203.0.113.9"
    payload["customer"]["created_at"] = "2025-01-15T08:00:00-05:00"
    view = _view("shopify", payload)
    assert view.client is not None and view.client.ip == "203.0.113.9"
    assert view.client.device_id is None  # Shopify sends none
    assert view.customer.created_at == "2025-01-15T13:00:00+00:00"
    assert view.shipping_address.phone == "+1 212-555-0100"


def test_shopify_falls_back_to_the_client_details() -> None:
    payload = load("shopify/paid_multi_line")
    payload["browser_ip"] = None
    payload["client_details"] = {"browser_ip": "2001:db8::7", "user_agent": "Mozilla/5.0"}
    assert _view("shopify", payload).client.ip == "2001:db8::7"


def test_woocommerce_gives_the_checkouts_ip() -> None:
    payload = load("woocommerce/paid_multi_line")
    payload["customer_ip_address"] = "198.51.100.4"
    view = _view("woocommerce", payload)
    assert view.client is not None and view.client.ip == "198.51.100.4"
    assert view.customer.created_at is None  # a WooCommerce order does not say
    payload["customer_ip_address"] = ""  # an order made in the shop's admin
    assert _view("woocommerce", payload).client is None


def test_a_native_channel_gives_all_of_them() -> None:
    payload = load("native/paid_default")
    payload["customer"]["created_at"] = "2024-06-01T00:00:00Z"
    payload["client"] = {"ip": "192.0.2.44", "device_id": "app-install-9"}
    view = _view("native", payload)
    assert (view.client.ip, view.client.device_id) == ("192.0.2.44", "app-install-9")
    assert view.customer.created_at == "2024-06-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("platform", "sample", "change"),
    [
        ("shopify", "shopify/paid_multi_line", {"browser_ip": "not an ip"}),
        ("shopify", "shopify/paid_multi_line", {"browser_ip": 12345}),
        ("woocommerce", "woocommerce/paid_multi_line", {"customer_ip_address": "1.2.3"}),
        ("native", "native/paid_default", {"client": {"ip": "x", "device_id": "d" * 200}}),
        ("native", "native/paid_default", {"client": "192.0.2.1"}),
    ],
)
def test_an_unusable_value_is_dropped_and_the_order_still_taken(platform, sample, change) -> None:
    payload = {**load(sample), **change}
    view = _view(platform, payload)
    assert view.client is None


def test_an_account_made_in_the_future_or_unreadable_is_dropped() -> None:
    for value in ("2999-01-01T00:00:00Z", "last year", 20240101):
        payload = load("shopify/paid_multi_line")
        payload["customer"]["created_at"] = value
        assert _view("shopify", payload).customer.created_at is None


def test_the_samples_without_these_fields_map_as_before() -> None:
    for sample in sample_ids():
        platform = sample.split("/")[0]
        assert platform in PLATFORMS
        order = adapter(platform).to_order(load(sample))
        assert order.client is None, sample
        assert order.customer.created_at is None, sample


def test_the_simulated_shops_send_what_their_platforms_send() -> None:
    import random

    from simulators.marketplace.generator import generate
    from simulators.marketplace.shapes import render

    rng = random.Random(7)
    for platform in ("shopify", "woocommerce"):
        simulated = generate(platform, rng, NOW, paid=True)
        order = adapter(platform).to_order(render(simulated))
        assert order.client is not None and order.client.ip.startswith("203.0.113.")
        view = build_view(ChannelConfig(name="sim", platform=platform), order, "0" * 20, NOW)
        assert view.client is not None and view.client.ip == order.client.ip
        account = view.customer.created_at
        # Shopify says when the account was made (before the order); WooCommerce does not.
        made = datetime.fromisoformat(account) if account is not None else None
        assert (made is not None and made < simulated.created) == (platform == "shopify")
