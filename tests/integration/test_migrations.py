"""Upgrades never lose data: a database made by the first release (tables, no version
table) is upgraded in place with every row kept, and the migrations build exactly the
schema the code describes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from oms.db.engine import make_engine
from oms.db.migrate import SCRIPTS, current_revision, head, include_object, migrate
from oms.settings import Settings

RELEASE_1 = [s for s in (SCRIPTS / "release_1.sql").read_text().split(";\n") if s.strip()]

# One row in every table of the first release, as its code wrote them.
ROWS = [
    "INSERT INTO api_keys (name, role, channel, prefix, key_hash, created_at) "
    "VALUES ('shop', 'channel', 'webshop', 'oms_ab', 'h1', now())",
    "INSERT INTO warehouses (id, name, country, lat, lon, priority, created_at) "
    "VALUES ('wh-1', 'One', 'DE', 52.5, 13.4, 1, now())",
    "INSERT INTO stock (warehouse_id, sku, on_hand, reserved, updated_at) "
    "VALUES ('wh-1', 'SKU-1', 10, 2, now())",
    "INSERT INTO stock_movements (warehouse_id, sku, kind, on_hand_delta, reserved_delta, "
    "reason, order_id, created_at) VALUES ('wh-1', 'SKU-1', 'reserve', 0, 2, 'order', "
    "'o-1', now())",
    "INSERT INTO reservations (order_id, warehouse_id, sku, quantity, status, created_at, "
    "updated_at) VALUES ('o-1', 'wh-1', 'SKU-1', 2, 'held', now(), now())",
    "INSERT INTO orders (id, channel, external_id, request_hash, customer_id, status, "
    "last_seq, view, created_at, updated_at) VALUES ('o-1', 'webshop', 'A-1', 'h', 'c-1', "
    "'reserved', 2, '{\"id\": \"o-1\"}', now(), now())",
    "INSERT INTO order_events (order_id, seq, type, status, data, created_at) "
    "VALUES ('o-1', 1, 'stock_reserved', 'reserved', '{}', now())",
    "INSERT INTO shipments (id, order_id, warehouse_id, status, created_at, updated_at) "
    "VALUES ('o-1-1', 'o-1', 'wh-1', 'pending', now(), now())",
    "INSERT INTO payments (order_id, kind, status, amount, currency, idempotency_key, "
    "created_at) VALUES ('o-1', 'authorize', 'succeeded', 39.80, 'EUR', 'o-1-authorize', "
    "now())",
]
TABLES = [
    "api_keys",
    "warehouses",
    "stock",
    "stock_movements",
    "reservations",
    "orders",
    "order_events",
    "shipments",
    "payments",
]


@pytest.fixture
async def blank(engine: AsyncEngine, settings: Settings) -> AsyncIterator[AsyncEngine]:
    """A database of its own, empty."""
    name = f"mig_{uuid.uuid4().hex[:8]}"
    async with engine.connect() as conn:
        admin = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await admin.execute(text(f"CREATE DATABASE {name}"))
    assert settings.database_url is not None
    url = settings.database_url.replace("/postgres?", f"/{name}?", 1)
    db = make_engine(settings.model_copy(update={"database_url": url}), pool_size=1)
    yield db
    await db.dispose()
    async with engine.connect() as conn:
        admin = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await admin.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))


async def _count(db: AsyncEngine, table: str) -> int:
    async with db.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def test_a_database_of_the_first_release_is_upgraded_with_every_row_kept(blank):
    async with blank.begin() as conn:
        for statement in RELEASE_1:  # the schema release 1 made, without a version table
            await conn.exec_driver_sql(statement)
        for row in ROWS:
            await conn.execute(text(row))

    await migrate(blank)

    for table in TABLES:
        assert await _count(blank, table) == 1, table
    async with blank.connect() as conn:
        assert await conn.run_sync(current_revision) == head()
        assert await conn.run_sync(lambda c: inspect(c).has_table("partner_events"))
        order = (await conn.execute(text("SELECT view, status FROM orders"))).one()
    assert order.view == {"id": "o-1"} and order.status == "reserved"
    # And the upgraded database works for the new code: the new table takes rows.
    async with blank.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO partner_events (partner, event_id, body_hash, shipment_id, "
                "accepted, response, created_at) VALUES ('carrier', 'e1', 'h', 'o-1-1', true, "
                "'{}', now())"
            )
        )


async def test_migrating_a_current_database_again_changes_nothing(blank):
    await migrate(blank)
    async with blank.begin() as conn:
        for row in ROWS:
            await conn.execute(text(row))
    await migrate(blank)
    assert [await _count(blank, t) for t in TABLES] == [1] * len(TABLES)


async def test_the_migrations_build_exactly_the_schema_the_code_describes(blank):
    await migrate(blank)

    def differences(sync_conn):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(
            sync_conn, opts={"include_object": include_object, "compare_type": True}
        )
        return compare_metadata(context, SQLModel.metadata)

    async with blank.connect() as conn:
        assert await conn.run_sync(differences) == []
