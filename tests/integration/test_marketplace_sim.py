"""The marketplace simulator over real HTTP on 127.0.0.1, read and written by the OMS's own
platform clients (``oms.adapters.marketplace``): the platforms' window, lag, paging and rate
rules, the ship calls and what they record, faults, and the webhooks the pusher sends,
checked by a receiver that computes every signature itself.

Each test serves a marketplace of its own (``simulators.marketplace.market_app``, with its
background loop) on a free port, so rate buckets, clocks and outages never leak between
tests; the last test checks that the shared session simulator serves the marketplace too.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from devtools.ports import free_port
from oms.adapters.marketplace import (
    MarketplaceClient,
    PlatformRefused,
    PlatformUnavailable,
    client_for,
)
from oms.settings import Settings
from simulators.marketplace import market_app
from simulators.marketplace.common import Market
from simulators.marketplace.generator import Mix
from tests.conftest import ADMIN_KEY, System

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
KEY, SECRET = "test-app-key", "test-app-secret"
ALL_PAID = {"paid_ratio": 1.0, "unpaid_then_paid_ratio": 0.0, "closed_ratio": 0.0}


def market_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "admin_api_key": ADMIN_KEY,
        "sim_market_app_key": KEY,
        "sim_market_app_secret": SECRET,
        "sim_market_pdd_lag_s": 2.0,
        "sim_market_amazon_lag_s": 2.0,
        "sim_market_amazon_rate": 1.0,
        "sim_market_amazon_burst": 8,
        "sim_market_lifecycle_s": 0.2,
        "sim_market_push_backoff_s": 0.05,
        "sim_market_push_retries": 3,
        "sim_market_push_timeout_s": 2.0,
        "log_format": "json",
        "log_level": "warning",
    }
    return Settings(**(values | overrides))


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


class Sim:
    def __init__(self, app: FastAPI, url: str, http: httpx.AsyncClient) -> None:
        self.app, self.url, self.http = app, url, http
        self.market: Market = app.state.market

    def client(self, platform: str, **credentials: Any) -> MarketplaceClient:
        creds = {"base_url": f"{self.url}/{platform}", "app_key": KEY, "app_secret": SECRET}
        return client_for(platform, creds | credentials, timeout=5)

    def at(self, seconds_ago: float) -> None:
        """Put the platform clock ``seconds_ago`` in the past (0: now)."""
        self.market.store.clock.offset_s = -seconds_ago

    def create(self, platform: str, count: int, seed: int, **mix: float) -> list[str]:
        ratios = ALL_PAID | mix
        return self.market.store.create(platform, count, seed=seed, mix=Mix(**ratios))


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    app = market_app(market_settings())
    async with serving(app) as url, httpx.AsyncClient(base_url=url, headers=ADMIN) as http:
        yield Sim(app, url, http)


async def read_window(
    client: MarketplaceClient, start: datetime, end: datetime
) -> tuple[list[dict[str, Any]], list[str | None]]:
    orders: list[dict[str, Any]] = []
    pages: list[str | None] = []
    page: str | None = None
    while True:
        pulled = await client.changed(start, end, page)
        pages.append(page)
        orders += pulled.orders
        if pulled.next is None:
            return orders, pages
        page = pulled.next


def whole_seconds(value: datetime) -> datetime:
    return value.replace(microsecond=0)


# --- Taobao --------------------------------------------------------------------------------


async def test_taobao_read_backwards_sees_every_trade_once_while_trades_change(sim: Sim) -> None:
    now = whole_seconds(datetime.now(UTC))
    ids: list[str] = []
    for n, ago in enumerate((600, 590, 580)):  # three batches, ten seconds apart
        sim.at(ago)
        ids += sim.create("taobao", 100 if ago > 580 else 50, seed=n)
    sim.at(0)
    start, end = now - timedelta(seconds=700), now - timedelta(seconds=60)
    client = sim.client("taobao")
    try:
        first = await client.changed(start, end, None)
        assert first.total == 250 and first.next == "3" and len(first.orders) == 100
        seen = [str(t["tid"]) for t in first.orders]
        third = await client.changed(start, end, "3")  # the oldest 50
        seen += [str(t["tid"]) for t in third.orders]
        assert third.next == "2"
        # Buyers act on five trades already read and five not read yet (page 2): each moves
        # to "now", out of the window, and every older trade moves up a place.
        read_old = [str(t["tid"]) for t in third.orders[:5]]
        page_two = [i for i in ids[100:200] if i not in seen][:5]
        for tid in read_old + page_two:
            sim.market.store.act("taobao", tid, "refund")
        rest, _ = await read_window_from(client, start, end, third.next)
        seen += [str(t["tid"]) for t in rest]
    finally:
        await client.aclose()
    assert len(seen) == len(set(seen)), "a trade was returned twice in one window"
    changed = set(read_old + page_two)
    assert set(ids) - changed <= set(seen), "an unchanged trade was missed"
    # The changed trades are in the next window, with their new status.
    later_client = sim.client("taobao")
    try:
        later, _ = await read_window(
            later_client, end, whole_seconds(datetime.now(UTC)) + timedelta(seconds=2)
        )
    finally:
        await later_client.aclose()
    assert changed <= {str(t["tid"]) for t in later}
    assert all(
        t["orders"]["order"][0]["refund_status"] == "WAIT_SELLER_AGREE"
        for t in later
        if str(t["tid"]) in changed
    )


async def test_a_forward_read_of_the_same_window_would_miss_trades(sim: Sim) -> None:
    """Why Taobao is read backwards: read forwards, a trade that changes after its page was
    read leaves the window and pulls every older trade up a place, one of them onto the page
    already read."""
    now = whole_seconds(datetime.now(UTC))
    sim.at(600)
    ids = sim.create("taobao", 150, seed=21)
    sim.at(0)
    start, end = now - timedelta(seconds=700), now - timedelta(seconds=60)
    client = sim.client("taobao")
    try:
        first = await client.changed(start, end, None)
        seen = {str(t["tid"]) for t in first.orders}
        # Five trades of page 1 change after it was read: the first five of page 2 move up
        # onto page 1.
        changed = [str(t["tid"]) for t in first.orders[:5]]
        for tid in changed:
            sim.market.store.act("taobao", tid, "refund")
        second = await client.changed(start, end, "2")
        seen |= {str(t["tid"]) for t in second.orders}
    finally:
        await client.aclose()
    missed = set(ids) - seen
    assert len(missed) == 5 and not missed & set(changed)


async def read_window_from(
    client: MarketplaceClient, start: datetime, end: datetime, page: str | None
) -> tuple[list[dict[str, Any]], list[str | None]]:
    orders: list[dict[str, Any]] = []
    pages: list[str | None] = []
    while page is not None:
        pulled = await client.changed(start, end, page)
        pages.append(page)
        orders += pulled.orders
        page = pulled.next
    return orders, pages


async def test_taobao_refuses_a_long_window_and_a_bad_signature(sim: Sim) -> None:
    start = whole_seconds(datetime.now(UTC)) - timedelta(hours=1)
    client = sim.client("taobao")
    forger = sim.client("taobao", app_secret="not-the-secret")
    try:
        with pytest.raises(PlatformRefused) as long_window:
            await client.changed(start, start + timedelta(minutes=31), None)
        assert long_window.value.code == "isv.invalid-parameter"
        with pytest.raises(PlatformRefused) as backwards:
            await client.changed(start, start, None)
        assert backwards.value.code == "isv.invalid-parameter"
        with pytest.raises(PlatformRefused) as forged:
            await forger.changed(start, start + timedelta(minutes=30), None)
        assert forged.value.code == "isv.invalid-signature"
        empty = await client.changed(start, start + timedelta(minutes=30), None)
        assert empty.orders == [] and empty.total == 0 and empty.next is None
    finally:
        await client.aclose()
        await forger.aclose()


async def test_taobao_ship_is_recorded_and_a_closed_trade_refused(sim: Sim) -> None:
    open_tid, closed_tid = sim.create("taobao", 2, seed=11)
    sim.market.store.act("taobao", closed_tid, "cancel")
    client = sim.client("taobao")
    try:
        answer = await client.ship({"tid": open_tid, "out_sid": "SF100", "company_code": "SF"})
        assert answer["logistics_offline_send_response"]["shipping"]["is_success"] is True
        # The same shipment again (an answer lost on the way) is answered the same.
        await client.ship({"tid": open_tid, "out_sid": "SF100", "company_code": "SF"})
        with pytest.raises(PlatformRefused) as closed:
            await client.ship({"tid": closed_tid, "out_sid": "SF101", "company_code": "SF"})
        assert closed.value.code == "isv.logistics-offline-service-error:closed"
    finally:
        await client.aclose()
    # taobao.trade.fullinfo.get, signed by hand here: the trade now shows its consignment.
    params = {"method": "taobao.trade.fullinfo.get", "app_key": KEY, "tid": open_tid}
    digest = hmac.new(
        SECRET.encode(), "".join(k + params[k] for k in sorted(params)).encode(), hashlib.sha256
    )
    params["sign"] = digest.hexdigest().upper()
    full = (await sim.http.post("/taobao/router/rest", data=params)).json()
    trade = full["trade_fullinfo_get_response"]["trade"]
    assert trade["status"] == "WAIT_BUYER_CONFIRM_GOODS" and "consign_time" in trade
    params["tid"] = "1"  # the signature no longer matches
    forged = (await sim.http.post("/taobao/router/rest", data=params)).json()
    assert forged["error_response"]["sub_code"] == "isv.invalid-signature"
    feedback = (await sim.http.get("/sim/market/feedback")).json()["feedback"]
    assert [(f["order_id"], f["accepted"]) for f in feedback] == [
        (open_tid, True),
        (open_tid, True),
        (closed_tid, False),
    ]
    assert feedback[0]["request"] == {"tid": open_tid, "out_sid": "SF100", "company_code": "SF"}
    listed = (await sim.http.get("/sim/market/orders/taobao", params={"state": "shipped"})).json()
    assert [o["native"]["status"] for o in listed["orders"]] == ["WAIT_BUYER_CONFIRM_GOODS"]


async def test_the_platform_clock_moves_with_its_offset(sim: Sim) -> None:
    client = sim.client("taobao")
    try:
        answer = await sim.http.post("/sim/market/clock", json={"offset_s": 3600})
        assert answer.status_code == 200
        ahead = await client.now()
        assert abs((ahead - datetime.now(UTC)).total_seconds() - 3600) < 3
        await sim.http.post("/sim/market/clock", json={"offset_s": 0})
        assert abs((await client.now() - datetime.now(UTC)).total_seconds()) < 3
    finally:
        await client.aclose()


async def test_a_platform_taken_down_answers_503_with_retry_after(sim: Sim) -> None:
    client = sim.client("taobao")
    start = whole_seconds(datetime.now(UTC)) - timedelta(minutes=40)
    try:
        down = await sim.http.post("/sim/market/taobao/down", json={"seconds": 30})
        assert down.status_code == 200
        with pytest.raises(PlatformUnavailable) as unavailable:
            await client.changed(start, start + timedelta(minutes=5), None)
        assert unavailable.value.retry_after is not None and unavailable.value.retry_after >= 25
        with pytest.raises(PlatformUnavailable):
            await client.ship({"tid": "1", "out_sid": "x", "company_code": "SF"})
        await sim.http.post("/sim/market/taobao/down", json={"seconds": 0})
        assert (await client.changed(start, start + timedelta(minutes=5), None)).total == 0
        bad = await sim.http.post("/sim/market/taobao/down", json={"seconds": -1})
        assert bad.status_code == 422
    finally:
        await client.aclose()


# --- PDD and JD ----------------------------------------------------------------------------


async def test_pdd_refuses_a_window_inside_its_lag_and_pages_back(sim: Sim) -> None:
    sim.at(120)
    ids = sim.create("pdd", 150, seed=5)
    sim.create("pdd", 10, seed=6, paid_ratio=0.0)  # unpaid: PDD does not list them
    sim.at(0)
    now = whole_seconds(datetime.now(UTC))
    client = sim.client("pdd")
    try:
        with pytest.raises(PlatformRefused) as too_recent:
            await client.changed(now - timedelta(minutes=10), now, None)
        assert too_recent.value.code == "invalid_parameter"
        with pytest.raises(PlatformRefused):
            await client.changed(now - timedelta(minutes=40), now - timedelta(seconds=5), None)
        orders, pages = await read_window(
            client, now - timedelta(minutes=25), now - timedelta(seconds=5)
        )
        assert pages == [None, "2", "1"]
        assert sorted(o["order_sn"] for o in orders) == sorted(ids)
        assert (await client.now()).tzinfo is not None
        answer = await client.ship(
            {"order_sn": ids[0], "logistics_id": 44, "tracking_number": "YT123"}
        )
        assert answer["logistics_online_send_response"]["is_success"] is True
    finally:
        await client.aclose()


async def test_jd_reads_backwards_and_refuses_to_ship_a_locked_order(sim: Sim) -> None:
    sim.at(60)
    ids = sim.create("jd", 130, seed=8)
    sim.create("jd", 10, seed=9, paid_ratio=0.0)
    sim.at(0)
    locked = ids[0]
    sim.market.store.act("jd", locked, "refund")
    now = whole_seconds(datetime.now(UTC))
    client = sim.client("jd")
    try:
        orders, pages = await read_window(
            client, now - timedelta(hours=1), now + timedelta(seconds=2)
        )
        # Page 1 for the total, then the last page back to the first (pull_rules: JD too).
        assert pages == [None, "2", "1"]
        assert sorted(o["orderId"] for o in orders) == sorted(ids)
        assert {o["orderState"] for o in orders if o["orderId"] == locked} == {"LOCKED"}
        with pytest.raises(PlatformRefused) as refused:
            await client.ship({"orderId": locked, "logiCoprId": "467", "logiNo": "JD01"})
        assert refused.value.code == "refund_requested"
        await client.ship({"orderId": ids[1], "logiCoprId": "467", "logiNo": "JD02"})
        # JD's clock is read from the Date header its servers send.
        assert abs((await client.now() - datetime.now(UTC)).total_seconds()) < 3
        with pytest.raises(PlatformRefused):
            await client.changed(now - timedelta(days=31), now, None)
    finally:
        await client.aclose()


# --- Amazon --------------------------------------------------------------------------------


async def test_amazon_follows_next_token_and_honours_its_rate_limit(sim: Sim) -> None:
    sim.at(30)
    ids = sim.create("amazon", 230, seed=3)
    sim.at(0)
    now = whole_seconds(datetime.now(UTC))
    client = sim.client("amazon")
    try:
        with pytest.raises(PlatformRefused) as too_recent:
            await client.changed(now - timedelta(minutes=5), now + timedelta(seconds=1), None)
        assert too_recent.value.code == "InvalidInput"
        start, end = now - timedelta(minutes=5), now - timedelta(seconds=5)
        first = await client.changed(start, end, None)
        assert len(first.orders) == 100 and first.next
        # An order of the first page changes while the rest is read: the cursor still
        # reads every other order exactly once.
        sim.market.store.act("amazon", first.orders[0]["AmazonOrderId"], "cancel")
        rest, _ = await read_window_from(client, start, end, first.next)
        seen = [o["AmazonOrderId"] for o in first.orders + rest]
        assert sorted(seen) == sorted(ids)
        item = first.orders[1]["OrderItems"][0]
        assert {"SellerSKU", "QuantityOrdered", "ItemPrice"} <= set(item)
        # Burst of 8 a test, 1 a second: a quick run of calls empties the bucket.
        with pytest.raises(PlatformUnavailable) as limited:
            for _ in range(10):
                await client.changed(start, end, None)
        assert limited.value.retry_after is not None and 0 < limited.value.retry_after <= 1.5
        await asyncio.sleep(limited.value.retry_after)
        assert (await client.changed(start, end, None)).orders
    finally:
        await client.aclose()


async def test_amazon_confirms_a_shipment_and_refuses_a_canceled_order(sim: Sim) -> None:
    shipped, canceled = sim.create("amazon", 2, seed=4)
    sim.market.store.act("amazon", canceled, "cancel")
    client = sim.client("amazon")
    package = {
        "packageReferenceId": "1",
        "carrierCode": "UPS",
        "trackingNumber": "1Z999",
        "orderItems": [],
    }
    try:
        answer = await client.ship(
            {"amazon_order_id": shipped, "marketplaceId": "ATVPDKIKX0DER", "packageDetail": package}
        )
        assert answer == {"status": 204}
        with pytest.raises(PlatformRefused) as refused:
            await client.ship(
                {
                    "amazon_order_id": canceled,
                    "marketplaceId": "ATVPDKIKX0DER",
                    "packageDetail": package,
                }
            )
        assert refused.value.code == "InvalidInput"
    finally:
        await client.aclose()
    order = sim.market.store.get("amazon", shipped)
    assert order.state == "shipped" and order.shipments[0]["tracking"] == "1Z999"


# --- admin ---------------------------------------------------------------------------------


async def test_orders_made_over_http_live_their_lifecycle(sim: Sim) -> None:
    made = await sim.http.post(
        "/sim/market/orders",
        json={
            "platform": "taobao",
            "count": 6,
            "seed": 42,
            "paid_ratio": 0.0,
            "unpaid_then_paid_ratio": 1.0,
            "closed_ratio": 0.0,
            "skus": ["OWN-1", "OWN-2"],
            "delay_s": 0.2,
        },
    )
    assert made.status_code == 201
    ids = made.json()["ids"]
    unpaid = (await sim.http.get("/sim/market/orders/taobao", params={"state": "unpaid"})).json()
    assert {o["id"] for o in unpaid["orders"]} == set(ids)
    assert all(
        line["outer_sku_id"] in ("OWN-1", "OWN-2")
        for o in unpaid["orders"]
        for line in o["native"]["orders"]["order"]
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        paid = (await sim.http.get("/sim/market/orders/taobao", params={"state": "paid"})).json()
        if len(paid["orders"]) == 6:
            break
        await asyncio.sleep(0.05)
    assert {o["native"]["status"] for o in paid["orders"]} == {"WAIT_SELLER_SEND_GOODS"}
    closed = await sim.http.post(f"/sim/market/orders/taobao/{ids[0]}/close")
    assert closed.json()["native"]["status"] == "TRADE_CLOSED"
    again = await sim.http.post(f"/sim/market/orders/taobao/{ids[0]}/pay")
    assert again.status_code == 409
    for bad in (
        {"platform": "ebay", "count": 1},
        {"platform": "taobao", "count": 0},
        {"platform": "taobao", "count": 1, "paid_ratio": 0.9, "closed_ratio": 0.5},
        {"platform": "taobao", "count": 1, "skus": []},
        {"platform": "taobao", "count": 1, "colour": "red"},
    ):
        answer = await sim.http.post("/sim/market/orders", json=bad)
        assert answer.status_code == 422, bad
    before = sum(len(b) for b in sim.market.store._orders.values())
    assert before == 6
    stats = (await sim.http.get("/sim/market/stats")).json()
    assert stats["orders"]["taobao"] == {"paid": 5, "closed": 1}
    assert (
        await sim.http.get("/sim/market/stats", headers={"Authorization": ""})
    ).status_code == 401


# --- webhooks ------------------------------------------------------------------------------


class Receiver:
    """An OMS stand-in that checks every signature itself, answers 401 to a bad one, and
    fails the first attempt of every WooCommerce delivery with 503."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets
        self.received: list[dict[str, Any]] = []
        self.failed_once: set[str] = set()
        self.app = FastAPI()
        self.app.post("/v1/channels/{channel}/webhooks")(self.webhook)

    def valid(self, channel: str, headers: Any, body: bytes) -> bool:
        secret = self.secrets[channel]
        if "x-shopify-hmac-sha256" in headers:
            mac = hmac.new(secret.encode(), body, hashlib.sha256).digest()
            return hmac.compare_digest(
                base64.b64encode(mac).decode(), headers["x-shopify-hmac-sha256"]
            )
        if "x-wc-webhook-signature" in headers:
            mac = hmac.new(secret.encode(), body, hashlib.sha256).digest()
            return hmac.compare_digest(
                base64.b64encode(mac).decode(), headers["x-wc-webhook-signature"]
            )
        key = base64.b64decode(secret.removeprefix("whsec_"))
        signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
        mac = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        return any(
            hmac.compare_digest("v1," + mac, s) for s in headers["webhook-signature"].split(" ")
        )

    async def webhook(self, channel: str, request: Request) -> JSONResponse:
        body = await request.body()
        headers = request.headers
        ok = self.valid(channel, headers, body)
        delivery = (
            headers.get("x-shopify-webhook-id")
            or headers.get("x-wc-webhook-delivery-id")
            or headers.get("webhook-id")
        )
        self.received.append(
            {
                "channel": channel,
                "id": delivery,
                "ok": ok,
                "body": json.loads(body),
                "headers": dict(headers),
            }
        )
        if not ok:
            return JSONResponse({"detail": "bad signature"}, status_code=401)
        if channel == "woo" and delivery not in self.failed_once:
            self.failed_once.add(str(delivery))
            return JSONResponse({"detail": "try again"}, status_code=503)
        return JSONResponse({"ok": True})


