"""Sealed payloads: round trip, rotation, clear payloads passing through, refusals."""

from __future__ import annotations

import pytest
from temporalio.api.common.v1 import Payload

from oms.codec import ENCODING, EncryptionCodec, PayloadKeyError, new_key_spec, parse_keys

SECRET = b'{"email": "ada@example.com", "token": "tok_ok"}'


def _payload() -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=SECRET)


async def test_a_sealed_payload_shows_nothing_and_opens_to_the_original():
    codec = EncryptionCodec.from_setting(new_key_spec("k1"))
    (sealed,) = await codec.encode([_payload()])
    assert sealed.metadata["encoding"] == ENCODING
    assert b"ada@example.com" not in sealed.SerializeToString()
    (opened,) = await codec.decode([sealed])
    assert opened == _payload()


async def test_after_rotation_old_payloads_still_open_and_new_ones_use_the_new_key():
    old_key = new_key_spec("k1")
    (old_sealed,) = await EncryptionCodec.from_setting(old_key).encode([_payload()])
    rotated = EncryptionCodec.from_setting(f"{new_key_spec('k2')},{old_key}")
    (new_sealed,) = await rotated.encode([_payload()])
    assert new_sealed.metadata["encryption-key-id"] == b"k2"
    assert await rotated.decode([old_sealed, new_sealed]) == [_payload(), _payload()]


async def test_payloads_written_before_encryption_pass_through():
    codec = EncryptionCodec.from_setting(new_key_spec())
    assert await codec.decode([_payload()]) == [_payload()]


async def test_a_payload_sealed_with_an_unlisted_or_wrong_key_is_refused():
    (sealed,) = await EncryptionCodec.from_setting(new_key_spec("k1")).encode([_payload()])
    with pytest.raises(PayloadKeyError, match="not listed"):
        await EncryptionCodec.from_setting(new_key_spec("k9")).decode([sealed])
    with pytest.raises(PayloadKeyError, match="does not open"):
        await EncryptionCodec.from_setting(new_key_spec("k1")).decode([sealed])


@pytest.mark.parametrize(
    "spec",
    ["", "k1", "k1:not-base64!!", "k1:" + "QUFB", f"{new_key_spec('a')},{new_key_spec('a')}"],
)
def test_an_unusable_key_setting_is_refused(spec: str):
    with pytest.raises(PayloadKeyError):
        parse_keys(spec)


def test_production_refuses_to_run_without_payload_keys():
    from pydantic import ValidationError

    from oms.settings import Settings

    secrets = {
        name: "x"
        for name in (
            "payment_gateway_key",
            "wms_api_key",
            "wms_webhook_secret",
            "carrier_webhook_secret",
            "carrier_api_key",
        )
    }
    with pytest.raises(ValidationError, match="OMS_PAYLOAD_KEYS"):
        Settings(env="production", **secrets)
    Settings(env="production", payload_keys=new_key_spec(), **secrets)
