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
    "mode_changed_by, created_at, updated_at, created_by, updated_by, live_countries"
)
_INSERT = text(
    "INSERT INTO channels (name, platform, intake, mode, secret_sealed, credentials_sealed, "
    "routing, shortage, split, payment_timeout_s, pull_interval_s, pull_lag_s, enabled, "
    "mode_changed_at, mode_changed_by, created_at, updated_at, created_by, updated_by, "
    "live_countries) "
    "VALUES (:name, :platform, :intake, :mode, :secret_sealed, :credentials_sealed, "
    ":routing, :shortage, :split, :payment_timeout_s, :pull_interval_s, :pull_lag_s, "
    ":enabled, now(), :by, now(), now(), :by, :by, CAST(:live_countries AS varchar[])) "
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
    "live_countries",
)
# The switch between the systems (oms/channels/cutover.py): an intake of a configured
# channel's new order holds this lock shared from before it reads the channel's mode
# until its order row is committed; a change of mode or pilot holds it exclusive while it
# records the switch. So an order reads the mode as it was at its own ``created_at``.
_LOCK_KEY = "hashtext('channel-mode:' || CAST(:name AS text))"
_INTAKE_LOCK = text(f"SELECT pg_advisory_xact_lock_shared({_LOCK_KEY})")
_SWITCH_LOCK = text(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})")
# Read after the lock is held (a statement of its own: its snapshot sees every switch
# committed before), with the moment the order is taken at.
_GATE = text(
    "SELECT platform, mode, live_countries, mode_changed_at, clock_timestamp() AS now "
    "FROM channels WHERE name = :name"
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
    if "live_countries" in changes:
        at = sets.index("live_countries = :live_countries")
        sets[at] = "live_countries = CAST(:live_countries AS varchar[])"
    tests = []
    if "mode" in changes:
        tests.append("mode <> CAST(:mode AS varchar)")
    if "live_countries" in changes:
        tests.append("live_countries IS DISTINCT FROM CAST(:live_countries AS varchar[])")
    if tests:
        # Only a real switch (of mode or pilot) is recorded as one, at the moment it holds
        # the switch lock (clock_timestamp, not the transaction's start).
        switched = " OR ".join(tests)
        sets.append(
            f"mode_changed_at = CASE WHEN {switched} THEN clock_timestamp() "
            "ELSE mode_changed_at END"
        )
        sets.append(
            f"mode_changed_by = CASE WHEN {switched} THEN CAST(:by AS varchar) "
            "ELSE mode_changed_by END"
        )
    sets += ["updated_at = now()", "updated_by = CAST(:by AS varchar)"]
    statement = text(
        f"UPDATE channels SET {', '.join(sets)} WHERE name = :name RETURNING {COLUMNS}"
    )
    async with engine.begin() as conn:
        if tests:
            await conn.execute(_SWITCH_LOCK, {"name": name})
        return (await conn.execute(statement, {**changes, "name": name, "by": by})).first()


async def intake_gate(conn: AsyncConnection, name: str) -> Any:
    """In the caller's transaction (the one that writes the new order's row): take the
    switch lock shared and read the channel's ``platform``, ``mode``, ``live_countries``,
    ``mode_changed_at`` and the moment ``now`` the order is taken at; None when no channel
    of that name is configured. The lock is held until the caller commits."""
    await conn.execute(_INTAKE_LOCK, {"name": name})
    return (await conn.execute(_GATE, {"name": name})).first()
