"""The backlog limit on the real stack: an API whose task queue has no worker sees the
backlog grow in Temporal; once it is at the limit a new order gets 429 ``backlog-full``
with Retry-After and nothing is recorded, while a replay of an accepted order is answered
as before; a stale or absent sample refuses nothing."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from api.backlog import BacklogSampler
from devtools.ports import free_port
from oms.backlog import Sample, TaskQueueStats
from tests.conftest import System, served_api
from tests.integration.helpers import has_workflow, order_body, stocked, unique
from tests.integration.test_channel_push import add_channel, push, shopify_order


@asynccontextmanager
async def api(system: System, **overrides: Any) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An API of its own (its task queue: no worker polls it unless one is given)."""
    settings = system.settings.model_copy(update={"api_port": free_port(), **overrides})
    async with served_api(system, settings, system.engine) as served:
        yield served


def gauge(scrape: str, name: str, **labels: str) -> float | None:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{name}{{{wanted}}} (\S+)$" if labels else rf"^{name} (\S+)$"
    found = re.search(pattern, scrape, re.MULTILINE)
    return float(found.group(1)) if found else None


async def backlog_seen(http: httpx.AsyncClient, at_least: float, within_s: float = 30) -> float:
    """The API's ``oms_backlog`` gauge once it reaches ``at_least`` (Temporal's figures are
    refreshed every few seconds)."""
    deadline = time.monotonic() + within_s
    while True:
        seen = gauge((await http.get("/metrics")).text, "oms_backlog")
        if seen is not None and seen >= at_least:
            return seen
        assert time.monotonic() < deadline, f"backlog {seen} never reached {at_least}"
        await asyncio.sleep(0.3)


async def pile_up(system: System, queue: str, n: int) -> list[str]:
    """``n`` workflows on a queue that no worker polls: n tasks waiting in Temporal."""
    ids = [unique("backlog") for _ in range(n)]
    for workflow_id in ids:
        await system.client.start_workflow("backlog.nothing", id=workflow_id, task_queue=queue)
    return ids


async def terminate(system: System, ids: list[str]) -> None:
    for workflow_id in ids:
        try:
            await system.client.get_workflow_handle(workflow_id).terminate("test over")
        except Exception:  # already gone
            pass


async def row_count(system: System, external_id: str) -> int:
    async with system.engine.connect() as conn:
        query = text("SELECT count(*) FROM orders WHERE external_id = :e")
        return int((await conn.execute(query, {"e": external_id})).scalar_one())


async def test_a_new_order_is_refused_while_the_backlog_is_full_and_a_replay_is_not(
    admin: httpx.AsyncClient, system: System
) -> None:
    _wh, sku = await stocked(admin, 10)
    queue = unique("oms-test-backlog")
    accepted = order_body([(sku, 1)])
    from oms.domain.ids import order_id_for

    order_id = order_id_for(accepted["channel"], accepted["external_id"])
    piled: list[str] = []
    try:
        # Under the limit: accepted (its workflow waits on the worker-less queue).
        async with api(system, task_queue=queue, backlog_limit=1000) as (_app, http):
            first = await http.post("/v1/orders", json=accepted)
            assert first.status_code == 202, first.text
            assert first.json()["id"] == order_id
        piled = await pile_up(system, queue, 12)
        async with api(system, task_queue=queue, backlog_limit=5, backlog_check_s=0.2) as (
            _app,
            http,
        ):
            scrape = (await http.get("/metrics")).text
            assert gauge(scrape, "oms_backlog_limit") == 5
            await backlog_seen(http, 5)

            # A new order: 429, a problem, Retry-After, and nothing recorded or started.
            new = order_body([(sku, 1)])
            refused = await http.post("/v1/orders", json=new)
            assert refused.status_code == 429, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")
            problem = refused.json()
            assert problem["type"].endswith("backlog-full") and problem["status"] == 429
            assert problem["limit"] == 5 and problem["backlog"] >= 5
            # No worker takes anything from the queue: the longest wait.
            assert refused.headers["Retry-After"] == "60"
            assert await row_count(system, new["external_id"]) == 0
            refused_id = order_id_for(new["channel"], new["external_id"])
            assert not await has_workflow(system, refused_id)

            # A replay of the order accepted before: answered as before.
            replay = await http.post("/v1/orders", json=accepted)
            assert replay.status_code == 202, replay.text
            assert replay.headers["Idempotent-Replayed"] == "true"
            assert replay.json()["id"] == order_id
            assert await row_count(system, accepted["external_id"]) == 1

            scrape = (await http.get("/metrics")).text
            assert gauge(scrape, "oms_backlog_refusals_total", intake="orders") == 1
            assert (gauge(scrape, "oms_backlog_temporal_tasks") or 0) >= 5
    finally:
        await terminate(system, [*piled, f"order-{order_id}"])


async def test_a_shopify_push_of_a_new_order_is_refused_while_the_backlog_is_full(
    admin: httpx.AsyncClient, system: System
) -> None:
    _wh, sku = await stocked(admin, 10)
    queue = unique("oms-test-backlog")
    channel = await add_channel(admin, system)
    piled = await pile_up(system, queue, 8)
    try:
        async with api(system, task_queue=queue, backlog_limit=5, backlog_check_s=0.2) as (
            _app,
            http,
        ):
            await backlog_seen(http, 5)
            refused = await push(http, channel, shopify_order(sku))
            assert refused.status_code == 429, refused.text
            assert refused.json()["type"].endswith("backlog-full")
            assert 1 <= int(refused.headers["Retry-After"]) <= 60
            async with system.engine.connect() as conn:
                query = text("SELECT count(*) FROM orders WHERE channel = :c")
                assert (await conn.execute(query, {"c": channel})).scalar_one() == 0
            scrape = (await http.get("/metrics")).text
            assert gauge(scrape, "oms_backlog_refusals_total", intake="webhooks") == 1
    finally:
        await terminate(system, piled)


@pytest.mark.parametrize("sample", ["stale", "absent"])
async def test_a_stale_or_absent_sample_refuses_nothing(
    admin: httpx.AsyncClient, system: System, sample: str
) -> None:
    _wh, sku = await stocked(admin, 10)
    # The shared queue (its worker runs the order); a period long enough that the sampler
    # does not replace the sample the test sets.
    async with api(system, backlog_limit=1, backlog_check_s=60) as (app, http):
        sampler: BacklogSampler = app.state.backlog
        for _ in range(100):  # the sampler's first reading, taken at start
            if sampler.sample is not None:
                break
            await asyncio.sleep(0.05)
        full = TaskQueueStats(backlog=500, dispatch_per_s=10.0, add_per_s=30.0, oldest_s=9.0)
        sampler.sample = (
            Sample(time.monotonic() - 3 * 60 - 1, full, 500) if sample == "stale" else None
        )
        answer = await http.post("/v1/orders", json=order_body([(sku, 1)]))
        assert answer.status_code == 202, answer.text
        # The same backlog, fresh: refused, with the estimate from the dispatch rate.
        sampler.sample = Sample(time.monotonic(), full, 500)
        refused = await http.post("/v1/orders", json=order_body([(sku, 1)]))
        assert refused.status_code == 429, refused.text
        assert refused.headers["Retry-After"] == "50"  # (500 - 1 + 1) / 10 a second
        scrape = (await http.get("/metrics")).text
        assert gauge(scrape, "oms_backlog") == 500
