"""Fault injection in the partner simulators, and the gateway's void by key.

Each test serves a simulator app of its own on a free port, so the faults it injects never
reach the shared session simulator. Lifespan is off: its courier would otherwise pick up
the shared system's parcels and play them under this test's faults. The courier is tested
by calling it directly against a recording app.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from devtools.ports import free_port
from oms.settings import Settings
from oms.webhooks import SIGNATURE_HEADER
from simulators.app import create_sim_app
from simulators.faults import FaultBook
from simulators.gateway import _auth_id
from simulators.tables import create_tables
from simulators.wms import Courier
from tests.conftest import ADMIN_KEY


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def sim_app(
    settings: Settings, engine: AsyncEngine, faults: dict[str, Any] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    await create_tables(engine)
    app = create_sim_app(settings.model_copy(update={"sim_faults": faults or {}}), engine)
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        yield http


@pytest.fixture
async def sim(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with sim_app(settings, engine) as http:
        yield http


def gateway_headers(settings: Settings, key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.payment_gateway_key}", "Idempotency-Key": key}


ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
CARD = {"token": "tok_ok", "currency": "EUR", "amount": "12.50"}


def key(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def set_faults(http: httpx.AsyncClient, faults: dict[str, Any]) -> dict[str, Any]:
    response = await http.put("/sim/faults", json=faults, headers=ADMIN)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def authorization_row(engine: AsyncEngine, authorize_key: str) -> Any:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                text("SELECT captured, voided FROM sim_gateway_authorizations WHERE id = :id"),
                {"id": _auth_id(authorize_key)},
            )
        ).first()


async def request_count(engine: AsyncEngine, idempotency_key: str) -> int:
    async with engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    text("SELECT count(*) FROM sim_gateway_requests WHERE idempotency_key = :k"),
                    {"k": idempotency_key},
                )
            ).scalar_one()
        )


# --- refusals ------------------------------------------------------------------------------


async def test_error_rate_one_answers_503_and_writes_nothing(sim, settings, engine):
    await set_faults(sim, {"gateway": {"error_rate": 1}, "wms": {"error_rate": 1}})
    auth_key = key("err")
    response = await sim.post(
        "/gateway/authorizations", json=CARD, headers=gateway_headers(settings, auth_key)
    )
    assert response.status_code == 503
    assert "simulated error" in response.json()["detail"]
    assert await request_count(engine, auth_key) == 0
    assert await authorization_row(engine, auth_key) is None

    shipment = key("shp")
    response = await sim.post(
        "/wms/dispatches",
        json={"shipment_id": shipment, "order_id": "o", "lines": [{"sku": "A", "quantity": 1}]},
        headers={"Authorization": f"Bearer {settings.wms_api_key}"},
    )
    assert response.status_code == 503
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT 1 FROM sim_wms_dispatches WHERE shipment_id = :s"), {"s": shipment}
        )
        assert rows.first() is None


async def test_an_outage_refuses_everything_until_cleared(sim, settings):
    state = await set_faults(sim, {"gateway": {"outage_s": 60}})
    assert state["gateway"]["outage_until"] > time.time() + 50
    auth_key = key("out")
    headers = gateway_headers(settings, auth_key)
    response = await sim.post("/gateway/authorizations", json=CARD, headers=headers)
    assert response.status_code == 503
    assert "outage" in response.json()["detail"]

    state = await set_faults(sim, {"gateway": {"outage_s": 0}})
    assert state["gateway"]["outage_until"] is None
    response = await sim.post("/gateway/authorizations", json=CARD, headers=headers)
    assert response.status_code == 201
    assert response.json()["status"] == "authorized"


async def test_latency_holds_every_answer(sim, settings):
    await set_faults(sim, {"wms": {"latency_s": 0.3}})
    started = time.monotonic()
    response = await sim.post(
        "/wms/dispatches", json={}, headers={"Authorization": f"Bearer {settings.wms_api_key}"}
    )
    assert response.status_code == 422  # answered after the delay, nothing written
    assert time.monotonic() - started >= 0.3


# --- timeouts: done, but the caller cannot tell ---------------------------------------------


async def test_a_timed_out_authorization_is_made_and_a_retry_gets_it(settings, engine):
    # Set from the settings this time, as OMS_SIM_FAULTS would.
    faults = {"gateway": {"timeout_rate": 1, "timeout_s": 1}}
    async with sim_app(settings, engine, faults) as sim:
        auth_key = key("slow")
        headers = gateway_headers(settings, auth_key)
        with pytest.raises(httpx.TimeoutException):
            await sim.post("/gateway/authorizations", json=CARD, headers=headers, timeout=0.3)
        # Committed before the stall: the authorization exists though nobody heard of it.
        row = await authorization_row(engine, auth_key)
        assert row is not None and not row.voided

        await set_faults(sim, {"gateway": {"timeout_rate": 0}})
        retry = await sim.post("/gateway/authorizations", json=CARD, headers=headers)
        assert retry.status_code == 201
        assert retry.json() == {"id": _auth_id(auth_key), "status": "authorized", "amount": "12.50"}


# --- void by key -------------------------------------------------------------------------


async def void_by_key(
    sim: httpx.AsyncClient, settings: Settings, authorize_key: str, own_key: str | None = None
) -> httpx.Response:
    return await sim.post(
        f"/gateway/authorizations/by-key/{authorize_key}/void",
        headers=gateway_headers(settings, own_key or key("void")),
    )


async def test_void_by_key_voids_an_existing_authorization(sim, settings, engine):
    auth_key = key("auth")
    made = await sim.post(
        "/gateway/authorizations", json=CARD, headers=gateway_headers(settings, auth_key)
    )
    assert made.status_code == 201
    void_key = key("void")
    voided = await void_by_key(sim, settings, auth_key, void_key)
    assert voided.status_code == 200
    assert voided.json() == {"id": made.json()["id"], "status": "voided"}
    assert (await authorization_row(engine, auth_key)).voided
    # Idempotent by its own key; and a voided authorization cannot be captured.
    assert (await void_by_key(sim, settings, auth_key, void_key)).json() == voided.json()
    capture = await sim.post(
        f"/gateway/authorizations/{made.json()['id']}/capture",
        json={"amount": "12.50"},
        headers=gateway_headers(settings, key("cap")),
    )
    assert capture.status_code == 409


async def test_void_by_key_before_the_authorization_blocks_it(sim, settings, engine):
    auth_key = key("late")
    first = await void_by_key(sim, settings, auth_key)
    assert first.status_code == 200
    assert first.json() == {"id": None, "status": "nothing_to_void"}
    late = await sim.post(
        "/gateway/authorizations", json=CARD, headers=gateway_headers(settings, auth_key)
    )
    assert late.status_code == 409
    assert late.json() == {"detail": "voided before authorization"}
    assert await authorization_row(engine, auth_key) is None
    # A second void finds nothing either, and leaves the stored refusal in place.
    assert (await void_by_key(sim, settings, auth_key)).json()["status"] == "nothing_to_void"


async def test_void_by_key_after_a_capture_is_409(sim, settings):
    auth_key = key("cap")
    made = await sim.post(
        "/gateway/authorizations", json=CARD, headers=gateway_headers(settings, auth_key)
    )
    captured = await sim.post(
        f"/gateway/authorizations/{made.json()['id']}/capture",
        json={"amount": "12.50"},
        headers=gateway_headers(settings, key("capture")),
    )
    assert captured.status_code == 200
    assert (await void_by_key(sim, settings, auth_key)).status_code == 409


async def test_void_by_key_racing_the_authorization_never_leaves_it_open(sim, settings, engine):
    auth_keys = [key("race") for _ in range(6)]

    async def authorize(auth_key: str) -> httpx.Response:
        return await sim.post(
            "/gateway/authorizations", json=CARD, headers=gateway_headers(settings, auth_key)
        )

    async def both(auth_key: str) -> list[httpx.Response]:
        return await asyncio.gather(authorize(auth_key), void_by_key(sim, settings, auth_key))

    answers = await asyncio.gather(*(both(k) for k in auth_keys))
    for auth_key, (made, void) in zip(auth_keys, answers, strict=True):
        if made.status_code == 201:
            assert void.json()["status"] == "voided"
        else:
            assert made.status_code == 409
            assert void.json()["status"] == "nothing_to_void"
        row = await authorization_row(engine, auth_key)
        assert row is None or row.voided


async def test_void_by_key_needs_the_gateway_key_and_an_idempotency_key(sim, settings):
    path = f"/gateway/authorizations/by-key/{key('x')}/void"
    assert (await sim.post(path, headers={"Idempotency-Key": "k"})).status_code == 401
    bearer = {"Authorization": f"Bearer {settings.payment_gateway_key}"}
    assert (await sim.post(path, headers=bearer)).status_code == 400


# --- the admin call ------------------------------------------------------------------------


async def test_fault_admin_needs_the_admin_key_and_rejects_unknowns(sim):
    assert (await sim.get("/sim/faults")).status_code == 401
    wrong = {"Authorization": "Bearer not-the-key"}
    assert (await sim.put("/sim/faults", json={}, headers=wrong)).status_code == 401
    state = (await sim.get("/sim/faults", headers=ADMIN)).json()
    assert set(state) == {"gateway", "wms", "carrier"}

    for bad in (
        {"bank": {"error_rate": 0.5}},
        {"gateway": {"error_rte": 0.5}},
        {"gateway": {"duplicate_rate": 0.5}},
        {"gateway": {"error_rate": 2}},
    ):
        response = await sim.put("/sim/faults", json=bad, headers=ADMIN)
        assert response.status_code == 422, bad
    not_json = await sim.put("/sim/faults", content=b"{", headers=ADMIN)
    assert not_json.status_code == 422

    # Merged, not replaced: fields and partners not named keep their values.
    await set_faults(sim, {"carrier": {"duplicate_rate": 0.3}})
    state = await set_faults(sim, {"carrier": {"latency_s": 0.1}})
    assert state["carrier"]["duplicate_rate"] == 0.3
    assert state["carrier"]["latency_s"] == 0.1
    assert (await sim.get("/sim/faults", headers=ADMIN)).json() == state


# --- the courier's callbacks ---------------------------------------------------------------


def recorder() -> tuple[FastAPI, list[tuple[str, bytes, str | None]]]:
    """Stands in for the OMS: accepts every callback and remembers it."""
    app = FastAPI()
    seen: list[tuple[str, bytes, str | None]] = []

    @app.post("/v1/{path}")
    async def record(path: str, request: Request) -> dict[str, bool]:
        seen.append((path, await request.body(), request.headers.get(SIGNATURE_HEADER)))
        return {"ok": True}

    return app, seen


def parcel(stage: int) -> Any:
    return SimpleNamespace(
        shipment_id=key("shp"), order_id="ord-1", tracking_number="SIMTEST", stage=stage, attempts=0
    )


async def test_courier_callbacks_obey_the_partner_faults(settings, engine):
    app, seen = recorder()
    book = FaultBook({"carrier": {"duplicate_rate": 1}}, seed=1)
    async with serving(app) as url:
        courier = Courier(engine, settings.model_copy(update={"api_url": url}), book)
        try:
            # Carrier events are posted twice, byte for byte (same event id and signature).
            assert await courier._post(parcel(stage=1))
            assert len(seen) == 2 and seen[0] == seen[1]
            assert seen[0][0] == "carrier-events"
            assert json.loads(seen[0][1])["status"] == "in_transit"
            # The warehouse's shipped event obeys the "wms" faults: no duplicates there.
            assert await courier._post(parcel(stage=0))
            assert len(seen) == 3 and seen[2][0] == "warehouse-events"

            # A refused callback is not sent and counts as not delivered (so it backs off).
            book.update({"carrier": {"error_rate": 1}, "wms": {"outage_s": 60}})
            assert not await courier._post(parcel(stage=2))
            assert not await courier._post(parcel(stage=0))
            assert len(seen) == 3
        finally:
            await courier.aclose()
