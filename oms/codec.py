"""Encrypted workflow payloads: customers' names, emails, addresses and payment tokens never
lie in clear in Temporal's history (its database files, its backups, the Web UI without the
key).

Every payload a client or worker sends is sealed with AES-256-GCM under the active key and
tagged with that key's id; any key still listed opens what it sealed, so keys can rotate
(put the new key first, keep the old ones while histories they sealed are kept). Payloads
that were never sealed (histories older than encryption) pass through unchanged.

Keys come from ``OMS_PAYLOAD_KEYS``: ``id:key[,id:key...]``, each key 32 bytes in
URL-safe base64, the first one active. Make one with ``oms keys payload``.

Usage::

    codec = EncryptionCodec.from_setting("k2:...,k1:...")
    converter = dataclasses.replace(DataConverter.default, payload_codec=codec)
"""

from __future__ import annotations

import base64
import dataclasses
import os
import secrets
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
_NONCE = 12


class PayloadKeyError(ValueError):
    """A key setting that cannot be used, or a payload sealed with a key not listed."""


def new_key_spec(key_id: str = "k1") -> str:
    """A fresh ``id:key`` entry for ``OMS_PAYLOAD_KEYS``."""
    return f"{key_id}:{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}"


def key_spec_use(spec: str) -> str:
    """Where a new ``OMS_PAYLOAD_KEYS`` entry goes, for ``oms keys payload`` to say."""
    key_id = spec.partition(":")[0]
    return (
        f"That is payload key {key_id!r}, an entry of OMS_PAYLOAD_KEYS; not an API key,\n"
        "so no request header carries it. Give the same OMS_PAYLOAD_KEYS to every process\n"
        "that talks to Temporal: `oms api` (its codec endpoint, POST /codec/decode, shows\n"
        "payloads in clear in the Web UI) and `oms worker`. (`oms dev` keeps its own in\n"
        ".oms/secrets.json.)\n"
        f"  export OMS_PAYLOAD_KEYS='{spec}'\n"
        "To rotate keys, put the new entry first and keep the old ones while the histories\n"
        f"they sealed are kept: OMS_PAYLOAD_KEYS='{spec},<old entries>'\n"
    )


def parse_keys(spec: str) -> tuple[str, dict[str, bytes]]:
    """The active key id and every key by id, from ``id:key[,id:key...]``."""
    keys: dict[str, bytes] = {}
    order: list[str] = []
    for entry in (e.strip() for e in spec.split(",") if e.strip()):
        key_id, sep, encoded = entry.partition(":")
        if not sep or not key_id:
            raise PayloadKeyError("each payload key is written id:base64key")
        try:
            key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except ValueError as exc:
            raise PayloadKeyError(f"payload key {key_id} is not base64") from exc
        if len(key) != 32:
            raise PayloadKeyError(f"payload key {key_id} must be 32 bytes (AES-256)")
        if key_id in keys:
            raise PayloadKeyError(f"payload key id {key_id} is listed twice")
        keys[key_id] = key
        order.append(key_id)
    if not order:
        raise PayloadKeyError("no payload key given")
    return order[0], keys


class EncryptionCodec(PayloadCodec):
    def __init__(self, active: str, keys: dict[str, bytes]) -> None:
        self._active = active
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}

    @classmethod
    def from_setting(cls, spec: str) -> EncryptionCodec:
        return cls(*parse_keys(spec))

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.seal(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(p) for p in payloads]

    def seal(self, payload: Payload) -> Payload:
        nonce = os.urandom(_NONCE)
        # The key id is authenticated too: a payload cannot be passed off under another id.
        sealed = self._ciphers[self._active].encrypt(
            nonce, payload.SerializeToString(), self._active.encode()
        )
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: self._active.encode()}, data=nonce + sealed
        )

    def open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before encryption was turned on
        key_id = payload.metadata.get(KEY_ID, b"").decode()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadKeyError(f"payload sealed with key {key_id!r}, which is not listed")
        try:
            clear = cipher.decrypt(payload.data[:_NONCE], payload.data[_NONCE:], key_id.encode())
        except InvalidTag as exc:
            raise PayloadKeyError(f"payload does not open with key {key_id!r}") from exc
        return Payload.FromString(clear)


def data_converter(payload_keys: str | None) -> DataConverter:
    """The converter every Temporal client of the OMS uses: sealed payloads, and failure
    messages and stack traces sealed too (they can quote what went wrong with whom)."""
    if not payload_keys:
        return DataConverter.default
    return dataclasses.replace(
        DataConverter.default,
        payload_codec=EncryptionCodec.from_setting(payload_keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
