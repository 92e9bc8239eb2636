"""The async engine: one per process, built from settings."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from oms.settings import Settings


def make_engine(settings: Settings, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(
        settings.async_database_url(),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
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
