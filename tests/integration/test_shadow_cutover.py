"""Side by side and the cut-over on the real stack: the current system's decisions loaded
(API and CLI) and the report against the OMS's shadow decisions; a pilot by country; a
switch while orders arrive concurrently, where every order gets exactly one system, by its
moment against the switch's; and moving back."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from tests.conftest import TEST_PAYLOAD_KEYS
from tests.integration.helpers import stocked, wait_for_status
from tests.integration.test_channel_push import add_channel, push, shopify_order

OMS = str(Path(sys.executable).parent / "oms")
CSV = {"Content-Type": "text/csv"}


async def _oms(system: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": system.settings.database_url,
        "OMS_PAYLOAD_KEYS": TEST_PAYLOAD_KEYS,
    }
    return await asyncio.to_thread(
        subprocess.run, [OMS, *args], env=env, capture_output=True, text=True, timeout=120
    )


def to(order: dict[str, Any], country: str) -> dict[str, Any]:
    order["shipping_address"]["country_code"] = country
    return order


async def shadowed_orders(admin: httpx.AsyncClient, sku: str, channel: str, n: int) -> list[Any]:
    orders = [shopify_order(sku) for _ in range(n)]
    taken = [(await push(admin, channel, o)).json() for o in orders]
    return [
        (o, await wait_for_status(admin, t["order_id"], {"shadowed"}))
        for o, t in zip(orders, taken, strict=True)
    ]


async def test_the_current_systems_decisions_are_loaded_and_reported_against_the_omss(
    admin, system
):
    wh, sku = await stocked(admin, 50)
    channel = await add_channel(admin, system, mode="shadow")
    (o1, d1), (o2, d2), (o3, _d3) = await shadowed_orders(admin, sku, channel, 3)
    decided = datetime.fromisoformat(d1["updated_at"])
    late = (decided + timedelta(hours=30)).isoformat()
    soon = (decided + timedelta(hours=2)).isoformat()
    export = (
        "external_id,held,cancelled,warehouses,shipped_at\n"
        f"{o1['id']},no,no,{wh},{soon}\n"
        f"{o2['id']},yes,no,{wh};wh-other,{late}\n"
        "ONLY-CURRENT-1,no,no,wh-x,\n"
    )
    loaded = await admin.post(
        "/v1/shadow/decisions", params={"channel": channel}, content=export, headers=CSV
    )
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["orders_loaded"] == 3

    answer = await admin.get("/v1/shadow/report", params={"channel": channel, "limit": 2})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["orders"] == {
        "oms": 3,
        "current": 3,
        "both": 2,
        "only_in_oms": 1,
        "only_in_current": 1,
        "live_in_oms": 0,
    }
    assert report["only_in_oms"] == [str(o3["id"])]
    assert report["only_in_current"] == ["ONLY-CURRENT-1"]
    decisions = report["decisions"]
    assert decisions["held"] == {"compared": 2, "agreed": 1, "rate": 0.5}
    assert decisions["cancelled"] == {"compared": 2, "agreed": 2, "rate": 1.0}
    assert decisions["warehouses"]["agreed"] == 1 and decisions["split"]["agreed"] == 1
    # Ship time only for orders neither side held: o1, about two hours after the OMS's
    # release (its decision plus the stack's cancel window).
    ship = decisions["ship_time"]
    assert ship["compared"] == 1 and ship["agreed"] == 1
    assert 1.5 < ship["p50_h"] <= 2.0
    # o2 differs in held, warehouses and split: three rows, paged two by two.
    assert report["differences_total"] == 3
    first = report["differences"]
    assert [d["decision"] for d in first] == ["held", "split"]
    assert first[0]["order_id"] == d2["id"] and first[0]["oms"] == "no"
    assert first[0]["current"] == "yes" and first[0]["hold_reasons"] == []
    rest = await admin.get(
        "/v1/shadow/report",
        params={"channel": channel, "limit": 2, "cursor": report["next_cursor"]},
    )
    assert [d["decision"] for d in rest.json()["differences"]] == ["warehouses"]
    assert rest.json()["next_cursor"] is None

    # A newer load replaces an order's row: o2 now agrees on everything.
    again = f"external_id,held,warehouses\n{o2['id']},no,{wh}\n"
    await admin.post(
        "/v1/shadow/decisions", params={"channel": channel}, content=again, headers=CSV
    )
    report = (await admin.get("/v1/shadow/report", params={"channel": channel})).json()
    assert report["decisions"]["held"] == {"compared": 2, "agreed": 2, "rate": 1.0}
    assert report["differences_total"] == 0
    # The channel's own endpoints still answer.
    listed = (await admin.get(f"/v1/channels/{channel}/shadow")).json()["items"]
    assert len(listed) == 3


async def test_a_bad_export_is_refused_by_line_and_stores_nothing(admin, system):
    channel = await add_channel(admin, system, mode="shadow")
    bad = "external_id,held,shipped_at\nA,no,2026-11-10T10:00:00Z\nB,maybe,\nC,no,yesterday\n"
    refused = await admin.post(
        "/v1/shadow/decisions", params={"channel": channel}, content=bad, headers=CSV
    )
    assert refused.status_code == 422
    problem = refused.json()
    assert [e["field"] for e in problem["errors"]] == ["line 3", "line 4"]
    report = (await admin.get("/v1/shadow/report", params={"channel": channel})).json()
    assert report["orders"]["current"] == 0
    missing = await admin.post(
        "/v1/shadow/decisions",
        params={"channel": "no-such-channel"},
        content="external_id\n",
        headers=CSV,
    )
    assert missing.status_code == 404


async def test_the_command_line_loads_and_reports(admin, system, tmp_path):
    wh, sku = await stocked(admin, 20)
    channel = await add_channel(admin, system, mode="shadow")
    [(order, _done)] = await shadowed_orders(admin, sku, channel, 1)
    export = tmp_path / "current.csv"
    export.write_text(f"external_id,held,warehouses\n{order['id']},yes,{wh}\n")
    loaded = await _oms(system, "shadow", "load", str(export), "--channel", channel)
    assert loaded.returncode == 0, loaded.stderr
    assert "for 1 orders loaded" in loaded.stdout

    shown = await _oms(system, "shadow", "report", "--channel", channel)
    assert shown.returncode == 0, shown.stderr
    assert "held" in shown.stdout and "0.0 %" in shown.stdout
    assert f"{order['id']}" in shown.stdout
    as_csv = await _oms(system, "shadow", "report", "--channel", channel, "--csv")
    assert as_csv.stdout.splitlines()[1].startswith(f"{order['id']},")
    assert ",held,no,yes," in as_csv.stdout

    bad = tmp_path / "bad.csv"
    bad.write_text("external_id,held\nX,perhaps\n")
    refused = await _oms(system, "shadow", "load", str(bad), "--channel", channel)
    assert refused.returncode == 2
    assert "line 2: held must be yes or no" in refused.stderr
    unknown = await _oms(system, "shadow", "report", "--channel", "no-such-channel")
    assert unknown.returncode == 1


async def test_a_pilot_hands_its_countries_orders_to_the_oms_and_the_rest_stay_in_shadow(
    admin, system
):
    _wh, sku = await stocked(admin, 20)
    channel = await add_channel(admin, system, mode="shadow")
    changed = await admin.patch(f"/v1/channels/{channel}", json={"live_countries": ["DE", "AT"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["live_countries"] == ["AT", "DE"]
    assert changed.json()["mode"] == "shadow"
    german = (await push(admin, channel, to(shopify_order(sku), "DE"))).json()
    french = (await push(admin, channel, to(shopify_order(sku), "FR"))).json()

    live = await wait_for_status(admin, german["order_id"], {"delivered"})
    assert live["platform"]["mode"] == "live" and live["shadow"] is None
    shadow = await wait_for_status(admin, french["order_id"], {"shadowed"})
    assert shadow["platform"]["mode"] == "shadow"
    lives = (await admin.get("/v1/orders", params={"channel": channel, "mode": "live"})).json()
    assert [o["id"] for o in lives["items"]] == [german["order_id"]]
    shadows = (await admin.get("/v1/orders", params={"channel": channel, "mode": "shadow"})).json()
    assert [o["id"] for o in shadows["items"]] == [french["order_id"]]

    refused = await admin.patch(f"/v1/channels/{channel}", json={"live_countries": ["XX"]})
    assert refused.status_code == 422
    # The whole channel going live ends the pilot.
    whole = (await admin.patch(f"/v1/channels/{channel}", json={"mode": "live"})).json()
    assert whole["live_countries"] == []


async def _switch_while_pushing(
    admin: httpx.AsyncClient, system: Any, channel: str, sku: str, to_mode: str, n: int
) -> tuple[list[str], datetime]:
    """Push ``n`` orders, eight at a time, and switch the channel to ``to_mode`` once a
    third of them were answered; the order ids and the switch's instant."""
    gate = asyncio.Semaphore(8)
    answered = 0
    third = asyncio.Event()

    async def one() -> str:
        nonlocal answered
        async with gate:
            response = await push(admin, channel, shopify_order(sku))
        assert response.status_code == 202, response.text
        answered += 1
        if answered >= n // 3:
            third.set()
        return str(response.json()["order_id"])

    tasks = [asyncio.create_task(one()) for _ in range(n)]
    await third.wait()
    switched = await admin.patch(f"/v1/channels/{channel}", json={"mode": to_mode})
    assert switched.status_code == 200, switched.text
    ids = await asyncio.gather(*tasks)
    return ids, datetime.fromisoformat(switched.json()["mode_changed_at"])


