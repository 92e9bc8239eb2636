"""PostgreSQL behind PgBouncer in transaction mode (docs/deployment.md, "A connection
pooler"): with ``OMS_DATABASE_POOLER=transaction`` an API and a worker whose every
connection goes through the pooler take orders to delivery, and a backordered order is
woken by its stock through the LISTEN connection that goes to PostgreSQL directly. Without
the setting, the same statements fail behind the same pooler.

PgBouncer is Debian's (``make test`` installs it when it can, as it does Chromium)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import text

from devtools import pgbouncer
from devtools.pgbouncer import Bouncer
from devtools.ports import free_port
from oms.db.engine import make_engine, one_statement
from oms.settings import Settings
from tests.conftest import System, served_api, stop_worker
from tests.integration.helpers import (
    add_warehouse,
    order_body,
    set_stock,
    stocked,
    submit,
    unique,
    wait_for_status,
)

POOL_SIZE = 3  # server connections the pooler keeps: fewer than the clients' own pools


@pytest.fixture(scope="module")
def bouncer(pg_url: str) -> Iterator[Bouncer]:
    """PgBouncer in transaction mode in front of the session's PostgreSQL."""
    try:
        pgbouncer.binary()
    except pgbouncer.PgBouncerMissing as missing:
        pytest.skip(str(missing))
    with pgbouncer.running(pg_url, pool_size=POOL_SIZE) as running:
        yield running


async def _hammer(settings: Settings) -> list[str]:
    """Statements as the OMS makes them (single autocommit statements and transactions of
    several), 20 clients at once, through an engine built from ``settings``: the errors."""
    engine = make_engine(settings, pool_size=10)
    errors: list[str] = []

    async def client(n: int) -> None:
        for i in range(20):
            try:
                if i % 2:
                    async with one_statement(engine) as conn:
                        await conn.execute(text("SELECT CAST(:n AS int) + 1"), {"n": n})
                else:
                    async with engine.begin() as conn:
                        await conn.execute(text("SELECT CAST(:n AS text)"), {"n": str(n)})
                        await conn.execute(
                            text("SELECT count(*) FROM pg_class WHERE relname = :r"),
                            {"r": "orders"},
                        )
            except Exception as exc:
                errors.append(str(exc)[:200])

    try:
        await asyncio.gather(*(client(n) for n in range(20)))
    finally:
        await engine.dispose()
    return errors


async def test_without_the_setting_statements_fail_behind_the_pooler_and_with_it_none_do(
    settings: Settings, bouncer: Bouncer
) -> None:
    plain = await _hammer(settings.model_copy(update={"database_url": bouncer.url}))
    assert plain and all("prepared statement" in e for e in plain), plain[:3]
    pooled = await _hammer(
        settings.model_copy(update={"database_url": bouncer.url, "database_pooler": "transaction"})
    )
    assert pooled == []


@pytest.fixture(scope="module")
async def pooled(system: System, bouncer: Bouncer) -> AsyncIterator[httpx.AsyncClient]:
    """An API, a worker and a backorder waker whose database is reached only through the
    pooler (the waker's LISTEN excepted: it goes to PostgreSQL directly)."""
    from worker.backorder_waker import BackorderWaker
    from worker.main import build_worker

    pooled_settings = system.settings.model_copy(
        update={
            "database_url": bouncer.url,
            "database_pooler": "transaction",
            "listen_database_url": system.settings.database_url,
            "task_queue": "oms-test-pgbouncer",
            "api_port": free_port(),
            "shortage": "default:backorder",
        }
    )
    engine = make_engine(pooled_settings, pool_size=5)
    worker = build_worker(system.client, engine, pooled_settings)
    worker_task = asyncio.create_task(worker.run())
    stop = asyncio.Event()
    waker = asyncio.create_task(
        BackorderWaker(system.client, pooled_settings.listen_dsn()).run(stop)
    )
    try:
        async with served_api(system, pooled_settings, engine) as (_, http):
            yield http
    finally:
        stop.set()
        await asyncio.gather(waker, return_exceptions=True)
        await stop_worker(worker, worker_task, "pgbouncer")
        await engine.dispose()


async def test_orders_are_delivered_and_a_backorder_is_woken_with_every_query_through_the_pooler(
    system: System, bouncer: Bouncer, pooled: httpx.AsyncClient
) -> None:
    logins_before = bouncer.logins()
    warehouse, sku = await stocked(pooled, on_hand=50)
    orders = await asyncio.gather(
        *(submit(pooled, order_body([(sku, 1 + n % 3)])) for n in range(12))
    )
    delivered = await asyncio.gather(
        *(wait_for_status(pooled, o["id"], {"delivered"}, within=120) for o in orders)
    )
    assert all(d["status"] == "delivered" for d in delivered)
    units = sum(1 + n % 3 for n in range(12))

    # Short stock: the order waits as a backorder until the stock arrives, which the waker
    # hears on its direct connection.
    short = unique("PGB")
    short_warehouse = await add_warehouse(pooled)
    await set_stock(pooled, short_warehouse, short, 0)
    waiting = await submit(pooled, order_body([(short, 2)]))
    await wait_for_status(pooled, waiting["id"], {"backordered"})
    await set_stock(pooled, short_warehouse, short, 5)
    await wait_for_status(pooled, waiting["id"], {"delivered"}, within=120)

    # The books, read directly: every unit shipped from the right warehouse, and the
    # pooler carried the stack's connections.
    async with system.engine.connect() as conn:
        on_hand = (
            await conn.execute(
                text("SELECT on_hand, reserved FROM stock WHERE warehouse_id = :w AND sku = :s"),
                {"w": warehouse, "s": sku},
            )
        ).one()
    assert (on_hand.on_hand, on_hand.reserved) == (50 - units, 0)
    assert bouncer.logins() > logins_before
