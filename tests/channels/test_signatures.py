"""Webhook signatures: what a platform signs verifies; one flipped byte, another secret,
a missing header or (native) a stale timestamp does not."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from oms.channels import signatures
from oms.channels.signatures import NotPushed, delivery_id, sign, topic, verify

BODY = b'{"id":5940139491234,"total_price":"72.49","note":"caf\xc3\xa9"}'
SECRET = "shpss_0123456789abcdef"
NOW = 1_800_000_000.0
PUSH = ["shopify", "woocommerce", "native"]
SIGNATURE_HEADER = {
    "shopify": "X-Shopify-Hmac-Sha256",
    "woocommerce": "X-WC-Webhook-Signature",
    "native": "webhook-signature",
}


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


@pytest.mark.parametrize("platform", PUSH)
def test_signed_body_verifies(platform: str) -> None:
    headers = sign(platform, BODY, SECRET, now=NOW)
    assert verify(platform, BODY, headers, SECRET, now=NOW)


@pytest.mark.parametrize("platform", PUSH)
@pytest.mark.parametrize("at", [0, len(BODY) // 2, len(BODY) - 1])
def test_one_flipped_byte_fails(platform: str, at: int) -> None:
    headers = sign(platform, BODY, SECRET, now=NOW)
    assert not verify(platform, _flip(BODY, at), headers, SECRET, now=NOW)


@pytest.mark.parametrize("platform", PUSH)
def test_a_flipped_signature_fails(platform: str) -> None:
    headers = sign(platform, BODY, SECRET, now=NOW)
    name = SIGNATURE_HEADER[platform]
    value = headers[name]
    headers[name] = value[:-3] + ("A" if value[-3] != "A" else "B") + value[-2:]
    assert not verify(platform, BODY, headers, SECRET, now=NOW)


@pytest.mark.parametrize("platform", PUSH)
def test_wrong_secret_fails(platform: str) -> None:
    headers = sign(platform, BODY, SECRET, now=NOW)
    assert not verify(platform, BODY, headers, SECRET + "x", now=NOW)
    assert not verify(platform, BODY, headers, "", now=NOW)


@pytest.mark.parametrize("platform", PUSH)
def test_missing_signature_header_fails(platform: str) -> None:
    headers = sign(platform, BODY, SECRET, now=NOW)
    del headers[SIGNATURE_HEADER[platform]]
    assert not verify(platform, BODY, headers, SECRET, now=NOW)
    assert not verify(platform, BODY, {}, SECRET, now=NOW)


@pytest.mark.parametrize("platform", PUSH)
def test_header_names_are_case_insensitive(platform: str) -> None:
    headers = {k.lower(): v for k, v in sign(platform, BODY, SECRET, now=NOW).items()}
    assert verify(platform, BODY, headers, SECRET, now=NOW)
    assert delivery_id(platform, {k.upper(): v for k, v in headers.items()})


def test_shopify_signature_is_base64_hmac_sha256_of_the_raw_body() -> None:
    expected = base64.b64encode(hmac.new(SECRET.encode(), BODY, hashlib.sha256).digest())
    headers = {"X-Shopify-Hmac-Sha256": expected.decode()}
    assert verify("shopify", BODY, headers, SECRET)
    # The same JSON re-serialised is another body.
    assert not verify("shopify", BODY.replace(b",", b", "), headers, SECRET)
    # A WooCommerce header is not a Shopify one.
    assert not verify("shopify", BODY, {"X-WC-Webhook-Signature": expected.decode()}, SECRET)


def test_woocommerce_signature_is_base64_hmac_sha256_of_the_raw_body() -> None:
    expected = base64.b64encode(hmac.new(b"wc-secret", BODY, hashlib.sha256).digest()).decode()
    assert verify("woocommerce", BODY, {"X-WC-Webhook-Signature": expected}, "wc-secret")


def test_native_follows_standard_webhooks_with_a_whsec_secret() -> None:
    key = b"\x01\x02native-signing-key\xff"
    secret = "whsec_" + base64.b64encode(key).decode()
    message = b"msg_2Lh9.1800000000." + BODY
    mac = base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()
    headers = {
        "webhook-id": "msg_2Lh9",
        "webhook-timestamp": "1800000000",
        "webhook-signature": f"v0,bogus v1,{mac}",
    }
    assert verify("native", BODY, headers, secret, now=NOW)
    # The whsec_ secret's text is not its key.
    assert not verify("native", BODY, headers, secret[6:], now=NOW)
    assert not verify("native", BODY, {**headers, "webhook-id": "msg_other"}, secret, now=NOW)
    assert not verify(
        "native", BODY, {**headers, "webhook-signature": f"v2,{mac}"}, secret, now=NOW
    )


def test_native_plain_secret_is_its_utf8_bytes() -> None:
    headers = sign("native", BODY, "plain secret", now=NOW, delivery_id="evt_1")
    mac = hmac.new(b"plain secret", b"evt_1.1800000000." + BODY, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(mac).decode()


@pytest.mark.parametrize(
    ("offset", "ok"), [(0, True), (-300, True), (300, True), (-301, False), (301, False)]
)
def test_native_timestamp_tolerance_is_five_minutes(offset: int, ok: bool) -> None:
    headers = sign("native", BODY, SECRET, now=NOW)
    assert verify("native", BODY, headers, SECRET, now=NOW + offset) is ok


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_native_needs_all_three_headers(missing: str) -> None:
    headers = sign("native", BODY, SECRET, now=NOW)
    del headers[missing]
    assert not verify("native", BODY, headers, SECRET, now=NOW)


@pytest.mark.parametrize("stamp", ["", "soon", "-5", "1.8e9", "99999999999999"])
def test_native_malformed_timestamp_fails(stamp: str) -> None:
    headers = sign("native", BODY, SECRET, now=NOW)
    headers["webhook-timestamp"] = stamp
    assert not verify("native", BODY, headers, SECRET, now=NOW)


def test_native_bad_whsec_secret_fails_closed() -> None:
    headers = sign("native", BODY, "whsec_" + base64.b64encode(b"k").decode(), now=NOW)
    assert not verify("native", BODY, headers, "whsec_not base64!", now=NOW)


def test_delivery_ids_and_topics() -> None:
    shopify = sign("shopify", BODY, SECRET, topic="orders/paid", delivery_id="b54557e4")
    assert delivery_id("shopify", shopify) == "b54557e4"
    assert topic("shopify", shopify) == "orders/paid"
    woo = sign("woocommerce", BODY, SECRET)
    assert topic("woocommerce", woo) == "order.created"
    assert delivery_id("woocommerce", woo) == woo["X-WC-Webhook-Delivery-ID"]
    native = sign("native", BODY, SECRET, delivery_id="msg_1")
    assert delivery_id("native", native) == "msg_1"
    assert topic("native", native) is None
    assert delivery_id("shopify", {}) is None
    assert delivery_id("shopify", {"X-Shopify-Webhook-Id": "  "}) is None
    assert delivery_id("taobao", shopify) is None
    # Two deliveries signed without an id get different ones.
    assert delivery_id("shopify", sign("shopify", BODY, SECRET)) != delivery_id(
        "shopify", sign("shopify", BODY, SECRET)
    )
    assert signatures.SHOPIFY_TOPICS == (
        "orders/create",
        "orders/updated",
        "orders/paid",
        "orders/cancelled",
    )


@pytest.mark.parametrize("platform", ["taobao", "jd", "pdd", "amazon"])
def test_pull_platforms_have_no_webhook_signature(platform: str) -> None:
    with pytest.raises(NotPushed, match="pulled"):
        verify(platform, BODY, {}, SECRET)
    with pytest.raises(NotPushed):
        sign(platform, BODY, SECRET)


def test_unknown_platform_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown platform"):
        verify("ebay", BODY, {}, SECRET)