async def test_webhooks_are_signed_retried_duplicated_and_forged_as_asked(sim: Sim) -> None:
    native_secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    receiver = Receiver({"shop": "shpss_test", "woo": "woo-secret", "own": native_secret})
    async with serving(receiver.app) as oms:
        targets = [
            {
                "platform": "shopify",
                "url": f"{oms}/v1/channels/shop/webhooks",
                "secret": "shpss_test",
                "duplicate_ratio": 1.0,
                "bad_signature_ratio": 1.0,
            },
            {
                "platform": "woocommerce",
                "url": f"{oms}/v1/channels/woo/webhooks",
                "secret": "woo-secret",
            },
            {
                "platform": "native",
                "url": f"{oms}/v1/channels/own/webhooks",
                "secret": native_secret,
                "channel": "own",
            },
        ]
        made = []
        for target in targets:
            answer = await sim.http.post("/sim/market/push-targets", json=target)
            assert answer.status_code == 201
            made.append(answer.json()["id"])
        bad = await sim.http.post(
            "/sim/market/push-targets", json={"platform": "taobao", "url": oms, "secret": "x"}
        )
        assert bad.status_code == 422
        shop_ids = sim.create("shopify", 3, seed=1)
        woo_ids = sim.create("woocommerce", 2, seed=2)
        own_ids = sim.create("native", 2, seed=3)
        assert await sim.app.state.market_pusher.drain(10)
        stats = {
            t["platform"]: t["counts"]
            for t in (await sim.http.get("/sim/market/push-targets")).json()["targets"]
        }
        # Shopify: orders/create and orders/paid for each of three paid orders, each sent twice
        # under one id, each preceded by a forged copy that got 401.
        shopify = [r for r in receiver.received if r["channel"] == "shop"]
        genuine = [r for r in shopify if r["ok"]]
        assert len(genuine) == 12 and len({r["id"] for r in genuine}) == 6
        assert (
            sorted(r["headers"]["x-shopify-topic"] for r in genuine)
            == ["orders/create"] * 6 + ["orders/paid"] * 6
        )
        assert {r["body"]["id"] for r in genuine} == {int(i) for i in shop_ids}
        assert sum(not r["ok"] for r in shopify) == 6
        assert (
            stats["shopify"]["bad_signatures"] == 6 == stats["shopify"]["bad_signatures_rejected"]
        )
        assert stats["shopify"]["acknowledged"] == 12
        assert all(
            r["headers"]["x-shopify-shop-domain"] == "sim-shop.myshopify.com" for r in genuine
        )
        # WooCommerce: every delivery failed once with 503 and came again with its id.
        woo = [r for r in receiver.received if r["channel"] == "woo"]
        assert len(woo) == 4 and all(r["ok"] for r in woo)
        assert {r["body"]["id"] for r in woo} == {int(i) for i in woo_ids}
        assert stats["woocommerce"]["retries"] == 2 and stats["woocommerce"]["acknowledged"] == 2
        # Native: Standard Webhooks, the channel named in the body.
        own = [r for r in receiver.received if r["channel"] == "own"]
        assert len(own) == 2 and all(r["ok"] for r in own)
        assert {r["body"]["external_id"] for r in own} == set(own_ids)
        assert {r["body"]["channel"] for r in own} == {"own"}
        # A shipment through the Shopify client is recorded and pushed as orders/updated.
        client = sim.client("shopify", access_token="shpat")
        try:
            answer = await client.ship(
                {
                    "order_id": shop_ids[0],
                    "fulfillment": {"tracking_info": {"number": "TRK1", "company": "UPS"}},
                }
            )
        finally:
            await client.aclose()
        assert answer["fulfillment"]["tracking_number"] == "TRK1"
        assert await sim.app.state.market_pusher.drain(10)
        updated = [
            r
            for r in receiver.received
            if r["ok"] and r["headers"].get("x-shopify-topic") == "orders/updated"
        ]
        assert updated and updated[0]["body"]["fulfillment_status"] == "fulfilled"
        for target_id in made:
            assert (
                await sim.http.delete(f"/sim/market/push-targets/{target_id}")
            ).status_code == 200


