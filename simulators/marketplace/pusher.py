"""The push platforms' webhooks: every new or changed Shopify, WooCommerce or native order is
POSTed to each push target of its platform, signed as that platform signs.

A target (``POST /sim/market/push-targets``) is a URL (the OMS's
``/v1/channels/{channel}/webhooks``), a secret, and two ratios for testing the receiver:

- ``duplicate_ratio``: the delivery is sent a second time with the same webhook id, as a
  platform does when it never saw our acknowledgement;
- ``bad_signature_ratio``: a forged copy (its own webhook id, a wrong signature) goes out
  before the genuine delivery; the receiver must answer it 401. The genuine one still follows,
  so the order is not lost.

Signatures: Shopify ``X-Shopify-Hmac-Sha256`` and WooCommerce ``X-WC-Webhook-Signature`` are
base64 HMAC-SHA256 of the raw body keyed by the secret; native orders use Standard Webhooks
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">``, keyed by the base64-decoded part of a ``whsec_`` secret, or the
secret's bytes). A 5xx, 408, 429 or no answer is retried with exponential backoff (the same
webhook id and body; Standard Webhooks' timestamp and signature are made again), up to
``OMS_SIM_MARKET_PUSH_RETRIES`` times; any other 4xx is final. Deliveries of a target go out
``OMS_SIM_MARKET_PUSH_CONCURRENCY`` at a time, so two changes of one order may arrive out of
order, as they may from the real platforms: the receiver orders them by ``updated_at``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from oms.logging import get_logger
from simulators.marketplace.generator import Action, MarketOrder
from simulators.marketplace.shapes import render
from simulators.marketplace.store import MarketStore

log = get_logger("sim.market.pusher")
PUSH_PLATFORMS = ("shopify", "woocommerce", "native")
SHOPIFY_API_VERSION = "2024-10"


class TargetError(ValueError):
    """A push target that cannot be used (unknown platform, no URL, a ratio out of range)."""


def hmac_b64(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def standard_key(secret: str) -> bytes:
    """Standard Webhooks: ``whsec_<base64>`` means the decoded bytes; else the text's bytes."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"))
    return secret.encode()


@dataclass
class Delivery:
    webhook_id: str
    topic: str
    body: bytes
    order_id: str
    kind: str = "genuine"  # genuine | duplicate | bad_signature


@dataclass
class PushTarget:
    id: str
    platform: str
    url: str
    secret: str
    duplicate_ratio: float = 0.0
    bad_signature_ratio: float = 0.0
    channel: str = ""
    shop_domain: str = "sim-shop.myshopify.com"
    source: str = "https://sim-woo.example/"
    counts: Counter[str] = field(default_factory=Counter)
    queue: asyncio.Queue[Delivery] = field(default_factory=asyncio.Queue)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "platform": self.platform,
            "url": self.url,
            "channel": self.channel,
            "duplicate_ratio": self.duplicate_ratio,
            "bad_signature_ratio": self.bad_signature_ratio,
            "queued": self.queue.qsize(),
            "counts": dict(self.counts),
        }

    def headers(self, delivery: Delivery, now: float) -> dict[str, str]:
        """The platform's headers for one attempt, signed (or forged, for a bad one)."""
        secret = self.secret
        if delivery.kind == "bad_signature":
            secret = secret + "-forged"
        common = {"Content-Type": "application/json", "User-Agent": f"sim-{self.platform}"}
        if self.platform == "shopify":
            return common | {
                "X-Shopify-Topic": delivery.topic,
                "X-Shopify-Hmac-Sha256": hmac_b64(secret.encode(), delivery.body),
                "X-Shopify-Webhook-Id": delivery.webhook_id,
                "X-Shopify-Shop-Domain": self.shop_domain,
                "X-Shopify-API-Version": SHOPIFY_API_VERSION,
                "X-Shopify-Triggered-At": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            }
        if self.platform == "woocommerce":
            resource, event = delivery.topic.split(".", 1)
            return common | {
                "X-WC-Webhook-Topic": delivery.topic,
                "X-WC-Webhook-Resource": resource,
                "X-WC-Webhook-Event": event,
                "X-WC-Webhook-Signature": hmac_b64(secret.encode(), delivery.body),
                "X-WC-Webhook-ID": "1",
                "X-WC-Webhook-Delivery-ID": delivery.webhook_id,
                "X-WC-Webhook-Source": self.source,
            }
        stamp = str(int(now))
        if delivery.kind == "bad_signature":
            key = b"forged-" + standard_key(self.secret)
        else:
            key = standard_key(self.secret)
        signed = f"{delivery.webhook_id}.{stamp}.".encode() + delivery.body
        return common | {
            "webhook-id": delivery.webhook_id,
            "webhook-timestamp": stamp,
            "webhook-signature": "v1," + hmac_b64(key, signed),
        }


