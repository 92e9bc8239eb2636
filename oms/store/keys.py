"""``api_keys``: API keys, stored only as SHA-256 hashes of the secret.

A name is unique among the active (not revoked) keys, so that ``oms keys create --name
webshop`` run twice does not make a second webshop key no one can tell apart from the first.
There is no unique index for it (a database may hold such duplicates from before, and
refusing to migrate it would help no one): ``create`` checks and inserts under a
transaction-scoped advisory lock on the name, so two concurrent creations of one name
queue, and the second sees the first. Revoking a key frees its name.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from oms.db.engine import one_statement

_NAME_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('api-key-name:' || :name))")
_ACTIVE_NAMED = text(
    "SELECT id FROM api_keys WHERE name = :name AND revoked_at IS NULL ORDER BY id LIMIT 1"
)
_INSERT = text(
    "INSERT INTO api_keys (name, role, channel, prefix, key_hash, created_at) "
    "VALUES (:name, :role, :channel, :prefix, :hash, now()) RETURNING id"
)
_LOOKUP = text(
    "SELECT name, role, channel FROM api_keys WHERE key_hash = :h AND revoked_at IS NULL"
)
_REVOKE = text(
    "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = :id RETURNING id"
)
_ALL = text(
    "SELECT id, name, role, channel, prefix, created_at, revoked_at FROM api_keys ORDER BY id"
)


class NameTaken(Exception):
    """An active key has the name already."""

    def __init__(self, name: str, key_id: int) -> None:
        super().__init__(f"an active API key named {name!r} exists already (#{key_id})")
        self.name = name
        self.key_id = key_id


async def create(
    engine: AsyncEngine, *, name: str, role: str, channel: str | None, prefix: str, key_hash: str
) -> int:
    """The new key's id; NameTaken if an active key has the name."""
    async with engine.begin() as conn:
        await conn.execute(_NAME_LOCK, {"name": name})
        taken = (await conn.execute(_ACTIVE_NAMED, {"name": name})).first()
        if taken is not None:
            raise NameTaken(name, int(taken.id))
        row = (
            await conn.execute(
                _INSERT,
                {
                    "name": name,
                    "role": role,
                    "channel": channel,
                    "prefix": prefix,
                    "hash": key_hash,
                },
            )
        ).one()
    return int(row.id)


async def active_by_hash(engine: AsyncEngine, key_hash: str) -> Any:
    """The active key with the hash (name, role, channel), or None (one autocommit
    statement: it runs for every request)."""
    async with one_statement(engine) as conn:
        return (await conn.execute(_LOOKUP, {"h": key_hash})).first()


async def revoke(engine: AsyncEngine, key_id: int) -> bool:
    """Revoke the key (again: no change); False if there is no such key."""
    async with engine.begin() as conn:
        return (await conn.execute(_REVOKE, {"id": key_id})).first() is not None


async def all_keys(engine: AsyncEngine) -> list[Any]:
    """Every key, without its hash (id, name, role, channel, prefix, created_at,
    revoked_at), by id."""
    async with engine.connect() as conn:
        return list((await conn.execute(_ALL)).all())
