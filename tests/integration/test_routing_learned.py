"""The learned routing strategies on the stack: shipments recorded on the timeline are
learned (``oms routing learn``), an order on a ``fastest`` channel goes to the warehouse
learned fastest although another is nearer, the comparison of strategies answers over
HTTP and from the shell, the cost table loads from a file, and wrong names and values are
refused."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import TEST_PAYLOAD_KEYS
from tests.integration.helpers import (
    TERMINAL,
    order_body,
    set_stock,
    submit,
    unique,
    wait_for_status,
)

OMS = str(Path(sys.executable).parent / "oms")
SECRET = "routing-secret-" + "x" * 16


async def _oms(system: Any, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "DATABASE_URL": system.settings.database_url,
        "OMS_PAYLOAD_KEYS": TEST_PAYLOAD_KEYS,
        "TEMPORAL_ADDRESS": system.settings.temporal_target,
    }
    return await asyncio.to_thread(
        subprocess.run,
        [OMS, *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def _warehouse(http: httpx.AsyncClient, lat: float, lon: float, priority: int = 1) -> str:
    wid = unique("wh")
    body = {"id": wid, "name": wid, "country": "DE", "lat": lat, "lon": lon, "priority": priority}
    assert (await http.post("/v1/warehouses", json=body)).status_code == 201
    return wid


_ORDER = text(
    "INSERT INTO orders (id, channel, external_id, request_hash, customer_id, status, "
    "last_seq, view, created_at, updated_at) VALUES (:id, 'history', :id, 'h', 'c-h', "
    "'delivered', 2, CAST(:view AS jsonb), :at, :at)"
)
_SHIPMENT = text(
    "INSERT INTO shipments (id, order_id, warehouse_id, status, created_at, updated_at) "
    "VALUES (:sid, :id, :w, 'delivered', :at, :at)"
)
_EVENT = text(
    "INSERT INTO order_events (order_id, seq, type, status, data, created_at) "
    "VALUES (:id, :seq, :type, :status, CAST(:data AS jsonb), :at)"
)


def _view(oid: str, at: datetime) -> dict[str, Any]:
    """A whole order view, as every reader of the session's shared database expects one
    (the operator's list, the contract run reading every order it shows)."""
    return {
        "id": oid,
        "channel": "history",
        "status": "delivered",
        "external_id": oid,
        "currency": "EUR",
        "customer": {"id": "c-h", "email": "history@example.com", "name": "History Customer"},
        "lines": [{"sku": "HIST-SKU", "quantity": 1, "unit_price": "10.00", "line_id": ""}],
        "totals": {"subtotal": "10.00", "total": "10.00"},
        "shipping_address": {
            "name": "History Customer",
            "line1": "Invalidenstrasse 1",
            "city": "Berlin",
            "postal_code": "10117",
            "country": "DE",
        },
        "payment": {
            "method": "card",
            "status": "captured",
            "authorized": "10.00",
            "captured": "10.00",
        },
        "created_at": at.isoformat(),
        "updated_at": at.isoformat(),
        "shipments": [],
    }


async def _history(engine: AsyncEngine, warehouse: str, days: list[float]) -> None:
    """Delivered parcels from ``warehouse`` to Berlin (DE, 10...), one order each, with
    their dispatch and delivery on the timeline as the order workflow records them."""
    sent = datetime.now(UTC) - timedelta(days=20)
    async with engine.begin() as conn:
        for n, took in enumerate(days):
            oid = f"hist-{uuid.uuid4().hex[:12]}"
            sid = f"{oid}-1"
            at = sent + timedelta(hours=n)
            view = _view(oid, at)
            await conn.execute(_ORDER, {"id": oid, "view": json.dumps(view), "at": at})
            await conn.execute(_SHIPMENT, {"sid": sid, "id": oid, "w": warehouse, "at": at})
            for seq, kind, status, moment in (
                (1, "shipment_dispatched", "dispatched", at),
                (2, "shipment_delivered", "delivered", at + timedelta(days=took)),
            ):
                params = {
                    "id": oid,
                    "seq": seq,
                    "type": kind,
                    "status": status,
                    "data": json.dumps({"shipment_id": sid, "tracking_number": None}),
                    "at": moment,
                }
                await conn.execute(_EVENT, params)


async def test_an_order_on_a_fastest_channel_goes_where_deliveries_were_fastest(
    system, admin, engine
):
    # From Germany's centroid (the order gives no coordinates) the first is next door,
    # the second in Lisbon; but the first has taken five days to Berlin, the second one.
    near = await _warehouse(admin, 51.1, 10.4)
    far = await _warehouse(admin, 38.7, -9.1, priority=2)
    await _history(engine, near, [4.5, 5.0, 5.0, 5.5, 5.0, 6.0])
    await _history(engine, far, [1.0, 0.8, 1.2, 1.0, 1.1, 0.9])
    learned = await _oms(system, "routing", "learn")
    assert learned.returncode == 0, learned.stderr
    assert learned.stdout.startswith("learned from ")
    times = await _oms(system, "routing", "times", "--warehouse", far)
    assert f"{far:<20} DE-10" in times.stdout and "    6 " in times.stdout

    name = unique("fast").lower()
    assert (await admin.post("/v1/channels", json=_push(name))).status_code == 201
    changed = await _oms(system, "channels", "set", name, "--routing", "fastest")
    assert changed.returncode == 0, changed.stderr
    sku = unique("SKU")
    await set_stock(admin, near, sku, 5)
    await set_stock(admin, far, sku, 5)

    placed = await submit(admin, order_body([(sku, 2)], channel=name))
    order = await wait_for_status(admin, placed["id"], TERMINAL)
    events = (await admin.get(f"/v1/orders/{placed['id']}/events")).json()["items"]

    assert [s["warehouse_id"] for s in order["shipments"]] == [far]
    reserved = next(e for e in events if e["type"] == "stock_reserved")["data"]
    assert reserved["strategy"] == "fastest"
    assert reserved["expected_days"] == 1.0  # the mean of the six parcels
    weighed = {c["warehouse_id"]: c for c in reserved["candidates"]}
    assert weighed[near]["distance_km"] < weighed[far]["distance_km"]
    assert weighed[near]["expected_days"] == 5.1667

    one = await admin.get(f"/v1/insights/routing/orders/{placed['id']}")
    assert one.status_code == 200, one.text
    compared = one.json()
    assert (compared["strategy"], compared["country"], compared["area"]) == ("fastest", "DE", "10")
    assert compared["options"]["nearest"]["warehouses"] == [near]
    assert compared["options"]["nearest"]["expected_days"] == 5.1667
    assert compared["options"]["fastest"]["warehouses"] == [far]

    report = await admin.get("/v1/insights/routing", params={"channel": name, "orders": 10})
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["orders"] == 1 and body["chosen"]["mean_expected_days"] == 1.0
    per = {s["strategy"]: s for s in body["strategies"]}
    assert per["fastest"]["chosen"] == 1 and per["nearest"]["chosen"] == 0
    assert per["nearest"]["mean_expected_days"] > per["fastest"]["mean_expected_days"]
    assert per["nearest"]["same_as_chosen"] == 0 and per["fastest"]["same_as_chosen"] == 1
    assert [i["order_id"] for i in body["items"]] == [placed["id"]]

    shell = await _oms(system, "routing", "compare", "--channel", name, "--json")
    assert shell.returncode == 0, shell.stderr
    assert json.loads(shell.stdout)["strategies"] == body["strategies"]
    table = await _oms(system, "routing", "compare", "--channel", name)
    assert "fastest" in table.stdout and "1 orders of channel" in table.stdout


def _push(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "platform": "shopify", "intake": "push", "secret": SECRET, **extra}


async def test_bad_strategy_names_and_values_are_refused_and_change_nothing(system, admin):
    name = unique("bad").lower()
    refused = await admin.post("/v1/channels", json=_push(name, routing="quickest"))
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert (await admin.get(f"/v1/channels/{name}")).status_code == 404

    assert (
        await admin.post("/v1/channels", json=_push(name, routing="cheapest"))
    ).status_code == 201
    patched = await admin.patch(f"/v1/channels/{name}", json={"routing": "slowest"})
    assert patched.status_code == 422
    assert (await admin.get(f"/v1/channels/{name}")).json()["routing"] == "cheapest"
    shell = await _oms(system, "channels", "set", name, "--routing", "quickest")
    assert shell.returncode == 2 and "invalid choice" in shell.stderr

    for params in ({"since": "yesterday"}, {"orders": "5000"}, {"channel": "Not A Name"}):
        answer = await admin.get("/v1/insights/routing", params=params)
        assert answer.status_code == 422, params
        assert answer.headers["content-type"].startswith("application/problem+json")
    missing = await admin.get("/v1/insights/routing/orders/no-such-order")
    assert missing.status_code == 404 and missing.json()["type"].endswith("not-found")


async def test_shipping_costs_load_from_a_file_whole_or_not_at_all(system, admin, tmp_path):
    wid = await _warehouse(admin, 52.5, 13.4)
    good = tmp_path / "costs.csv"
    good.write_text(
        f"warehouse_id,country,area,base,per_unit\n{wid},DE,10,3.20,0.15\n{wid},,,6.50,0.40\n"
    )
    loaded = await _oms(system, "routing", "costs", "load", str(good))
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "2 cost rows loaded from costs.csv"

    bad = tmp_path / "bad.csv"
    bad.write_text(f"warehouse_id,country,area,base,per_unit\n{wid},DE,10,9,0\n{wid},DEU,,x,0\n")
    refused = await _oms(system, "routing", "costs", "load", str(bad))
    assert refused.returncode == 2 and "line 3" in refused.stderr
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("warehouse_id,country,area,base,per_unit\nwh-nowhere,DE,,1,0\n")
    stranger = await _oms(system, "routing", "costs", "load", str(unknown))
    assert stranger.returncode == 2 and "wh-nowhere" in stranger.stderr

    listed = await _oms(system, "routing", "costs", "list")
    mine = [line.split() for line in listed.stdout.splitlines() if line.startswith(wid)]
    assert mine == [[wid, "*", "*", "6.50", "0.40"], [wid, "DE", "10", "3.20", "0.15"]]


async def test_the_evaluation_shows_learned_fastest_beating_nearest_and_priority(system):
    run = await _oms(system, "routing", "evaluate", "--orders", "300", "--seed", "7", "--json")
    assert run.returncode == 0, run.stderr
    figures = {s["strategy"]: s for s in json.loads(run.stdout)["strategies"]}
    assert figures["fastest"]["mean_days"] < figures["nearest"]["mean_days"]
    assert figures["fastest"]["mean_days"] < figures["priority"]["mean_days"]
    assert figures["fastest"]["p90_days"] < figures["nearest"]["p90_days"]
    assert figures["cheapest"]["mean_cost"] <= figures["fastest"]["mean_cost"]
    assert figures["fastest"]["split_share"] <= figures["nearest"]["split_share"]


async def test_the_workers_refresh_loop_learns_new_parcels_on_its_own(engine, admin):
    from oms.routing_learning import learn_loop
    from oms.store import routing as routing_store

    wid = await _warehouse(admin, 50.0, 8.0)
    await _history(engine, wid, [2.0, 3.0, 4.0])

    async def learned() -> list[Any]:
        return [r for r in await routing_store.lead_times(engine) if r.warehouse_id == wid]

    loop = asyncio.create_task(learn_loop(engine, 0.05, 90.0))
    try:
        for _ in range(200):
            rows = await learned()
            if rows:
                break
            await asyncio.sleep(0.05)
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
    overall = {(r.country, r.area): r for r in rows}[("", "")]
    assert (overall.samples, overall.mean_days, overall.median_days) == (3, 3.0, 3.0)
    assert overall.p90_days == 3.8
