"""``api_keys``: API keys, stored only as SHA-256 hashes of the secret.

A name is unique among the active (not revoked, not expired) keys, so that ``oms keys
create --name webshop`` run twice does not make a second webshop key no one can tell apart
from the first. There is no unique index for it (a database may hold such duplicates from
before, and refusing to migrate it would help no one): ``create`` checks and inserts under
a transaction-scoped advisory lock on the name, so two concurrent creations of one name
queue, and the second sees the first. Revoking a key frees its name.

A rotation is the one time two active keys share a name: the new key (``rotated_from``
the old one) and the old one until its ``expires_at``, the end of the grace period.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from oms.db.engine import one_statement

_ACTIVE = "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())"
_NAME_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('api-key-name:' || :name))")
_ACTIVE_NAMED = text(
    f"SELECT id FROM api_keys WHERE name = :name AND {_ACTIVE} ORDER BY id LIMIT 1"
)
_INSERT = text(
    "INSERT INTO api_keys (name, role, channel, prefix, key_hash, created_at, scopes, "
    "rate_limit_per_s, rotated_from) VALUES (:name, :role, :channel, :prefix, :hash, now(), "
    ":scopes, :rate, :rotated_from) RETURNING id"
)
_LOOKUP = text(
    "SELECT id, name, role, channel, scopes, rate_limit_per_s FROM api_keys "
    f"WHERE key_hash = :h AND {_ACTIVE}"
)
_REVOKE = text(
    "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = :id RETURNING id"
)
_COLUMNS = (
    "id, name, role, channel, prefix, created_at, revoked_at, scopes, rate_limit_per_s, "
    "expires_at, last_used_at, rotated_from"
)
_ALL = text(f"SELECT {_COLUMNS} FROM api_keys ORDER BY id")
_ONE_ACTIVE = text(f"SELECT {_COLUMNS} FROM api_keys WHERE id = :id AND {_ACTIVE} FOR UPDATE")
_ONE = text(f"SELECT {_COLUMNS} FROM api_keys WHERE id = :id")
# The old key of a rotation stays valid until the grace ends, never longer than it was.
_EXPIRE = text(
    "UPDATE api_keys SET expires_at = LEAST(COALESCE(expires_at, 'infinity'), "
    "now() + make_interval(secs => :grace)) WHERE id = :id"
)
# At most once a minute per key, whatever the number of API processes.
_TOUCH = text(
    "UPDATE api_keys SET last_used_at = now() WHERE id = :id "
    "AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds')"
)


class NameTaken(Exception):
    """An active key has the name already."""

    def __init__(self, name: str, key_id: int) -> None:
        super().__init__(f"an active API key named {name!r} exists already (#{key_id})")
        self.name = name
        self.key_id = key_id


class KeyNotActive(Exception):
    """No active key has the id (none at all, revoked, or expired)."""


async def create(
    engine: AsyncEngine,
    *,
    name: str,
    role: str,
    channel: str | None,
    prefix: str,
    key_hash: str,
    scopes: list[str] | None = None,
    rate_limit_per_s: float | None = None,
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
                    "scopes": scopes,
                    "rate": rate_limit_per_s,
                    "rotated_from": None,
                },
            )
        ).one()
    return int(row.id)


async def rotate(
    engine: AsyncEngine, key_id: int, *, prefix: str, key_hash: str, grace_s: float
) -> tuple[Any, int]:
    """A new key like the active key ``key_id`` (name, role, channel, scopes, rate limit),
    and the old one expiring ``grace_s`` seconds from now: (the old row, the new id).
    KeyNotActive when there is no such active key."""
    async with engine.begin() as conn:
        old = (await conn.execute(_ONE_ACTIVE, {"id": key_id})).first()
        if old is None:
            raise KeyNotActive(key_id)
        await conn.execute(_NAME_LOCK, {"name": old.name})
        await conn.execute(_EXPIRE, {"id": key_id, "grace": grace_s})
        row = (
            await conn.execute(
                _INSERT,
                {
                    "name": old.name,
                    "role": old.role,
                    "channel": old.channel,
                    "prefix": prefix,
                    "hash": key_hash,
                    "scopes": old.scopes,
                    "rate": old.rate_limit_per_s,
                    "rotated_from": key_id,
                },
            )
        ).one()
    return old, int(row.id)


async def active_by_hash(engine: AsyncEngine, key_hash: str) -> Any:
    """The active key with the hash (id, name, role, channel, scopes, rate_limit_per_s),
    or None (one autocommit statement: it runs for every request)."""
    async with one_statement(engine) as conn:
        return (await conn.execute(_LOOKUP, {"h": key_hash})).first()


async def touch(engine: AsyncEngine, key_id: int) -> None:
    """Record that the key was used (a no-op within a minute of the last record)."""
    async with one_statement(engine) as conn:
        await conn.execute(_TOUCH, {"id": key_id})


async def revoke(engine: AsyncEngine, key_id: int) -> bool:
    """Revoke the key (again: no change); False if there is no such key."""
    async with engine.begin() as conn:
        return (await conn.execute(_REVOKE, {"id": key_id})).first() is not None


async def one(engine: AsyncEngine, key_id: int) -> Any:
    """The key without its hash, or None."""
    async with engine.connect() as conn:
        return (await conn.execute(_ONE, {"id": key_id})).first()


async def all_keys(engine: AsyncEngine) -> list[Any]:
    """Every key, without its hash (id, name, role, channel, prefix, created_at,
    revoked_at, scopes, rate_limit_per_s, expires_at, last_used_at, rotated_from), by id."""
    async with engine.connect() as conn:
        return list((await conn.execute(_ALL)).all())
