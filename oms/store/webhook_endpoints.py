"""``webhook_endpoints``: partners' endpoints, their subscriptions and sealed secrets.

The triggers of migration 0008 read this table (enabled, not deleted, subscribed) on every
fact that could become an event; everything else about it is written here. A deleted
endpoint keeps its row (its id is never reused) without its secrets, deliveries or attempts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

COLUMNS = (
    "id, url, events, description, enabled, secret, previous_secret, previous_secret_until, "
    "failing_since, disabled_reason, created_at, updated_at"
)
_INSERT = text(
    f"""
    INSERT INTO webhook_endpoints (id, url, events, description, enabled, secret,
                                   created_at, updated_at)
    VALUES (:id, :url, CAST(:events AS varchar[]), :description, true, :secret, now(), now())
    RETURNING {COLUMNS}
    """
)
_ONE = text(f"SELECT {COLUMNS} FROM webhook_endpoints WHERE id = :id AND deleted_at IS NULL")
_ALL = text(
    f"SELECT {COLUMNS} FROM webhook_endpoints WHERE deleted_at IS NULL ORDER BY created_at, id"
)
_ENABLED = text("SELECT id FROM webhook_endpoints WHERE enabled AND deleted_at IS NULL ORDER BY id")
_UPDATE = text(
    f"""
    UPDATE webhook_endpoints SET
        url = COALESCE(CAST(:url AS varchar), url),
        events = COALESCE(CAST(:events AS varchar[]), events),
        description = CASE WHEN CAST(:set_description AS boolean)
                           THEN CAST(:description AS varchar) ELSE description END,
        enabled = COALESCE(CAST(:enabled AS boolean), enabled),
        disabled_reason = CASE WHEN CAST(:enabled AS boolean) IS NULL THEN disabled_reason
                               WHEN CAST(:enabled AS boolean) THEN NULL
                               ELSE 'disabled by an operator' END,
        failing_since = CASE WHEN CAST(:enabled AS boolean) THEN NULL ELSE failing_since END,
        updated_at = now()
    WHERE id = :id AND deleted_at IS NULL
    RETURNING {COLUMNS}
    """
)
_DELETE = text(
    """
    UPDATE webhook_endpoints SET enabled = false, deleted_at = now(), secret = '',
        previous_secret = NULL, disabled_reason = 'deleted', updated_at = now()
    WHERE id = :id AND deleted_at IS NULL
    RETURNING id
    """
)
_FORGET_ATTEMPTS = text(
    "DELETE FROM webhook_attempts WHERE delivery_id IN "
    "(SELECT id FROM webhook_deliveries WHERE endpoint_id = :id)"
)
_FORGET_DELIVERIES = text("DELETE FROM webhook_deliveries WHERE endpoint_id = :id")
_ROTATE = text(
    f"""
    UPDATE webhook_endpoints SET previous_secret = secret,
        previous_secret_until = now() + make_interval(secs => :grace),
        secret = :secret, updated_at = now()
    WHERE id = :id AND deleted_at IS NULL
    RETURNING {COLUMNS}
    """
)
_DISABLE = text(
    """
    UPDATE webhook_endpoints SET enabled = false, disabled_reason = :reason, updated_at = now()
    WHERE id = :id AND enabled AND deleted_at IS NULL
    RETURNING id
    """
)
# After a batch of attempts: a success ends the failing streak, a failure starts one.
_FAILING = text(
    """
    UPDATE webhook_endpoints SET failing_since =
        CASE WHEN CAST(:succeeded AS boolean) THEN NULL
             ELSE COALESCE(failing_since, CAST(:at AS timestamptz)) END
    WHERE id = :id
    RETURNING failing_since
    """
)


async def create(
    engine: AsyncEngine,
    endpoint_id: str,
    url: str,
    events: list[str],
    description: str | None,
    sealed_secret: str,
) -> Any:
    params = {
        "id": endpoint_id,
        "url": url,
        "events": events,
        "description": description,
        "secret": sealed_secret,
    }
    async with engine.begin() as conn:
        return (await conn.execute(_INSERT, params)).one()


async def one(engine: AsyncEngine, endpoint_id: str) -> Any:
    """The endpoint (not deleted), or None."""
    async with engine.connect() as conn:
        return (await conn.execute(_ONE, {"id": endpoint_id})).first()


async def all_endpoints(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(_ALL)).all())


async def enabled_ids(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return [r.id for r in await conn.execute(_ENABLED)]


async def update(engine: AsyncEngine, endpoint_id: str, changes: dict[str, Any]) -> Any:
    """Apply ``changes`` (url, events, description, enabled; absent: unchanged); the row
    after, or None when there is no such endpoint."""
    params = {
        "id": endpoint_id,
        "url": changes.get("url"),
        "events": changes.get("events"),
        "set_description": "description" in changes,
        "description": changes.get("description"),
        "enabled": changes.get("enabled"),
    }
    async with engine.begin() as conn:
        return (await conn.execute(_UPDATE, params)).first()


async def delete(engine: AsyncEngine, endpoint_id: str) -> bool:
    """Disable and forget: the secrets, deliveries and attempts go; the id stays taken."""
    async with engine.begin() as conn:
        if (await conn.execute(_DELETE, {"id": endpoint_id})).first() is None:
            return False
        await conn.execute(_FORGET_ATTEMPTS, {"id": endpoint_id})
        await conn.execute(_FORGET_DELIVERIES, {"id": endpoint_id})
    return True


async def rotate(engine: AsyncEngine, endpoint_id: str, sealed_secret: str, grace_s: float) -> Any:
    params = {"id": endpoint_id, "secret": sealed_secret, "grace": grace_s}
    async with engine.begin() as conn:
        return (await conn.execute(_ROTATE, params)).first()


async def disable(engine: AsyncEngine, endpoint_id: str, reason: str) -> bool:
    """Disable the endpoint; True if it was enabled until now (alert once)."""
    async with engine.begin() as conn:
        row = (await conn.execute(_DISABLE, {"id": endpoint_id, "reason": reason})).first()
    return row is not None


async def note_outcome(
    engine: AsyncEngine, endpoint_id: str, succeeded: bool, at: datetime
) -> datetime | None:
    """Since when the endpoint has failed without a success in between (None: it is not
    failing)."""
    params = {"id": endpoint_id, "succeeded": succeeded, "at": at}
    async with engine.begin() as conn:
        row = (await conn.execute(_FAILING, params)).first()
    return row.failing_since if row else None
