"""Schema migrations (Alembic, scripts in ``oms/db/migrations``). Run at every deploy
(``oms migrate``) and at every start of ``oms dev``: it upgrades a database made by any
earlier release and does nothing to one that is current.

A database made by the first release carries no version table (that release created its
tables directly): it is recognised by its tables and stamped as revision ``0001`` first.
Migrations run under an advisory lock, so two processes migrating at once take turns, on
a connection of their own without the engine's ``command_timeout`` (a few seconds, for the
API's answers): a migration that builds an index or fills a table from the existing rows
runs for minutes on a large database.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

_MIGRATION_LOCK = 7_301_001
SCRIPTS = Path(__file__).resolve().parent / "migrations"
FIRST_RELEASE = "0001"


def include_object(obj: object, name: str | None, type_: str, *_: object) -> bool:
    """What migrations manage: every table but the simulators' own (``sim_*``), which
    share the database in development."""
    return not (type_ == "table" and name is not None and name.startswith("sim_"))


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _upgrade(connection: Connection) -> None:
    config = alembic_config(connection)
    if current_revision(connection) is None and inspect(connection).has_table("orders"):
        command.stamp(config, FIRST_RELEASE)
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Upgrade the database of ``engine`` to the newest revision."""
    unbounded = create_async_engine(engine.url, poolclass=NullPool, connect_args={"timeout": 5})
    try:
        async with unbounded.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            await conn.run_sync(_upgrade)
    finally:
        await unbounded.dispose()
