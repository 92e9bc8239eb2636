import hashlib
import re

import pytest

from oms.domain.ids import (
    idempotency_key,
    order_id_for,
    order_workflow_id,
    shipment_id_for,
    shipment_workflow_id,
)
from oms.keys import generate_key, hash_key
from oms.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, signed_headers, verify

HEX = re.compile(r"^[0-9a-f]+$")

# --- ids ---------------------------------------------------------------------------------


def test_order_id_is_the_same_for_the_same_channel_and_reference() -> None:
    assert order_id_for("shop", "A-1") == order_id_for("shop", "A-1")


def test_order_id_is_twenty_lowercase_hex_characters() -> None:
    order_id = order_id_for("shop", "A-1")
    assert len(order_id) == 20
    assert HEX.match(order_id)


def test_order_id_differs_by_channel() -> None:
    assert order_id_for("shop", "A-1") != order_id_for("market", "A-1")


def test_order_id_differs_by_external_id() -> None:
    assert order_id_for("shop", "A-1") != order_id_for("shop", "A-2")


def test_the_separator_keeps_shifted_boundaries_apart() -> None:
    assert order_id_for("a", "bc") != order_id_for("ab", "c")
    assert order_id_for("", "abc") != order_id_for("abc", "")


def test_order_id_is_a_prefix_of_the_sha256_of_channel_and_reference() -> None:
    expected = hashlib.sha256(b"shop\x1fA-1").hexdigest()[:20]
    assert order_id_for("shop", "A-1") == expected


def test_workflow_and_derived_ids_have_their_documented_formats() -> None:
    assert order_workflow_id("abc") == "order-abc"
    assert shipment_id_for("abc", 2) == "abc-2"
    assert shipment_workflow_id("abc-2") == "shipment-abc-2"
    assert idempotency_key("abc", "authorize") == "abc-authorize"


def test_shipment_ids_of_one_order_differ_by_number() -> None:
    assert shipment_id_for("abc", 1) != shipment_id_for("abc", 2)


# --- webhook signatures ------------------------------------------------------------------

SECRET = "s3cret"
BODY = b'{"event_id":"e1","type":"shipped"}'
NOW = 1_700_000_000
TOLERANCE = 300


def test_a_signature_is_sha256_prefixed_hex() -> None:
    signature = sign(SECRET, NOW, BODY)
    assert signature.startswith("sha256=")
    digest = signature.removeprefix("sha256=")
    assert len(digest) == 64
    assert HEX.match(digest)


def test_signed_headers_verify_round_trip() -> None:
    headers = signed_headers(SECRET, BODY, now=NOW)
    assert headers[TIMESTAMP_HEADER] == str(NOW)
    assert headers["Content-Type"] == "application/json"
    assert verify(
        SECRET, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], BODY, TOLERANCE, now=NOW
    )


def test_verification_fails_with_the_wrong_secret() -> None:
    signature = sign("other-secret", NOW, BODY)
    assert not verify(SECRET, str(NOW), signature, BODY, TOLERANCE, now=NOW)


def test_verification_fails_for_a_tampered_body() -> None:
    signature = sign(SECRET, NOW, BODY)
    tampered = BODY.replace(b"e1", b"e2")
    assert not verify(SECRET, str(NOW), signature, tampered, TOLERANCE, now=NOW)


def test_verification_fails_when_the_timestamp_is_changed_but_the_signature_kept() -> None:
    signature = sign(SECRET, NOW, BODY)
    assert not verify(SECRET, str(NOW + 1), signature, BODY, TOLERANCE, now=NOW)


@pytest.mark.parametrize("skew", [TOLERANCE + 1, -(TOLERANCE + 1), 86_400])
def test_verification_fails_outside_the_tolerance_window(skew: int) -> None:
    signature = sign(SECRET, NOW, BODY)
    assert not verify(SECRET, str(NOW), signature, BODY, TOLERANCE, now=NOW + skew)


@pytest.mark.parametrize("skew", [TOLERANCE, -TOLERANCE, 0])
def test_verification_succeeds_at_the_edge_of_the_tolerance_window(skew: int) -> None:
    signature = sign(SECRET, NOW, BODY)
    assert verify(SECRET, str(NOW), signature, BODY, TOLERANCE, now=NOW + skew)


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [(None, "sig"), ("", "sig"), (str(NOW), None), (str(NOW), ""), (None, None)],
)
def test_verification_fails_when_a_header_is_missing(
    timestamp: str | None, signature: str | None
) -> None:
    if signature == "sig":
        signature = sign(SECRET, NOW, BODY)
    assert not verify(SECRET, timestamp, signature, BODY, TOLERANCE, now=NOW)


@pytest.mark.parametrize("timestamp", ["abc", "-5", "1.7e9", f"{NOW}.0", f" {NOW}", f"+{NOW}"])
def test_verification_fails_for_a_timestamp_that_is_not_all_digits(timestamp: str) -> None:
    signature = sign(SECRET, NOW, BODY)
    assert not verify(SECRET, timestamp, signature, BODY, TOLERANCE, now=NOW)


@pytest.mark.parametrize("timestamp", ["\u00b9\u00b2\u00b3", "\u00b2"])
def test_verification_returns_false_for_a_latin1_superscript_digit_timestamp(
    timestamp: str,
) -> None:
    # Superscript digits are valid Latin-1 header bytes and pass str.isdigit(),
    # but int() cannot parse them: verify must refuse, not raise.
    signature = sign(SECRET, NOW, BODY)
    assert verify(SECRET, timestamp, signature, BODY, TOLERANCE, now=NOW) is False


@pytest.mark.parametrize("timestamp", ["9" * 400, "1" + "0" * 20, "0" * 13 + "1"])
def test_verification_refuses_a_timestamp_too_long_to_be_one_without_raising(
    timestamp: str,
) -> None:
    signature = sign(SECRET, NOW, BODY)
    assert verify(SECRET, timestamp, signature, BODY, TOLERANCE, now=NOW) is False


def test_verification_returns_false_for_a_non_ascii_signature() -> None:
    # A Latin-1 header value such as "sha256=\u00e9" must be refused, not raise.
    assert verify(SECRET, str(NOW), "sha256=\u00e9", BODY, TOLERANCE, now=NOW) is False


# --- API keys ----------------------------------------------------------------------------


def test_generated_keys_start_with_the_oms_prefix() -> None:
    key = generate_key()
    assert key.startswith("oms_")
    assert len(key) >= 4 + 43  # 32 random bytes, base64url without padding


def test_generated_keys_are_unique() -> None:
    keys = {generate_key() for _ in range(200)}
    assert len(keys) == 200


def test_hash_key_is_64_lowercase_hex_characters() -> None:
    digest = hash_key(generate_key())
    assert len(digest) == 64
    assert HEX.match(digest)


def test_hash_key_is_deterministic_and_is_plain_sha256() -> None:
    assert hash_key("oms_abc") == hash_key("oms_abc")
    assert hash_key("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_hash_key_differs_for_different_keys() -> None:
    assert hash_key("oms_abc") != hash_key("oms_abd")


def test_hash_key_does_not_contain_the_key() -> None:
    key = generate_key()
    assert key not in hash_key(key)