async def _modes(system: Any, ids: list[str]) -> list[tuple[str, datetime, str]]:
    async with system.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT id, created_at, view->'platform'->>'mode' AS mode FROM orders "
                "WHERE id = ANY(:ids)"
            ),
            {"ids": ids},
        )
        return [(r.id, r.created_at, r.mode) for r in rows]


async def test_a_switch_while_orders_arrive_gives_each_order_exactly_one_system_and_back(
    admin, system
):
    _wh, sku = await stocked(admin, 500)
    channel = await add_channel(admin, system, mode="shadow")

    ids, at = await _switch_while_pushing(admin, system, channel, sku, "live", 36)
    rows = await _modes(system, ids)
    assert len(rows) == len(set(ids)) == 36  # none lost, none twice
    for order_id, created_at, mode in rows:
        assert mode == ("live" if created_at >= at else "shadow"), (order_id, created_at, at)
    assert {m for _, _, m in rows} == {"live", "shadow"}  # the switch fell among them

    back, at_back = await _switch_while_pushing(admin, system, channel, sku, "shadow", 36)
    assert at_back > at
    rows_back = await _modes(system, back)
    assert len(rows_back) == 36
    for order_id, created_at, mode in rows_back:
        assert mode == ("shadow" if created_at >= at_back else "live"), (order_id, at_back)
    assert {m for _, _, m in rows_back} == {"live", "shadow"}

    # Each system's orders do what its mode says: a shadow order is only decided, a live
    # one is fulfilled (one of each, checked to the end).
    shadow_one = next(i for i, _, m in rows if m == "shadow")
    live_one = next(i for i, _, m in rows if m == "live")
    await wait_for_status(admin, shadow_one, {"shadowed"})
    await wait_for_status(admin, live_one, {"delivered"})


