"""The async engine: one per process, built from settings."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from oms.settings import Settings


def make_engine(settings: Settings, pool_size: int = 10, pre_ping: bool = True) -> AsyncEngine:
    """``pre_ping`` tests each connection as it leaves the pool (one round trip per
    transaction): the API keeps it, so a request after a database restart gets its answer
    and not an error. The worker turns it off: an activity that meets a dead connection
    fails, SQLAlchemy drops the pool's connections, and the retry gets a fresh one."""
    return create_async_engine(
        settings.async_database_url(),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        # Error messages (and so logs) never carry bound values: they hold payment tokens,
        # names, emails and addresses.
        hide_parameters=True,
        # A database that is down or unresponsive must give callers an answer (a 503 from
        # the API, a retried activity) within seconds, not after asyncpg's 60 s default.
        # A statement on a database that stopped answering (not closed: hung) ends after
        # command_timeout too; nothing here legitimately runs that long.
        pool_timeout=10,
        connect_args={"timeout": 5, "command_timeout": 15},
    )
