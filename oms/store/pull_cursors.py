"""``pull_cursors``: where each pull channel has read its platform up to.

The cursor is the end of the last window whose every order was taken. It moves in one
statement and only forward (``WHERE cursor < :end``), after the window's last order was
taken: a poller killed anywhere leaves it where it was, and a late or repeated save never
moves it back. The rest of the row (window and page under way, orders taken, the failure
and since when) is what operators read through :func:`pull_status`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_COLUMNS = (
    "channel, cursor, window_end, page, taken, updated_at, last_error, failing_since, alert_id"
)

_BEGIN = text(
    "INSERT INTO pull_cursors (channel, cursor, taken, updated_at) "
    "VALUES (:channel, :cursor, 0, now()) ON CONFLICT (channel) DO UPDATE "
    "SET cursor = :cursor WHERE pull_cursors.cursor IS NULL"
)
_ONE = text(f"SELECT {_COLUMNS} FROM pull_cursors WHERE channel = :channel")
_SET = text(
    "INSERT INTO pull_cursors (channel, cursor, taken, updated_at) "
    "VALUES (:channel, :cursor, 0, now()) ON CONFLICT (channel) DO UPDATE "
    "SET cursor = :cursor, window_end = NULL, page = NULL, updated_at = now()"
)
_PROGRESS = text(
    "UPDATE pull_cursors SET window_end = :window_end, page = :page, updated_at = now() "
    "WHERE channel = :channel"
)
_ADVANCE = text(
    "UPDATE pull_cursors SET cursor = :end, window_end = NULL, page = NULL, "
    "taken = taken + :taken, updated_at = now() "
    "WHERE channel = :channel AND cursor < :end"
)
_FAILED = text(
    "INSERT INTO pull_cursors AS p (channel, taken, updated_at, last_error, failing_since) "
    "VALUES (:channel, 0, now(), :error, now()) ON CONFLICT (channel) DO UPDATE "
    "SET last_error = :error, failing_since = COALESCE(p.failing_since, now()), "
    "updated_at = now() "
    "RETURNING EXTRACT(EPOCH FROM now() - p.failing_since) AS failing_s, p.alert_id"
)
_ALERTED = text(
    "UPDATE pull_cursors SET alert_id = :alert_id WHERE channel = :channel AND alert_id IS NULL"
)
_RECOVERED = text(
    "WITH before AS (SELECT channel, alert_id FROM pull_cursors "
    "WHERE channel = :channel AND (failing_since IS NOT NULL OR alert_id IS NOT NULL) "
    "FOR UPDATE) "
    "UPDATE pull_cursors p SET last_error = NULL, failing_since = NULL, alert_id = NULL, "
    "updated_at = now() FROM before WHERE p.channel = before.channel "
    "RETURNING before.alert_id"
)


@dataclass(frozen=True)
class Cursor:
    channel: str
    cursor: datetime | None  # None until a first pull had the platform's clock
    window_end: datetime | None
    page: str | None
    taken: int
    updated_at: datetime
    last_error: str | None
    failing_since: datetime | None
    alert_id: int | None


@dataclass(frozen=True)
class Failure:
    failing_s: float  # how long the channel has been failing, this time included
    alert_id: int | None  # the alert already raised for it, if any


def _cursor(row: Any) -> Cursor:
    return Cursor(**row._mapping)


async def load(engine: AsyncEngine, channel: str) -> Cursor | None:
    async with engine.connect() as conn:
        row = (await conn.execute(_ONE, {"channel": channel})).first()
    return _cursor(row) if row else None


async def begin(engine: AsyncEngine, channel: str, start: datetime) -> datetime:
    """The channel's cursor, set to ``start`` if it has none yet (its first pull)."""
    async with engine.begin() as conn:
        await conn.execute(_BEGIN, {"channel": channel, "cursor": start})
        cursor = (await conn.execute(_ONE, {"channel": channel})).one().cursor
    assert cursor is not None
    return cursor


async def set_cursor(engine: AsyncEngine, channel: str, cursor: datetime) -> None:
    """An operator's decision: read on from ``cursor`` (back to read a period again, which
    the intake absorbs; forward to give up the orders before it)."""
    async with engine.begin() as conn:
        await conn.execute(_SET, {"channel": channel, "cursor": cursor})


async def progress(
    engine: AsyncEngine, channel: str, window_end: datetime, page: str | None
) -> None:
    """The window and page being read (for operators; a retry reads the window again)."""
    async with engine.begin() as conn:
        await conn.execute(_PROGRESS, {"channel": channel, "window_end": window_end, "page": page})


async def advance(engine: AsyncEngine, channel: str, end: datetime, taken: int) -> bool:
    """Move the cursor to ``end`` once every order of the window before it was taken;
    never backwards. Whether it moved."""
    params = {"channel": channel, "end": end, "taken": taken}
    async with engine.begin() as conn:
        return bool((await conn.execute(_ADVANCE, params)).rowcount)


async def failed(engine: AsyncEngine, channel: str, error: str) -> Failure:
    """Record a failed pull: the error, and since when the channel fails."""
    async with engine.begin() as conn:
        row = (await conn.execute(_FAILED, {"channel": channel, "error": error[:2000]})).one()
    return Failure(float(row.failing_s), row.alert_id)


async def alerted(engine: AsyncEngine, channel: str, alert_id: int) -> None:
    """The alert raised for the current failure (kept to close it on recovery)."""
    async with engine.begin() as conn:
        await conn.execute(_ALERTED, {"channel": channel, "alert_id": alert_id})


async def recovered(engine: AsyncEngine, channel: str) -> tuple[bool, int | None]:
    """Clear a failure after a pull that worked: whether there was one, and the alert
    raised for it."""
    async with engine.begin() as conn:
        row = (await conn.execute(_RECOVERED, {"channel": channel})).first()
    return (row is not None, row.alert_id if row is not None else None)


async def pull_status(engine: AsyncEngine, channel: str) -> dict[str, Any]:
    """What the channel API shows of a pull channel: the cursor, the window under way, the
    orders taken, the last error and since when the pulls fail (all None before the first
    pull)."""
    found = await load(engine, channel)
    stamp = lambda value: value.isoformat() if value else None  # noqa: E731
    if found is None:
        return {
            "channel": channel,
            "cursor": None,
            "window_end": None,
            "page": None,
            "taken": 0,
            "updated_at": None,
            "last_error": None,
            "failing_since": None,
        }
    return {
        "channel": channel,
        "cursor": stamp(found.cursor),
        "window_end": stamp(found.window_end),
        "page": found.page,
        "taken": found.taken,
        "updated_at": stamp(found.updated_at),
        "last_error": found.last_error,
        "failing_since": stamp(found.failing_since),
    }
