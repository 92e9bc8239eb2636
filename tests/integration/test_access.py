"""API keys and roles: who may do what, and what everyone else gets."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from tests.integration.helpers import order_body, stocked, submit, unique


async def _key(admin, role: str, channel: str | None = None) -> str:
    body = {"name": unique(role), "role": role}
    if channel:
        body["channel"] = channel
    response = await admin.post("/v1/keys", json=body)
    assert response.status_code == 201, response.text
    return response.json()["key"]


def _client(system, key: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(base_url=system.api_url, headers=headers, timeout=30)


@pytest.fixture
async def sku(admin):
    _wh, sku = await stocked(admin, 20)
    return sku


async def test_requests_without_a_valid_key_are_401_problems(system):
    for key in (None, "oms_not-a-real-key"):
        async with _client(system, key) as http:
            response = await http.get("/v1/orders")
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"


async def test_keys_are_stored_hashed_never_in_clear(admin, system):
    key = await _key(admin, "operator")
    async with system.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT key_hash, prefix FROM api_keys"))).all()
    assert all(key not in (r.key_hash, r.prefix) for r in rows)
    listed = (await admin.get("/v1/keys")).json()["items"]
    assert all("key" not in item for item in listed)


async def test_a_channel_key_submits_only_for_its_own_channel(admin, system, sku):
    channel = unique("shop").lower()
    key = await _key(admin, "channel", channel)
    async with _client(system, key) as shop:
        mine = await shop.post("/v1/orders", json=order_body([(sku, 1)], channel=channel))
        theirs = await shop.post("/v1/orders", json=order_body([(sku, 1)], channel="other"))
    assert mine.status_code == 202
    assert theirs.status_code == 403


async def test_a_channel_sees_only_its_own_orders(admin, system, sku):
    a, b = unique("shopa").lower(), unique("shopb").lower()
    key_a, key_b = await _key(admin, "channel", a), await _key(admin, "channel", b)
    async with _client(system, key_a) as shop_a:
        order = await submit(shop_a, order_body([(sku, 1)], channel=a))
        own = await shop_a.get(f"/v1/orders/{order['id']}")
        listed = (await shop_a.get("/v1/orders", params={"channel": b})).json()
    async with _client(system, key_b) as shop_b:
        other = await shop_b.get(f"/v1/orders/{order['id']}")
        other_events = await shop_b.get(f"/v1/orders/{order['id']}/events")
        listing = (await shop_b.get("/v1/orders")).json()
    assert own.status_code == 200
    assert listed["items"] == []
    assert other.status_code == 404
    assert other_events.status_code == 404
    assert all(item["channel"] == b for item in listing["items"])


async def test_channel_and_operator_limits(admin, system, sku):
    channel = unique("shop").lower()
    shop_key = await _key(admin, "channel", channel)
    ops_key = await _key(admin, "operator")
    async with _client(system, shop_key) as shop, _client(system, ops_key) as ops:
        order = await submit(shop, order_body([(sku, 1)], channel=channel))
        # channel: no operator actions, no stock changes, no ledger, no keys
        assert (await shop.post(f"/v1/orders/{order['id']}/cancel")).status_code == 403
        assert (await shop.put(f"/v1/stock/x/{sku}", json={"on_hand": 1})).status_code == 403
        assert (await shop.get("/v1/payments", params={"order_id": order["id"]})).status_code == 403
        assert (await shop.post("/v1/keys", json={"name": "x", "role": "admin"})).status_code == 403
        # operator: reads everything and manages stock, but no warehouses or keys, no submit
        assert (await ops.get(f"/v1/orders/{order['id']}")).status_code == 200
        assert (await ops.get("/v1/payments", params={"order_id": order["id"]})).status_code == 200
        assert (await ops.post("/v1/orders", json=order_body([(sku, 1)]))).status_code == 403
        assert (
            await ops.post(
                "/v1/warehouses",
                json={
                    "id": unique("wh"),
                    "name": "x",
                    "country": "DE",
                    "lat": 1,
                    "lon": 1,
                },
            )
        ).status_code == 403
        assert (await ops.get("/v1/keys")).status_code == 403


async def test_the_environment_admin_key_is_accepted(system):
    async with _client(system, system.settings.admin_api_key) as http:
        response = await http.get("/v1/keys")
    assert response.status_code == 200


async def test_oms_keys_create_prints_a_working_key_on_its_last_line(system):
    import asyncio
    import os
    import sys
    from pathlib import Path

    env = {**os.environ, "DATABASE_URL": system.settings.database_url or ""}
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "oms"),
        "keys",
        "create",
        "--role",
        "operator",
        "--name",
        "night-shift",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    key = out.decode().strip().splitlines()[-1]
    assert key.startswith("oms_") and " " not in key
    async with _client(system, key) as http:
        assert (await http.get("/v1/orders", params={"limit": 1})).status_code == 200
        assert (await http.get("/v1/keys")).status_code == 403  # an operator, not an admin


async def test_a_revoked_key_is_refused(admin, system):
    response = await admin.post("/v1/keys", json={"name": unique("temp"), "role": "operator"})
    key, key_id = response.json()["key"], response.json()["id"]
    async with _client(system, key) as http:
        assert (await http.get("/v1/orders", params={"limit": 1})).status_code == 200
        assert (await admin.delete(f"/v1/keys/{key_id}")).status_code == 204
        assert (await http.get("/v1/orders", params={"limit": 1})).status_code == 401
    assert (await admin.delete(f"/v1/keys/{key_id}")).status_code == 204
    assert (await admin.delete("/v1/keys/999999999")).status_code == 404
    listed = {k["id"]: k for k in (await admin.get("/v1/keys")).json()["items"]}
    assert listed[key_id]["revoked_at"] is not None