async def test_woocommerce_completion_is_recorded_and_a_cancelled_order_refused(sim: Sim) -> None:
    done, cancelled = sim.create("woocommerce", 2, seed=5)
    sim.market.store.act("woocommerce", cancelled, "cancel")
    client = sim.client("woocommerce")
    meta = [
        {"key": "_tracking_number", "value": "DHL1"},
        {"key": "_tracking_provider", "value": "DHL"},
    ]
    try:
        answer = await client.ship({"order_id": done, "status": "completed", "meta_data": meta})
        assert answer["status"] == "completed"
        with pytest.raises(PlatformRefused) as refused:
            await client.ship({"order_id": cancelled, "status": "completed", "meta_data": meta})
        assert refused.value.code == "woocommerce_rest_closed"
        with pytest.raises(PlatformRefused):
            await client.changed(datetime.now(UTC), datetime.now(UTC), None)
    finally:
        await client.aclose()


async def test_the_session_simulator_serves_the_marketplace(system: System) -> None:
    url = f"http://127.0.0.1:{system.settings.sim_port}"
    async with httpx.AsyncClient(base_url=url, headers=ADMIN) as http:
        answer = await http.get("/sim/market/stats")
        assert answer.status_code == 200
        assert {"orders", "events", "push_targets"} <= set(answer.json())


@pytest.mark.parametrize("platform", ["shopify", "woocommerce", "taobao", "jd", "pdd", "amazon"])
async def test_each_adapters_ship_request_is_what_its_client_sends_and_the_platform_takes(
    sim: Sim, platform: str
) -> None:
    """The two halves of the report back to a platform meet: the adapter's request (pure)
    through the platform's client (HTTP) is accepted and recorded by the platform."""
    from oms.channels.canonical import ShippedLine
    from oms.channels.registry import adapter

    [external_id] = sim.create(platform, 1, seed=11)
    credentials = {"marketplace_id": "ATVPDKIKX0DER"}
    request = adapter(platform).ship_request(
        external_id, "TRK-77", "SF", [ShippedLine("SKU-0001", 1)], credentials=credentials
    )
    client = sim.client(platform, **credentials)
    try:
        await client.ship(request)
    finally:
        await client.aclose()
    feedback = (await sim.http.get("/sim/market/feedback")).json()["feedback"]
    mine = [f for f in feedback if str(f["order_id"]) == str(external_id)]
    assert mine and mine[-1]["accepted"] is True
