"""API keys: random secrets shown once, stored only as SHA-256 hashes.

Keys carry 256 bits of randomness, so a fast hash is enough: there is nothing to
brute-force that a slow hash would protect. A name is unique among the active keys:
``create_key`` raises ``NameTaken`` for a second one (``oms.store.keys``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from oms.store import keys
from oms.store.keys import NameTaken

ROLES = ("channel", "operator", "admin")
__all__ = ["ROLES", "NameTaken", "NewKey", "create_key", "generate_key", "hash_key"]


@dataclass(frozen=True)
class NewKey:
    id: int
    name: str
    role: str
    channel: str | None
    key: str


def generate_key() -> str:
    return "oms_" + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_key(engine: AsyncEngine, *, name: str, role: str, channel: str | None) -> NewKey:
    """A new key, shown once; NameTaken if an active key has ``name``."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if role == "channel" and not channel:
        channel = name
    if role != "channel":
        channel = None
    key = generate_key()
    key_id = await keys.create(
        engine, name=name, role=role, channel=channel, prefix=key[:8], key_hash=hash_key(key)
    )
    return NewKey(key_id, name, role, channel, key)
