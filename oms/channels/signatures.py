"""Webhook signatures of the platforms that push orders over HTTP.

* Shopify: ``X-Shopify-Hmac-Sha256`` = base64(HMAC-SHA256(app secret, raw body));
  ``X-Shopify-Webhook-Id`` identifies the delivery (the same on a retry),
  ``X-Shopify-Topic`` says what happened (``orders/create``, ``orders/updated``,
  ``orders/paid``, ``orders/cancelled``).
* WooCommerce: ``X-WC-Webhook-Signature`` = base64(HMAC-SHA256(webhook secret, raw body));
  ``X-WC-Webhook-Delivery-ID`` and ``X-WC-Webhook-Topic`` (``order.created``,
  ``order.updated``).
* native: the Standard Webhooks scheme: ``webhook-id``, ``webhook-timestamp`` (unix
  seconds) and ``webhook-signature`` = ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``
  (several space-separated signatures are allowed, as during a secret's rotation). A
  secret written ``whsec_<base64>`` is the decoded bytes; any other secret is its UTF-8
  bytes. A timestamp more than five minutes from now is refused, so a captured request
  cannot be replayed later.

The MAC is always over the raw body as received, never a re-serialised JSON, and is
compared in constant time. Taobao, JD, PDD and Amazon orders are pulled, never pushed:
asking for their signature is a programming error and raises :class:`NotPushed`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping

from oms.channels.canonical import PULL_PLATFORMS, PUSH_PLATFORMS

SHOPIFY_SIGNATURE = "X-Shopify-Hmac-Sha256"
SHOPIFY_DELIVERY = "X-Shopify-Webhook-Id"
SHOPIFY_TOPIC = "X-Shopify-Topic"
SHOPIFY_TOPICS = ("orders/create", "orders/updated", "orders/paid", "orders/cancelled")

WOO_SIGNATURE = "X-WC-Webhook-Signature"
WOO_DELIVERY = "X-WC-Webhook-Delivery-ID"
WOO_TOPIC = "X-WC-Webhook-Topic"
WOO_TOPICS = ("order.created", "order.updated")

NATIVE_ID = "webhook-id"
NATIVE_TIMESTAMP = "webhook-timestamp"
NATIVE_SIGNATURE = "webhook-signature"
NATIVE_TOLERANCE_S = 300
NATIVE_SECRET_PREFIX = "whsec_"

_DELIVERY = {"shopify": SHOPIFY_DELIVERY, "woocommerce": WOO_DELIVERY, "native": NATIVE_ID}
_TOPIC = {"shopify": SHOPIFY_TOPIC, "woocommerce": WOO_TOPIC}


class NotPushed(ValueError):
    """The platform's orders are pulled: it sends no signed webhooks."""

    def __init__(self, platform: str) -> None:
        super().__init__(
            f"{platform} does not push orders over HTTP (its orders are pulled): "
            f"webhook signatures exist for {', '.join(sorted(PUSH_PLATFORMS))} only"
        )


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever its case (a plain dict is not case-insensitive)."""
    if name in headers:
        return headers[name]
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def _mac_b64(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def native_key(secret: str) -> bytes:
    """The native scheme's key: ``whsec_<base64>`` decoded, else the secret's bytes."""
    if secret.startswith(NATIVE_SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(NATIVE_SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a whsec_ secret must be base64 after its prefix") from None
    return secret.encode()


def verify(
    platform: str,
    raw_body: bytes,
    headers: Mapping[str, str],
    secret: str,
    *,
    now: float | None = None,
) -> bool:
    """Whether ``raw_body`` was signed with ``secret`` as ``platform`` signs webhooks.

    False for a missing or malformed header, a wrong signature, an empty secret, and (for
    native) a timestamp outside the tolerance. Raises :class:`NotPushed` for a pull
    platform and ``ValueError`` for an unknown one.
    """
    _push_platform(platform)
    if not secret:
        return False
    if platform in ("shopify", "woocommerce"):
        name = SHOPIFY_SIGNATURE if platform == "shopify" else WOO_SIGNATURE
        given = header(headers, name)
        if not given:
            return False
        expected = _mac_b64(secret.encode(), raw_body)
        return hmac.compare_digest(expected.encode(), given.strip().encode())
    return _verify_native(raw_body, headers, secret, now)


def _verify_native(
    raw_body: bytes, headers: Mapping[str, str], secret: str, now: float | None
) -> bool:
    msg_id = header(headers, NATIVE_ID)
    stamp = header(headers, NATIVE_TIMESTAMP)
    given = header(headers, NATIVE_SIGNATURE)
    if not msg_id or not stamp or not given:
        return False
    stamp = stamp.strip()
    if not stamp.isdigit() or len(stamp) > 12:
        return False
    current = time.time() if now is None else now
    if abs(current - int(stamp)) > NATIVE_TOLERANCE_S:
        return False
    try:
        key = native_key(secret)
    except ValueError:
        return False
    expected = _mac_b64(key, f"{msg_id}.{stamp}.".encode() + raw_body).encode()
    matched = False
    for candidate in given.split():
        version, _, signature = candidate.partition(",")
        # Every candidate is compared, so the time taken does not tell which one matched.
        if version == "v1" and hmac.compare_digest(expected, signature.encode()):
            matched = True
    return matched


def delivery_id(platform: str, headers: Mapping[str, str]) -> str | None:
    """The delivery's id, the same on every retry of one delivery: the dedupe key.
    None for a pull platform or when the header is absent."""
    name = _DELIVERY.get(platform)
    value = header(headers, name) if name else None
    return (value.strip() or None) if value else None


def topic(platform: str, headers: Mapping[str, str]) -> str | None:
    """What the delivery says happened (Shopify and WooCommerce), else None."""
    name = _TOPIC.get(platform)
    value = header(headers, name) if name else None
    return (value.strip() or None) if value else None


def sign(
    platform: str,
    raw_body: bytes,
    secret: str,
    *,
    topic: str | None = None,
    delivery_id: str | None = None,
    now: float | None = None,
) -> dict[str, str]:
    """The headers ``platform`` would send with ``raw_body``: for the simulators and the
    tests, which must send webhooks exactly as the platforms do. A delivery id is made up
    when none is given; the topic defaults to the platform's order-created topic."""
    _push_platform(platform)
    delivery = delivery_id or str(uuid.uuid4())
    headers = {"Content-Type": "application/json"}
    if platform == "shopify":
        headers[SHOPIFY_SIGNATURE] = _mac_b64(secret.encode(), raw_body)
        headers[SHOPIFY_DELIVERY] = delivery
        headers[SHOPIFY_TOPIC] = topic or SHOPIFY_TOPICS[0]
    elif platform == "woocommerce":
        headers[WOO_SIGNATURE] = _mac_b64(secret.encode(), raw_body)
        headers[WOO_DELIVERY] = delivery
        headers[WOO_TOPIC] = topic or WOO_TOPICS[0]
    else:
        stamp = str(int(time.time() if now is None else now))
        message = f"{delivery}.{stamp}.".encode() + raw_body
        headers[NATIVE_ID] = delivery
        headers[NATIVE_TIMESTAMP] = stamp
        headers[NATIVE_SIGNATURE] = "v1," + _mac_b64(native_key(secret), message)
    return headers


def _push_platform(platform: str) -> None:
    if platform in PUSH_PLATFORMS:
        return
    if platform in PULL_PLATFORMS:
        raise NotPushed(platform)
    raise ValueError(f"unknown platform {platform!r}")
