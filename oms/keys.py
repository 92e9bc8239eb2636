"""API keys: random secrets shown once, stored only as SHA-256 hashes.

Keys carry 256 bits of randomness, so a fast hash is enough: there is nothing to
brute-force that a slow hash would protect.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

ROLES = ("channel", "operator", "admin")


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
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if role == "channel" and not channel:
        channel = name
    if role != "channel":
        channel = None
    key = generate_key()
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                text(
                    "INSERT INTO api_keys (name, role, channel, prefix, key_hash, created_at) "
                    "VALUES (:name, :role, :channel, :prefix, :hash, now()) RETURNING id"
                ),
                {
                    "name": name,
                    "role": role,
                    "channel": channel,
                    "prefix": key[:8],
                    "hash": hash_key(key),
                },
            )
        ).one()
    return NewKey(row.id, name, role, channel, key)
