"""The async engine: one per process, built from settings."""

from __future__ import annotations

import time
import uuid
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from oms.settings import Settings

PING_IDLE_S = 1.0


def make_engine(
    settings: Settings, pool_size: int = 10, ping_idle_s: float | None = PING_IDLE_S
) -> AsyncEngine:
    """A connection that sat in the pool longer than ``ping_idle_s`` is tested as it
    leaves it, and replaced if the database dropped it (a restart), so the caller gets its
    answer, not an error. A connection back in use within the second is not: under load
    the ping (three round trips with asyncpg: BEGIN, a statement, ROLLBACK) cost the API
    a tenth of its CPU, and a connection used that recently is almost always alive; if it
    is not, its caller gets a 503 (the API) or a retry (an activity), and SQLAlchemy drops
    the pool's other connections with it. ``None``: never ping."""
    engine = create_async_engine(
        settings.async_database_url(),
        pool_size=pool_size,
        max_overflow=pool_size,
        # Error messages (and so logs) never carry bound values: they hold payment tokens,
        # names, emails and addresses.
        hide_parameters=True,
        # A database that is down or unresponsive must give callers an answer (a 503 from
        # the API, a retried activity) within seconds, not after asyncpg's 60 s default.
        # A statement on a database that stopped answering (not closed: hung) ends after
        # command_timeout too; nothing here legitimately runs that long.
        pool_timeout=10,
        connect_args={"timeout": 5, "command_timeout": 15, **pooler_connect_args(settings)},
    )
    if settings.database_pooler == "transaction":
        _TRANSACTION_POOLED.add(engine)
    if ping_idle_s is not None:
        _ping_when_idle(engine, ping_idle_s)
    return engine


# Engines whose connections go through a pooler in transaction mode (OMS_DATABASE_POOLER).
_TRANSACTION_POOLED: weakref.WeakSet[AsyncEngine] = weakref.WeakSet()


def pooler_connect_args(settings: Settings) -> dict[str, Any]:
    """asyncpg's arguments for a pooler in transaction mode: no statement kept prepared
    between uses (the next use may reach another server connection) and every statement
    prepared under a name of its own (two clients' "stmt_1" may meet on one server
    connection). Empty without a pooler."""
    if settings.database_pooler != "transaction":
        return {}
    return {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": _statement_name,
    }


def _statement_name() -> str:
    return f"__oms_{uuid.uuid4().hex}__"


def _ping_when_idle(engine: AsyncEngine, idle_s: float) -> None:
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle_s:
            return  # just opened, or back from a caller a moment ago
        try:
            dbapi_connection.ping()
        except Exception as error:  # the pool discards it and checks out another
            raise exc.DisconnectionError(f"pooled connection dropped: {error}") from error


@asynccontextmanager
async def one_statement(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for one statement, in autocommit: no BEGIN before it and no COMMIT or
    ROLLBACK after it (two round trips of the three it otherwise costs). A single
    statement is atomic on its own, data-modifying common table expressions included;
    work of several statements that must agree or commit together uses
    ``engine.connect()`` or ``engine.begin()``.

    Behind a pooler in transaction mode the statement runs in a transaction all the same:
    outside one, asyncpg's prepare and its execution are two exchanges the pooler may
    send to two different server connections."""
    if engine in _TRANSACTION_POOLED:
        async with engine.begin() as conn:
            yield conn
        return
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


async def ping(engine: AsyncEngine) -> None:
    """Raise unless the database answers a statement (the health check)."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
