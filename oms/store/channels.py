"""``channels``: the configured sales channels, one row each.

The webhook secret and the credentials arrive here sealed (``oms.channels.sealing``) and
leave sealed: this module never sees them in clear. A name is the primary key, so a second
channel of one name is refused by the insert itself (``ON CONFLICT DO NOTHING``), not by a
read before it. A channel is never deleted: disabling it keeps the row, and the orders that
name it keep a channel to point at.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oms.db.engine import one_statement

COLUMNS = (
    "name, platform, intake, mode, secret_sealed, credentials_sealed, routing, shortage, "
    "split, payment_timeout_s, pull_interval_s, pull_lag_s, enabled, mode_changed_at, "
    "mode_changed_by, created_at, updated_at, created_by, updated_by"
)
_INSERT = text(
    "INSERT INTO channels (name, platform, intake, mode, secret_sealed, credentials_sealed, "
    "routing, shortage, split, payment_timeout_s, pull_interval_s, pull_lag_s, enabled, "
    "mode_changed_at, mode_changed_by, created_at, updated_at, created_by, updated_by) "
    "VALUES (:name, :platform, :intake, :mode, :secret_sealed, :credentials_sealed, "
    ":routing, :shortage, :split, :payment_timeout_s, :pull_interval_s, :pull_lag_s, "
    ":enabled, now(), :by, now(), now(), :by, :by) "
    f"ON CONFLICT (name) DO NOTHING RETURNING {COLUMNS}"
)
_ONE = text(f"SELECT {COLUMNS} FROM channels WHERE name = :name")
_ALL = text(f"SELECT {COLUMNS} FROM channels ORDER BY name")
# What a change may set; the name and the platform are fixed once the channel exists.
CHANGEABLE = (
    "intake",
    "mode",
    "secret_sealed",
    "credentials_sealed",
    "routing",
    "shortage",
    "split",
    "payment_timeout_s",
    "pull_interval_s",
    "pull_lag_s",
    "enabled",
)


async def insert(engine: AsyncEngine, row: dict[str, Any]) -> Any:
    """The new row, or None when a channel of that name exists. ``row``: the columns of
    ``_INSERT`` (name ... enabled) and ``by``."""
    async with engine.begin() as conn:
        return (await conn.execute(_INSERT, row)).first()


async def one(engine: AsyncEngine, name: str) -> Any:
    """The channel's row (sealed columns sealed), or None."""
    async with one_statement(engine) as conn:
        return (await conn.execute(_ONE, {"name": name})).first()


async def one_in(conn: AsyncConnection, name: str) -> Any:
    """The channel's row, read in the caller's transaction, or None."""
    return (await conn.execute(_ONE, {"name": name})).first()


async def every(engine: AsyncEngine) -> list[Any]:
    """Every channel's row, by name."""
    async with engine.connect() as conn:
        return list((await conn.execute(_ALL)).all())


async def update(engine: AsyncEngine, name: str, changes: dict[str, Any], by: str) -> Any:
    """Set the ``changes`` (columns of ``CHANGEABLE``) and who made them; a change of
    ``mode`` also records when and by whom the mode changed. The row after, or None when
    there is no such channel."""
    unknown = set(changes) - set(CHANGEABLE)
    if unknown:
        raise ValueError(f"not changeable: {', '.join(sorted(unknown))}")
    sets = [f"{column} = :{column}" for column in CHANGEABLE if column in changes]
    if "mode" in changes:
        sets[sets.index("mode = :mode")] = "mode = CAST(:mode AS varchar)"
    if "mode" in changes:
        # Only a real switch is recorded as one.
        switched = "mode <> CAST(:mode AS varchar)"
        sets.append(f"mode_changed_at = CASE WHEN {switched} THEN now() ELSE mode_changed_at END")
        sets.append(
            f"mode_changed_by = CASE WHEN {switched} THEN CAST(:by AS varchar) "
            "ELSE mode_changed_by END"
        )
    sets += ["updated_at = now()", "updated_by = CAST(:by AS varchar)"]
    statement = text(
        f"UPDATE channels SET {', '.join(sets)} WHERE name = :name RETURNING {COLUMNS}"
    )
    async with engine.begin() as conn:
        return (await conn.execute(statement, {**changes, "name": name, "by": by})).first()