def topics(platform: str, order: MarketOrder, event: str) -> list[str]:
    """The webhook topics a change sends on ``platform`` (none: nothing is pushed)."""
    if platform == "shopify":
        if event == "create":
            return ["orders/create", "orders/paid"] if order.ever_paid else ["orders/create"]
        if event == Action.PAY:
            return ["orders/paid"]
        if event in (Action.CANCEL, Action.CLOSE):
            return ["orders/cancelled"]
        return ["orders/updated"]
    if platform == "woocommerce":
        return ["order.created" if event == "create" else "order.updated"]
    if platform == "native":
        return ["order.created" if event == "create" else "order.updated"]
    return []


class Pusher:
    def __init__(
        self,
        store: MarketStore,
        retries: int = 4,
        backoff_s: float = 1.0,
        timeout_s: float = 5.0,
        concurrency: int = 8,
        seed: int | None = None,
    ) -> None:
        self.store = store
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.concurrency = max(1, concurrency)
        self.targets: dict[str, PushTarget] = {}
        self._rng = random.Random(seed)
        self._http: httpx.AsyncClient | None = None  # made with the first target
        store.subscribe(self.on_change)

    def add_target(self, data: Any) -> PushTarget:
        """A target from ``{platform, url, secret, duplicate_ratio, bad_signature_ratio,
        channel?, shop_domain?}``; its senders start on the running loop."""
        if not isinstance(data, dict):
            raise TargetError("expected an object")
        known = {"platform", "url", "secret", "duplicate_ratio", "bad_signature_ratio"}
        known |= {"channel", "shop_domain"}
        if unknown := set(data) - known:
            raise TargetError(f"unknown fields: {', '.join(sorted(unknown))}")
        platform = data.get("platform")
        if platform not in PUSH_PLATFORMS:
            raise TargetError(f"platform must be one of {', '.join(PUSH_PLATFORMS)}")
        url, secret = data.get("url"), data.get("secret")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise TargetError("url must be an http(s) URL")
        if not isinstance(secret, str) or not secret:
            raise TargetError("secret is required")
        if platform == "native" and secret.startswith("whsec_"):
            try:
                standard_key(secret)
            except ValueError as exc:
                raise TargetError("a whsec_ secret must be base64 after the prefix") from exc
        ratios = {}
        for name in ("duplicate_ratio", "bad_signature_ratio"):
            value = data.get(name, 0.0)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise TargetError(f"{name} must be a number between 0 and 1")
            ratios[name] = float(value)
        target = PushTarget(
            id="pt_" + uuid.uuid4().hex[:12],
            platform=platform,
            url=url,
            secret=secret,
            channel=str(data.get("channel") or platform),
            shop_domain=str(data.get("shop_domain") or "sim-shop.myshopify.com"),
            duplicate_ratio=ratios["duplicate_ratio"],
            bad_signature_ratio=ratios["bad_signature_ratio"],
        )
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.timeout_s)
        http = self._http
        target.tasks = [
            asyncio.create_task(self._sender(target, http)) for _ in range(self.concurrency)
        ]
        self.targets[target.id] = target
        return target

    async def remove_target(self, target_id: str) -> bool:
        target = self.targets.pop(target_id, None)
        if target is None:
            return False
        await _cancel(target.tasks)
        return True

    def on_change(self, order: MarketOrder, event: str) -> None:
        for target in list(self.targets.values()):
            if target.platform != order.platform:
                continue
            body = json.dumps(
                render(order, target.channel), ensure_ascii=False, separators=(",", ":")
            ).encode()
            for topic in topics(target.platform, order, event):
                webhook_id = str(uuid.uuid4())
                if self._roll(target.bad_signature_ratio):
                    target.counts["bad_signatures"] += 1
                    forged = Delivery(str(uuid.uuid4()), topic, body, order.id, "bad_signature")
                    target.queue.put_nowait(forged)
                target.counts["deliveries"] += 1
                target.queue.put_nowait(Delivery(webhook_id, topic, body, order.id))
                if self._roll(target.duplicate_ratio):
                    target.counts["duplicates"] += 1
                    target.queue.put_nowait(
                        Delivery(webhook_id, topic, body, order.id, "duplicate")
                    )

    def _roll(self, ratio: float) -> bool:
        return ratio >= 1 or (ratio > 0 and self._rng.random() < ratio)

    async def _sender(self, target: PushTarget, http: httpx.AsyncClient) -> None:
        while True:
            delivery = await target.queue.get()
            try:
                await self._deliver(target, delivery, http)
            except Exception as exc:  # a sender must outlive any one delivery
                target.counts["errors"] += 1
                log.warning("push_failed", target=target.id, error=repr(exc))
            finally:
                target.queue.task_done()

    async def _deliver(
        self, target: PushTarget, delivery: Delivery, http: httpx.AsyncClient
    ) -> None:
        forged = delivery.kind == "bad_signature"
        for attempt in range(self.retries + 1):
            if attempt:
                target.counts["retries"] += 1
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
            target.counts["attempts"] += 1
            try:
                response = await http.post(
                    target.url,
                    content=delivery.body,
                    headers=target.headers(delivery, time.time()),
                )
            except httpx.HTTPError:
                target.counts["no_answer"] += 1
                continue
            status = response.status_code
            if status >= 500 or status in (408, 429):
                target.counts[f"status_{status}"] += 1
                continue
            target.counts[f"answered_{status}"] += 1  # the final answers, by status
            if forged:
                target.counts[
                    "bad_signatures_rejected" if status == 401 else "bad_signatures_let_in"
                ] += 1
            elif 200 <= status < 300:
                target.counts["acknowledged"] += 1
            else:
                target.counts["refused"] += 1
                target.counts[f"status_{status}"] += 1
            return
        target.counts["gave_up"] += 1

    async def drain(self, timeout_s: float = 10.0) -> bool:
        """Wait until every target's queue is delivered (True) or the time is up."""
        try:
            async with asyncio.timeout(timeout_s):
                for target in list(self.targets.values()):
                    await target.queue.join()
        except TimeoutError:
            return False
        return True

    async def aclose(self) -> None:
        for target in list(self.targets.values()):
            await _cancel(target.tasks)
        self.targets.clear()
        if self._http is not None:
            await self._http.aclose()
            self._http = None


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


