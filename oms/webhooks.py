"""Signed partner requests: HMAC-SHA256 over the timestamp and the raw body.

Headers: ``X-OMS-Timestamp`` (unix seconds) and ``X-OMS-Signature: sha256=<hex>``.
The timestamp bounds replays to a tolerance window.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-OMS-Timestamp"
SIGNATURE_HEADER = "X-OMS-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = int(now if now is not None else time.time())
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        "Content-Type": "application/json",
    }


def verify(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    tolerance_s: int,
    now: float | None = None,
) -> bool:
    if not timestamp or not signature:
        return False
    # Headers arrive as Latin-1 text: anything but ASCII digits is simply a bad signature.
    if not (timestamp.isascii() and timestamp.isdigit() and signature.isascii()):
        return False
    # Unix seconds have 10 digits for centuries yet; a longer number is not a timestamp
    # (and a 400-digit one would overflow the float arithmetic below).
    if len(timestamp) > 12:
        return False
    current = now if now is not None else time.time()
    if abs(current - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body).encode(), signature.encode())
