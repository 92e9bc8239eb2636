"""The sandbox WMS refusing dispatches per warehouse: the setting, the admin call, the answer.

Most tests serve a simulator app of their own (lifespan off, as in test_sim_faults), so the
refusals they set never reach the shared session simulator. The last one sets a refusal for
a warehouse of its own on the shared simulator and follows an order through the real
adapter, activity and workflows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from oms.adapters.wms import HttpWarehouseSystem, WmsRejected
from oms.settings import Settings
from simulators.app import create_sim_app
from simulators.refusals import RefusalError, Refusals, parse_warehouses
from tests.conftest import System
from tests.integration.helpers import (
    TERMINAL,
    order_body,
    stocked,
    submit,
    unique,
    wait_for_status,
)
from tests.integration.test_sim_faults import ADMIN, serving, sim_app

# --- the set, without a server -------------------------------------------------------------


def test_the_setting_is_comma_separated_ids() -> None:
    assert parse_warehouses("") == set()
    assert parse_warehouses(" WH-A, WH-B ,,") == {"WH-A", "WH-B"}
    refusals = Refusals.from_setting("WH-A")
    assert refusals.refuses("WH-A") and not refusals.refuses("WH-B")
    assert not refusals.refuses("")


def test_a_replacement_is_all_or_nothing() -> None:
    refusals = Refusals(["WH-A"])
    for bad in (
        ["WH-B"],
        {"warehouse": ["WH-B"]},
        {"warehouses": "WH-B"},
        {"warehouses": ["WH-B", 3]},
        {"warehouses": ["WH-B", " "]},
        {"warehouses": ["WH-B"], "extra": 1},
    ):
        with pytest.raises(RefusalError):
            refusals.replace(bad)
    assert refusals.to_json() == {"warehouses": ["WH-A"]}
    refusals.replace({"warehouses": ["WH-C", "WH-B", "WH-C"]})
    assert refusals.to_json() == {"warehouses": ["WH-B", "WH-C"]}
    refusals.replace({"warehouses": []})
    assert not refusals.refuses("WH-B")


def test_the_app_takes_the_refusals_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("OMS_SIM_REFUSE_WAREHOUSES", "WH-A, WH-B")
    # An engine is made but never connected: the lifespan does not run.
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:9/none")
    assert settings.sim_refuse_warehouses == "WH-A, WH-B"
    app = create_sim_app(settings)
    assert app.state.refusals.to_json() == {"warehouses": ["WH-A", "WH-B"]}
    monkeypatch.delenv("OMS_SIM_REFUSE_WAREHOUSES")
    unset = create_sim_app(Settings(database_url=settings.database_url))
    assert unset.state.refusals.to_json() == {"warehouses": []}


# --- a simulator of the test's own ---------------------------------------------------------


@pytest.fixture
async def sim(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with sim_app(settings, engine) as http:
        yield http


def dispatch(warehouse_id: str) -> dict[str, Any]:
    return {
        "shipment_id": unique("shp"),
        "order_id": unique("ord"),
        "warehouse_id": warehouse_id,
        "lines": [{"sku": "SKU-1", "quantity": 1}],
    }


async def post_dispatch(
    http: httpx.AsyncClient, settings: Settings, warehouse_id: str
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {settings.wms_api_key}"}
    return await http.post("/wms/dispatches", json=dispatch(warehouse_id), headers=headers)


async def set_refusals(http: httpx.AsyncClient, warehouses: list[str]) -> dict[str, Any]:
    response = await http.put("/sim/wms/refusals", json={"warehouses": warehouses}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_the_admin_call_needs_the_admin_key(sim):
    assert (await sim.get("/sim/wms/refusals")).status_code == 401
    wrong = {"Authorization": "Bearer not-the-key"}
    body = {"warehouses": ["WH-A"]}
    assert (await sim.put("/sim/wms/refusals", json=body, headers=wrong)).status_code == 401
    assert (await sim.put("/sim/wms/refusals", json=body)).status_code == 401
    assert (await sim.get("/sim/wms/refusals", headers=ADMIN)).json() == {"warehouses": []}


async def test_without_an_admin_key_the_call_is_open(settings, engine):
    async with sim_app(settings.model_copy(update={"admin_api_key": None}), engine) as sim:
        response = await sim.put("/sim/wms/refusals", json={"warehouses": ["WH-A"]})
        assert response.status_code == 200
        assert (await sim.get("/sim/wms/refusals")).json() == {"warehouses": ["WH-A"]}


async def test_a_put_replaces_the_set_and_rejects_bad_bodies(sim):
    await set_refusals(sim, ["WH-A", "WH-B"])
    assert await set_refusals(sim, ["WH-C"]) == {"warehouses": ["WH-C"]}
    for bad in ({"warehouses": "WH-A"}, {"warehouses": [1]}, ["WH-A"], {}):
        response = await sim.put("/sim/wms/refusals", json=bad, headers=ADMIN)
        assert response.status_code == 422, bad
    not_json = await sim.put("/sim/wms/refusals", content=b"{", headers=ADMIN)
    assert not_json.status_code == 422
    assert (await sim.get("/sim/wms/refusals", headers=ADMIN)).json() == {"warehouses": ["WH-C"]}


async def test_a_refusing_warehouse_answers_422_and_another_is_accepted(sim, settings):
    refusing, other = unique("WH-NO"), unique("WH-YES")
    await set_refusals(sim, [refusing])

    refused = await post_dispatch(sim, settings, refusing)
    assert refused.status_code == 422
    assert refused.json() == {"detail": f"warehouse {refusing} refuses dispatches"}
    accepted = await post_dispatch(sim, settings, other)
    assert accepted.status_code == 202, accepted.text
    # The key still comes first: a caller without it learns nothing about refusals.
    assert (await sim.post("/wms/dispatches", json=dispatch(refusing))).status_code == 401

    await set_refusals(sim, [])
    assert (await post_dispatch(sim, settings, refusing)).status_code == 202


async def test_the_setting_refuses_from_the_start_and_the_adapter_does_not_retry(settings, engine):
    refusing = unique("WH-NO")
    app = create_sim_app(
        settings.model_copy(update={"sim_refuse_warehouses": f"{refusing}, WH-OTHER-NO"}), engine
    )
    async with serving(app) as url:
        wms = HttpWarehouseSystem(f"{url}/wms", settings.wms_api_key)
        try:
            with pytest.raises(WmsRejected, match="refuses dispatches"):
                await wms.dispatch(dispatch(refusing))
            accepted = dispatch(unique("WH-YES"))
            assert await wms.dispatch(accepted) == f"wms-{accepted['shipment_id']}"
        finally:
            await wms.aclose()


# --- the shared system: an order for a refusing warehouse ----------------------------------


async def test_an_order_for_a_refusing_warehouse_fails_its_dispatch(system: System, admin):
    warehouse, sku = await stocked(admin, 3)
    sim_url = f"http://127.0.0.1:{system.settings.sim_port}"
    async with httpx.AsyncClient(base_url=sim_url, timeout=10) as sim:
        before = (await sim.get("/sim/wms/refusals", headers=ADMIN)).json()["warehouses"]
        await set_refusals(sim, [*before, warehouse])
        try:
            order = await submit(admin, order_body([(sku, 2)]))
            done = await wait_for_status(admin, order["id"], TERMINAL)
        finally:
            await set_refusals(sim, before)

    assert done["status"] == "failed"
    assert done["failure_reason"] == "dispatch_failed"
    assert done["payment"]["status"] == "voided"
    assert [s["status"] for s in done["shipments"]] == ["failed"]
    stock = (await admin.get(f"/v1/stock/{sku}")).json()
    assert stock["warehouses"][0]["reserved"] == 0
