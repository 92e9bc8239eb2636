"""The marketplace simulator's memory, its rate limit, the gateways' signature and the
webhooks' signatures, each checked against a computation made here from scratch."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from oms.adapters.marketplace import sign_params
from oms.channels.pull_rules import RULES
from simulators.marketplace.generator import Mix, State
from simulators.marketplace.pusher import Delivery, MarketLoop, PushTarget, topics
from simulators.marketplace.store import MarketClock, MarketStore, TokenBucket

ALL_PAID = Mix(paid_ratio=1.0, unpaid_then_paid_ratio=0.0, closed_ratio=0.0)
NONE_PAID = Mix(paid_ratio=0.0, unpaid_then_paid_ratio=0.0, closed_ratio=0.0)


class FakeClock(MarketClock):
    def __init__(self) -> None:
        super().__init__()
        self.at = datetime(2026, 11, 11, 0, 0, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


def test_listed_is_the_window_newest_first_and_jd_shows_paid_orders_only() -> None:
    clock = FakeClock()
    store = MarketStore(clock)
    start = clock.at
    for platform in ("taobao", "jd"):
        store.create(platform, 3, seed=1, mix=ALL_PAID)
        clock.at += timedelta(seconds=2)
        store.create(platform, 2, seed=2, mix=NONE_PAID)
        clock.at += timedelta(seconds=2)
    taobao = store.listed("taobao", start, clock.at)
    assert len(taobao) == 5
    assert [o.modified for o in taobao] == sorted((o.modified for o in taobao), reverse=True)
    assert len(store.listed("jd", start, clock.at)) == 3
    # [start, end): an order modified at the end second belongs to the next window.
    assert store.listed("taobao", start, start) == []
    assert len(store.listed("taobao", start, start + timedelta(seconds=1))) == 3


def test_due_changes_apply_at_their_time_and_move_modified() -> None:
    clock = FakeClock()
    store = MarketStore(clock)
    mix = Mix(paid_ratio=0.0, unpaid_then_paid_ratio=1.0, closed_ratio=0.0)
    events: list[tuple[str, str]] = []
    store.subscribe(lambda order, event: events.append((order.id, event)))
    ids = store.create("taobao", 4, seed=3, mix=mix, delay_s=10)
    assert store.advance() == 0
    clock.at += timedelta(seconds=11)
    assert store.advance() == 4
    for order_id in ids:
        order = store.get("taobao", order_id)
        assert order.state == State.PAID and order.modified == clock.at
    assert [e for _, e in events] == ["create"] * 4 + ["pay"] * 4


def test_ship_refuses_closed_and_repeats_the_same_tracking() -> None:
    store = MarketStore(FakeClock())
    [paid] = store.create("pdd", 1, seed=1, mix=ALL_PAID)
    [unpaid] = store.create("pdd", 1, seed=2, mix=NONE_PAID)
    store.act("pdd", unpaid, "close")
    assert store.ship("pdd", paid, "T1", "SF", {}).ok
    again = store.ship("pdd", paid, "T1", "SF", {})
    assert again.ok and again.repeated
    assert store.ship("pdd", paid, "T2", "SF", {}).code == "shipped"
    assert store.ship("pdd", unpaid, "T3", "SF", {}).code == "closed"
    assert store.ship("pdd", "nope", "T4", "SF", {}).code == "unknown"
    assert [f["accepted"] for f in store.feedback] == [True, True, False, False, False]


def test_a_token_bucket_allows_the_burst_then_the_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=0.5, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(3)] == [None, None, None]
    wait = bucket.take()
    assert wait == pytest.approx(2.0)
    now[0] += 2.0
    assert bucket.take() is None
    assert bucket.take() == pytest.approx(2.0)


def test_the_gateway_signature_is_hmac_sha256_of_the_sorted_parameters() -> None:
    params = {"method": "m", "app_key": "k", "b": "2", "a": "1", "sign": "ignored"}
    expected = hmac.new(b"s3cret", b"a1app_keykb2methodm", hashlib.sha256).hexdigest().upper()
    assert sign_params(params, "s3cret") == expected


def _target(platform: str, secret: str) -> PushTarget:
    return PushTarget(id="pt", platform=platform, url="http://127.0.0.1:1/", secret=secret)


def test_shopify_and_woocommerce_sign_the_raw_body() -> None:
    body = json.dumps({"id": 1}).encode()
    for platform, header in (
        ("shopify", "X-Shopify-Hmac-Sha256"),
        ("woocommerce", "X-WC-Webhook-Signature"),
    ):
        target = _target(platform, "shpss_abc")
        topic = "orders/create" if platform == "shopify" else "order.created"
        headers = target.headers(Delivery("w1", topic, body, "1"), 1_800_000_000)
        mac = hmac.new(b"shpss_abc", body, hashlib.sha256).digest()
        assert headers[header] == base64.b64encode(mac).decode()
        forged = target.headers(Delivery("w2", topic, body, "1", "bad_signature"), 1_800_000_000)
        assert forged[header] != headers[header]
    shopify = _target("shopify", "x").headers(Delivery("w1", "orders/paid", b"{}", "1"), 0)
    assert shopify["X-Shopify-Webhook-Id"] == "w1"
    assert shopify["X-Shopify-Topic"] == "orders/paid"
    assert shopify["X-Shopify-API-Version"] == "2024-10"


def test_native_webhooks_follow_standard_webhooks() -> None:
    key = b"0123456789abcdef0123456789abcdef"
    secret = "whsec_" + base64.b64encode(key).decode()
    body = b'{"external_id":"x"}'
    headers = _target("native", secret).headers(
        Delivery("msg_1", "order.created", body, "x"), 1_700_000_000
    )
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-timestamp"] == "1700000000"
    mac = hmac.new(key, b"msg_1.1700000000." + body, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(mac).decode()


def test_shopify_sends_create_and_paid_for_an_order_paid_at_once() -> None:
    store = MarketStore(FakeClock())
    [order_id] = store.create("shopify", 1, seed=1, mix=ALL_PAID)
    order = store.get("shopify", order_id)
    assert topics("shopify", order, "create") == ["orders/create", "orders/paid"]
    assert topics("shopify", order, "cancel") == ["orders/cancelled"]
    assert topics("woocommerce", order, "ship") == ["order.updated"]
    assert topics("taobao", order, "create") == []


def test_pull_rules_are_the_platforms_limits() -> None:
    assert RULES["taobao"].max_window_s == 1800 and RULES["taobao"].backwards
    assert RULES["pdd"].min_lag_s == 180 and RULES["pdd"].backwards
    assert RULES["jd"].window_s == 3600 and RULES["jd"].backwards
    assert RULES["amazon"].max_window_s is None and RULES["amazon"].burst == 20
    assert all(rule.page_size == 100 for rule in RULES.values())


def test_the_steady_loop_sells_at_its_rate_over_its_platforms() -> None:
    clock = FakeClock()
    store = MarketStore(clock)
    loop = MarketLoop(store, rate=4.0, platforms=("taobao", "shopify"), delay_s=0.0)
    for _ in range(10):
        loop.step(0.25)  # 2.5 s in all: 10 orders, taken in turn
    assert len(store.orders("taobao")) == 5 and len(store.orders("shopify")) == 5
    quiet = MarketStore(clock)
    MarketLoop(quiet, rate=0.0, platforms=("taobao",)).step(100.0)
    assert quiet.orders("taobao") == []
