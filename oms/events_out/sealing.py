"""Endpoint secrets at rest: sealed with AES-256-GCM under the payload keys
(``OMS_PAYLOAD_KEYS``, the same keys that seal workflow payloads, see ``oms.codec``).

Stored as ``gcm:<key id>:<base64 nonce+ciphertext>``; any key still listed opens what it
sealed, so the payload keys rotate as they do for Temporal. Without payload keys (a
development setup that has none; production refuses to start without them) a secret is
stored as ``clear:<secret>``. A secret is never logged.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from oms.codec import PayloadKeyError, parse_keys

_NONCE = 12


def _aad(key_id: str) -> bytes:
    return b"oms-webhook-secret:" + key_id.encode()


def seal(secret: str, payload_keys: str | None) -> str:
    if not payload_keys:
        return "clear:" + secret
    active, keys = parse_keys(payload_keys)
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(keys[active]).encrypt(nonce, secret.encode(), _aad(active))
    return f"gcm:{active}:{base64.b64encode(nonce + sealed).decode()}"


def open_secret(stored: str, payload_keys: str | None) -> str:
    kind, _, rest = stored.partition(":")
    if kind == "clear":
        return rest
    if kind != "gcm":
        raise PayloadKeyError("a webhook secret stored in an unknown form")
    key_id, _, data = rest.partition(":")
    if not payload_keys:
        raise PayloadKeyError("webhook secrets are sealed and OMS_PAYLOAD_KEYS is not set")
    _, keys = parse_keys(payload_keys)
    key = keys.get(key_id)
    if key is None:
        raise PayloadKeyError(f"webhook secret sealed with key {key_id!r}, which is not listed")
    raw = base64.b64decode(data)
    try:
        return AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], _aad(key_id)).decode()
    except InvalidTag as exc:
        raise PayloadKeyError(f"webhook secret does not open with key {key_id!r}") from exc
