"""Pull sync: the `wms-stock-sync` Schedule starts the workflow that reads the sandbox WMS's
levels and applies them with source "wms"; the WMS's levels drop as it ships."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import httpx
import pytest
from temporalio.service import RPCError, RPCStatusCode

from tests.conftest import ADMIN_KEY
from tests.integration.helpers import (
    TERMINAL,
    add_warehouse,
    order_body,
    submit,
    unique,
    wait_for_status,
)
from worker.schedules import WMS_STOCK_SYNC, ensure_wms_stock_sync


async def _level(http: httpx.AsyncClient, sku: str, wanted: Any, within: float = 30) -> Any:
    """The SKU's only stock row once ``wanted(row)`` holds."""
    deadline = time.monotonic() + within
    row: Any = None
    while time.monotonic() < deadline:
        answer = await http.get(f"/v1/stock/{sku}")
        if answer.status_code == 200:
            (row,) = answer.json()["warehouses"]
            if wanted(row):
                return row
        await asyncio.sleep(0.2)
    raise AssertionError(f"stock of {sku} stayed {row}")


def _at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


@pytest.fixture
async def sim(system):
    async with httpx.AsyncClient(
        base_url=system.settings.sim_base_url,
        timeout=30,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    ) as http:
        yield http


async def test_the_schedule_pulls_the_wms_levels_and_they_drop_as_it_ships(system, admin, sim):
    wh, sku = await add_warehouse(admin), unique("SKU")
    level = {"warehouse_id": wh, "sku": sku, "on_hand": 10}
    put = await sim.put("/sim/wms/stock", json={"items": [level]})
    assert put.status_code == 200, put.text
    every_hour = system.settings.model_copy(update={"wms_sync_interval_s": 3600})
    await ensure_wms_stock_sync(system.client, every_hour)
    await ensure_wms_stock_sync(system.client, every_hour)  # a second start updates it
    schedule = system.client.get_schedule_handle(WMS_STOCK_SYNC)
    try:
        described = await schedule.describe()
        await schedule.trigger()
        pulled = await _level(admin, sku, lambda r: r["source"] == "wms")

        order = await submit(admin, order_body([(sku, 3)]))
        done = await wait_for_status(admin, order["id"], TERMINAL)
        wms_key = {"Authorization": f"Bearer {system.settings.wms_api_key}"}
        wms = await sim.get("/wms/stock", params={"warehouse_id": wh}, headers=wms_key)
        (shipped,) = wms.json()["items"]
        await schedule.trigger()
        again = await _level(admin, sku, lambda r: _at(r["as_of"]) > _at(pulled["as_of"]))
    finally:
        await ensure_wms_stock_sync(system.client, system.settings)  # interval 0: deleted

    assert described.schedule.spec.intervals[0].every.total_seconds() == 3600
    assert (pulled["on_hand"], pulled["reserved"]) == (10, 0)
    assert done["status"] == "delivered"
    assert shipped["on_hand"] == 7  # the WMS shipped 3
    assert (again["on_hand"], again["source"]) == (7, "wms")
    assert _at(again["as_of"]) == _at(shipped["as_of"])  # the time the WMS shipped
    with pytest.raises(RPCError) as gone:
        await schedule.describe()
    assert gone.value.status == RPCStatusCode.NOT_FOUND


async def test_the_wms_stock_needs_the_wms_key_and_its_admin_call_the_admin_key(system, sim):
    async with httpx.AsyncClient(base_url=system.settings.sim_base_url, timeout=30) as anyone:
        read = await anyone.get("/wms/stock")
        write = await anyone.put("/sim/wms/stock", json={"items": []})
    malformed = await sim.put("/sim/wms/stock", json={"items": [{"sku": "X-1", "on_hand": -1}]})
    assert (read.status_code, write.status_code, malformed.status_code) == (401, 401, 422)