async def test_the_command_sets_a_pilot_and_prints_the_switchs_instant(admin, system):
    channel = await add_channel(admin, system, mode="shadow")
    piloted = await _oms(system, "channels", "set", channel, "--pilot", "de")
    assert piloted.returncode == 0, piloted.stderr
    shown = (await admin.get(f"/v1/channels/{channel}")).json()
    assert shown["live_countries"] == ["DE"]
    assert f"switched to shadow (pilot: DE live) at {shown['mode_changed_at']}" in piloted.stdout
    assert f"GET /v1/orders?channel={channel}&mode=live" in piloted.stdout
    same = await _oms(system, "channels", "set", channel, "--pilot", "DE")
    assert "no switch" in same.stdout
    bad = await _oms(system, "channels", "set", channel, "--pilot", "DE,XX")
    assert bad.returncode == 2 and "XX" in bad.stderr
    assert (await admin.get(f"/v1/channels/{channel}")).json()["live_countries"] == ["DE"]


async def test_an_order_sent_to_post_orders_for_a_shadow_channel_is_decided_in_shadow(
    admin, system
):
    from tests.integration.helpers import order_body, submit

    wh, sku = await stocked(admin, 10)
    channel = await add_channel(admin, system, mode="shadow", platform="native")
    body = order_body([(sku, 1)])
    body["channel"] = channel
    created = await submit(admin, body)
    done = await wait_for_status(admin, created["id"], {"shadowed"})
    assert done["platform"]["mode"] == "shadow"
    assert done["shadow"]["shipments"][0]["warehouse_id"] == wh
    assert (await admin.get(f"/v1/stock/{sku}")).json()["available"] == 10
