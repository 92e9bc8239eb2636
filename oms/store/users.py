"""``users``, ``console_sessions`` and ``console_audit``: the console's people, their
signed-in browsers and what they did.

A session row holds only the hash of the cookie's token: a copy of the database signs no
one in. A session ends at the first of its absolute limit (``expires_at``), its idle limit
(``last_seen_at`` plus the idle time, checked in the lookup) and sign-out (``ended_at``);
disabling a user ends all of theirs.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_USER_COLUMNS = (
    "id, name, role, password_hash, created_at, created_by, disabled_at, last_login_at, "
    "failed_logins, locked_until"
)
_INSERT_USER = text(
    "INSERT INTO users (name, role, password_hash, created_by) "
    "VALUES (:name, :role, :hash, :by) ON CONFLICT (name) DO NOTHING RETURNING id"
)
_BY_NAME = text(f"SELECT {_USER_COLUMNS} FROM users WHERE name = :name")
_ALL_USERS = text(f"SELECT {_USER_COLUMNS} FROM users ORDER BY name")
_SET_PASSWORD = text(
    "UPDATE users SET password_hash = :hash, password_changed_at = now(), failed_logins = 0, "
    "locked_until = NULL WHERE name = :name RETURNING id"
)
_SET_ROLE = text("UPDATE users SET role = :role WHERE name = :name RETURNING id")
_DISABLE = text(
    "UPDATE users SET disabled_at = COALESCE(disabled_at, now()) WHERE name = :name RETURNING id"
)
_ENABLE = text("UPDATE users SET disabled_at = NULL WHERE name = :name RETURNING id")
_LOGIN_OK = text(
    "UPDATE users SET last_login_at = now(), failed_logins = 0, locked_until = NULL WHERE id = :id"
)
# Each refusal counts; from the ``limit``-th in a row the account waits ``lock_s``.
_LOGIN_FAILED = text(
    """
    UPDATE users SET failed_logins = failed_logins + 1,
        locked_until = CASE WHEN failed_logins + 1 >= :limit
                            THEN now() + make_interval(secs => :lock_s) ELSE locked_until END
    WHERE id = :id RETURNING failed_logins, locked_until
    """
)
_END_USER_SESSIONS = text(
    "UPDATE console_sessions SET ended_at = now() WHERE user_id = "
    "(SELECT id FROM users WHERE name = :name) AND ended_at IS NULL"
)
_INSERT_SESSION = text(
    """
    INSERT INTO console_sessions (token_hash, user_id, csrf_token, created_at, last_seen_at,
                                  expires_at, user_agent)
    VALUES (:hash, :user_id, :csrf, now(), now(), now() + make_interval(secs => :max_s), :ua)
    """
)
# The session and its user, while neither has ended: not signed out, within both limits,
# and the user not disabled.
_SESSION = text(
    """
    SELECT s.token_hash, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at,
           u.id AS user_id, u.name, u.role
    FROM console_sessions s JOIN users u ON u.id = s.user_id
    WHERE s.token_hash = :hash AND s.ended_at IS NULL AND s.expires_at > now()
      AND s.last_seen_at + make_interval(secs => :idle_s) > now()
      AND u.disabled_at IS NULL
    """
)
_TOUCH_SESSION = text(
    "UPDATE console_sessions SET last_seen_at = now() WHERE token_hash = :hash AND ended_at IS NULL"
)
_END_SESSION = text(
    "UPDATE console_sessions SET ended_at = COALESCE(ended_at, now()) WHERE token_hash = :hash"
)
_AUDIT = text(
    "INSERT INTO console_audit (user_name, action, target, note, outcome, detail) "
    "VALUES (:user, :action, :target, :note, :outcome, CAST(:detail AS jsonb)) RETURNING id"
)
_AUDIT_FOR = text(
    "SELECT id, at, user_name, action, target, note, outcome, detail FROM console_audit "
    "WHERE target = :target ORDER BY at DESC, id DESC LIMIT :limit"
)
_AUDIT_RECENT = text(
    "SELECT id, at, user_name, action, target, note, outcome, detail FROM console_audit "
    "ORDER BY at DESC, id DESC LIMIT :limit"
)


async def insert_user(
    engine: AsyncEngine, name: str, role: str, hashed: str, by: str
) -> int | None:
    """The new user's id; None when the name is taken."""
    async with engine.begin() as conn:
        found = (
            await conn.execute(_INSERT_USER, {"name": name, "role": role, "hash": hashed, "by": by})
        ).scalar()
    return None if found is None else int(found)