class MarketLoop:
    """Applies the changes that fall due, and (``rate`` > 0) makes new orders steadily, as a
    marketplace that keeps selling while ``oms dev`` runs."""

    def __init__(
        self,
        store: MarketStore,
        rate: float = 0.0,
        platforms: tuple[str, ...] = (),
        skus: tuple[str, ...] = (),
        delay_s: float = 5.0,
        interval_s: float = 0.1,
    ) -> None:
        self.store = store
        self.rate = rate
        self.platforms = platforms
        self.skus = skus
        self.delay_s = delay_s
        self.interval_s = interval_s
        self._owed = 0.0
        self._turn = 0

    def step(self, elapsed_s: float) -> None:
        self.store.advance()
        if self.rate <= 0 or not self.platforms:
            return
        self._owed += self.rate * elapsed_s
        while self._owed >= 1:
            self._owed -= 1
            platform = self.platforms[self._turn % len(self.platforms)]
            self._turn += 1
            if self.skus:
                self.store.create(platform, 1, skus=self.skus, delay_s=self.delay_s)
            else:
                self.store.create(platform, 1, delay_s=self.delay_s)

    async def run(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(self.interval_s)
            now = time.monotonic()
            try:
                self.step(now - last)
            except Exception as exc:  # keep the marketplace alive through one bad step
                log.warning("market_step_failed", error=repr(exc))
            last = now
