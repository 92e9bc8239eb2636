"""Alembic's environment: the connection ``oms migrate`` hands over, or, for the ``alembic``
command (new revisions, by hand), one made from ``DATABASE_URL``."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

from oms.db import tables  # noqa: F401  (registers the tables on the metadata)
from oms.db.migrate import include_object

config = context.config


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        include_object=include_object,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_settings() -> None:
    from oms.db.engine import make_engine
    from oms.settings import get_settings

    engine = make_engine(get_settings(), pool_size=1)
    async with engine.begin() as conn:
        await conn.run_sync(run)
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    asyncio.run(_run_from_settings())
