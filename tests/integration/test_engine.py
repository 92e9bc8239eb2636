"""The engine's pool: a connection the database dropped while it sat idle is replaced
before anyone uses it; one-statement reads run without a transaction around them."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from oms.db.engine import make_engine, one_statement
from oms.settings import Settings

_PID = text("SELECT pg_backend_pid()")


async def _drop_idle_connection(engine: AsyncEngine, admin: AsyncEngine) -> int:
    """Open the pool's one connection, give it back, and have the server end it."""
    async with engine.connect() as conn:
        pid = (await conn.execute(_PID)).scalar_one()
    async with admin.connect() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    await asyncio.sleep(0.3)  # longer than the idle limit below
    return int(pid)


async def test_a_connection_dropped_while_idle_is_replaced_not_failed(
    settings: Settings, engine: AsyncEngine
):
    pooled = make_engine(settings, pool_size=1, ping_idle_s=0.1)
    try:
        dropped = await _drop_idle_connection(pooled, engine)
        async with pooled.connect() as conn:
            assert (await conn.execute(_PID)).scalar_one() != dropped
    finally:
        await pooled.dispose()


async def test_without_the_ping_the_first_caller_meets_the_dropped_connection(
    settings: Settings, engine: AsyncEngine
):
    pooled = make_engine(settings, pool_size=1, ping_idle_s=None)
    try:
        await _drop_idle_connection(pooled, engine)
        with pytest.raises(DBAPIError):
            async with pooled.connect() as conn:
                await conn.execute(_PID)
        async with pooled.connect() as conn:  # the pool dropped it: the next one works
            assert (await conn.execute(_PID)).scalar_one() > 0
    finally:
        await pooled.dispose()


async def test_one_statement_runs_outside_a_transaction(engine: AsyncEngine):
    async with one_statement(engine) as conn:
        assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
        raw = await conn.get_raw_connection()
        assert not raw.driver_connection.is_in_transaction()
    async with engine.connect() as conn:  # a plain connection opens one for its reads
        await conn.execute(text("SELECT 1"))
        raw = await conn.get_raw_connection()
        assert raw.driver_connection.is_in_transaction()
