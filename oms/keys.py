"""API keys: random secrets shown once, stored only as SHA-256 hashes.

Keys carry 256 bits of randomness, so a fast hash is enough: there is nothing to
brute-force that a slow hash would protect. A name is unique among the active keys:
``create_key`` raises ``NameTaken`` for a second one (``oms.store.keys``).

Roles: ``channel`` (submits and reads one channel's orders), ``operator``, ``admin``, and
``partner``, a key for an outside party that may do only what its scopes say:

- ``orders:read`` every channel's orders, ``orders:read:<channel>`` one channel's (several
  such scopes for several channels);
- ``orders:write:<channel>`` submit orders for that channel;
- ``stock:sync`` send absolute stock levels (``POST /v1/stock/sync``);
- ``webhooks:manage`` manage the webhooks the OMS sends;
- ``channels:read`` read the channels' configuration (never their secrets);
- ``reports:read`` read the KPI reports (``GET /v1/reports/kpis``, every channel's figures).

Every key may carry a rate limit (requests per second, a burst of twice as many); a key
without one has ``OMS_KEY_RATE_LIMIT_PER_S``. Rotating a key makes a new secret with the
same name, role, scopes and limit; the old one works until its grace period ends.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from oms.store import keys
from oms.store.keys import KeyNotActive, NameTaken

ROLES = ("channel", "operator", "admin", "partner")
# Scopes without a channel, and those that name one (``orders:write:<channel>``).
PLAIN_SCOPES = (
    "orders:read",
    "stock:sync",
    "webhooks:manage",
    "channels:read",
    "reports:read",
)
CHANNEL_SCOPES = ("orders:read", "orders:write")
_CHANNEL = r"[a-z0-9][a-z0-9_\-]{0,63}"
SCOPE_PATTERN = (
    rf"^(?:{'|'.join(re.escape(s) for s in PLAIN_SCOPES)}"
    rf"|(?:{'|'.join(re.escape(s) for s in CHANNEL_SCOPES)}):{_CHANNEL})$"
)
_SCOPE = re.compile(SCOPE_PATTERN)
MAX_SCOPES = 50
MAX_RATE_LIMIT_PER_S = 100_000.0
DEFAULT_GRACE_S = 86400.0
__all__ = [
    "DEFAULT_GRACE_S",
    "ROLES",
    "SCOPE_PATTERN",
    "KeyNotActive",
    "NameTaken",
    "NewKey",
    "create_key",
    "generate_key",
    "hash_key",
    "rotate_key",
    "scope_errors",
]


@dataclass(frozen=True)
class NewKey:
    id: int
    name: str
    role: str
    channel: str | None
    key: str
    scopes: tuple[str, ...] = ()
    rate_limit_per_s: float | None = None
    rotated_from: int | None = None


def generate_key() -> str:
    return "oms_" + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def scope_errors(role: str, scopes: list[str] | None) -> list[str]:
    """Why the scopes do not suit the role (empty when they do)."""
    if role != "partner":
        return ["only partner keys carry scopes"] if scopes else []
    if not scopes:
        return ["a partner key needs at least one scope"]
    if len(scopes) > MAX_SCOPES:
        return [f"at most {MAX_SCOPES} scopes"]
    return [f"unknown scope {s!r}" for s in scopes if not _SCOPE.fullmatch(s)]


async def create_key(
    engine: AsyncEngine,
    *,
    name: str,
    role: str,
    channel: str | None,
    scopes: list[str] | None = None,
    rate_limit_per_s: float | None = None,
) -> NewKey:
    """A new key, shown once; NameTaken if an active key has ``name``; ValueError for a
    role, scopes or rate limit that cannot be."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    problems = scope_errors(role, scopes)
    if problems:
        raise ValueError("; ".join(problems))
    if rate_limit_per_s is not None and not (
        math.isfinite(rate_limit_per_s) and 0 < rate_limit_per_s <= MAX_RATE_LIMIT_PER_S
    ):
        raise ValueError(f"the rate limit must be above 0 and at most {MAX_RATE_LIMIT_PER_S:g}")
    if role == "channel" and not channel:
        channel = name
    if role != "channel":
        channel = None
    unique_scopes = sorted(set(scopes)) if scopes else None
    key = generate_key()
    key_id = await keys.create(
        engine,
        name=name,
        role=role,
        channel=channel,
        prefix=key[:8],
        key_hash=hash_key(key),
        scopes=unique_scopes,
        rate_limit_per_s=rate_limit_per_s,
    )
    return NewKey(key_id, name, role, channel, key, tuple(unique_scopes or ()), rate_limit_per_s)


async def rotate_key(engine: AsyncEngine, key_id: int, grace_s: float = DEFAULT_GRACE_S) -> NewKey:
    """A new secret for the active key ``key_id``, shown once; the old secret is refused
    ``grace_s`` seconds from now. KeyNotActive when the key is revoked, expired or unknown."""
    key = generate_key()
    old, new_id = await keys.rotate(
        engine, key_id, prefix=key[:8], key_hash=hash_key(key), grace_s=grace_s
    )
    return NewKey(
        new_id,
        old.name,
        old.role,
        old.channel,
        key,
        tuple(old.scopes or ()),
        old.rate_limit_per_s,
        key_id,
    )
