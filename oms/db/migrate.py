"""Schema creation. Idempotent: run it at every deploy (``oms migrate``).

Tables are created from the SQLModel metadata under an advisory lock, so two processes
migrating at once do not trip over each other.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from oms.db import tables  # noqa: F401  (registers the tables on the metadata)

_MIGRATION_LOCK = 7_301_001


async def migrate(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        await conn.run_sync(SQLModel.metadata.create_all)