async def user_by_name(engine: AsyncEngine, name: str) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(_BY_NAME, {"name": name})).first()


async def all_users(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(_ALL_USERS)).all())


async def set_password(engine: AsyncEngine, name: str, hashed: str) -> bool:
    """A new password ends the user's sessions (a password that leaked signs no one in)."""
    async with engine.begin() as conn:
        found = (await conn.execute(_SET_PASSWORD, {"name": name, "hash": hashed})).first()
        if found is not None:
            await conn.execute(_END_USER_SESSIONS, {"name": name})
    return found is not None


async def set_role(engine: AsyncEngine, name: str, role: str) -> bool:
    async with engine.begin() as conn:
        found = (await conn.execute(_SET_ROLE, {"name": name, "role": role})).first()
        if found is not None:
            await conn.execute(_END_USER_SESSIONS, {"name": name})
    return found is not None


async def set_disabled(engine: AsyncEngine, name: str, disabled: bool) -> bool:
    async with engine.begin() as conn:
        found = (await conn.execute(_DISABLE if disabled else _ENABLE, {"name": name})).first()
        if found is not None and disabled:
            await conn.execute(_END_USER_SESSIONS, {"name": name})
    return found is not None


async def login_succeeded(engine: AsyncEngine, user_id: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(_LOGIN_OK, {"id": user_id})


async def login_failed(engine: AsyncEngine, user_id: int, limit: int, lock_s: float) -> None:
    async with engine.begin() as conn:
        await conn.execute(_LOGIN_FAILED, {"id": user_id, "limit": limit, "lock_s": lock_s})


async def insert_session(
    engine: AsyncEngine, token_hash: str, user_id: int, csrf: str, max_s: float, ua: str | None
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            _INSERT_SESSION,
            {"hash": token_hash, "user_id": user_id, "csrf": csrf, "max_s": max_s, "ua": ua},
        )


async def live_session(engine: AsyncEngine, token_hash: str, idle_s: float) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(_SESSION, {"hash": token_hash, "idle_s": idle_s})).first()


async def touch_session(engine: AsyncEngine, token_hash: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(_TOUCH_SESSION, {"hash": token_hash})


async def end_session(engine: AsyncEngine, token_hash: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(_END_SESSION, {"hash": token_hash})


async def audit(
    engine: AsyncEngine,
    user: str,
    action: str,
    target: str | None,
    outcome: str,
    note: str | None = None,
    detail: dict[str, Any] | None = None,
) -> int:
    async with engine.begin() as conn:
        found = (
            await conn.execute(
                _AUDIT,
                {
                    "user": user,
                    "action": action,
                    "target": target,
                    "note": note,
                    "outcome": outcome,
                    "detail": json.dumps(detail or {}, default=str),
                },
            )
        ).scalar_one()
    return int(found)


async def audit_for(engine: AsyncEngine, target: str, limit: int = 50) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(_AUDIT_FOR, {"target": target, "limit": limit})).all())


async def audit_of(conn: AsyncConnection, target: str, limit: int = 50) -> list[Any]:
    """``audit_for`` in the caller's connection."""
    return list((await conn.execute(_AUDIT_FOR, {"target": target, "limit": limit})).all())


async def audit_recent(engine: AsyncEngine, limit: int = 100) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(_AUDIT_RECENT, {"limit": limit})).all())


def session_is_stale(last_seen_at: datetime, now: datetime, every_s: float = 60.0) -> bool:
    """Whether the session's ``last_seen_at`` is worth writing again (once a minute)."""
    return (now - last_seen_at).total_seconds() >= every_s
