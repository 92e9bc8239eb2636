"""Channel secrets at rest: a webhook secret or a platform's credentials sealed with
AES-256-GCM under the payload keys (``OMS_PAYLOAD_KEYS``, the same keys that seal workflow
payloads, see ``oms.codec``).

A sealed value is ``b"c1" | len(key id) | key id | 12-byte nonce | ciphertext``: it names
the key that sealed it, so a row sealed under an older key still opens while that key is
listed (rotate by putting the new key first; rows move to it when they are next written).
The channel's name and the column are authenticated with it, so a sealed secret copied into
another row or column does not open.
"""

from __future__ import annotations

import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from oms.codec import PayloadKeyError, parse_keys

_VERSION = b"c1"
_NONCE = 12


class SealingUnavailable(RuntimeError):
    """No payload keys are configured, so a secret cannot be stored or opened."""


def _keys(spec: str | None) -> tuple[str, dict[str, bytes]]:
    if not spec:
        raise SealingUnavailable(
            "OMS_PAYLOAD_KEYS is not set: channel secrets are sealed with the payload keys "
            "(make one with: oms keys payload)"
        )
    return parse_keys(spec)


def _aad(channel: str, column: str, key_id: str) -> bytes:
    return b"\x1f".join((channel.encode(), column.encode(), key_id.encode()))


def seal(spec: str | None, channel: str, column: str, clear: bytes) -> bytes:
    """``clear`` sealed under the first key of ``spec`` for this channel and column."""
    active, keys = _keys(spec)
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(keys[active]).encrypt(nonce, clear, _aad(channel, column, active))
    key_id = active.encode()
    return _VERSION + bytes([len(key_id)]) + key_id + nonce + sealed


def open_sealed(spec: str | None, channel: str, column: str, sealed: bytes) -> bytes:
    """What :func:`seal` sealed; PayloadKeyError when its key is not listed or it was
    tampered with (or belongs to another channel or column)."""
    _, keys = _keys(spec)
    if sealed[:2] != _VERSION or len(sealed) < 3:
        raise PayloadKeyError("not a sealed channel value")
    size = sealed[2]
    key_id = sealed[3 : 3 + size].decode()
    body = sealed[3 + size :]
    key = keys.get(key_id)
    if key is None:
        raise PayloadKeyError(f"channel {channel}: sealed with key {key_id!r}, not listed")
    try:
        return AESGCM(key).decrypt(body[:_NONCE], body[_NONCE:], _aad(channel, column, key_id))
    except InvalidTag as exc:
        raise PayloadKeyError(f"channel {channel}: {column} does not open") from exc


def sealed_key_id(sealed: bytes) -> str:
    """The id of the key that sealed the value."""
    return sealed[3 : 3 + sealed[2]].decode()


def seal_secret(spec: str | None, channel: str, secret: str | None) -> bytes | None:
    return None if secret is None else seal(spec, channel, "secret", secret.encode())


def open_secret(spec: str | None, channel: str, sealed: bytes | None) -> str | None:
    return None if sealed is None else open_sealed(spec, channel, "secret", sealed).decode()


def seal_credentials(spec: str | None, channel: str, credentials: dict[str, Any]) -> bytes | None:
    if not credentials:
        return None
    clear = json.dumps(credentials, sort_keys=True, separators=(",", ":")).encode()
    return seal(spec, channel, "credentials", clear)


def open_credentials(spec: str | None, channel: str, sealed: bytes | None) -> dict[str, Any]:
    if sealed is None:
        return {}
    opened = json.loads(open_sealed(spec, channel, "credentials", sealed))
    return opened if isinstance(opened, dict) else {}
