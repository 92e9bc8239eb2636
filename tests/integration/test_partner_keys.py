"""Partner keys over HTTP: scopes decide what a partner may do, a rotation leaves the old
secret working only for its grace period, and a key over its rate limit gets 429 with
Retry-After until its bucket refills."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tests.integration.helpers import order_body, stocked, submit, unique


async def _partner(admin: httpx.AsyncClient, *scopes: str, **extra: Any) -> dict[str, Any]:
    body = {"name": unique("partner"), "role": "partner", "scopes": list(scopes), **extra}
    response = await admin.post("/v1/keys", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _client(system: Any, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=system.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


@pytest.fixture
async def sku(admin):
    _wh, sku = await stocked(admin, 50)
    return sku


async def test_a_reader_lists_and_reads_orders_but_cannot_cancel_or_submit(admin, system, sku):
    order = await submit(admin, order_body([(sku, 1)], channel=unique("shop").lower()))
    reader = await _partner(admin, "orders:read")
    async with _client(system, reader["key"]) as http:
        listed = await http.get("/v1/orders", params={"limit": 200})
        one = await http.get(f"/v1/orders/{order['id']}")
        cancel = await http.post(f"/v1/orders/{order['id']}/cancel", json={"reason": "no"})
        posted = await http.post("/v1/orders", json=order_body([(sku, 1)]))
        keys = await http.get("/v1/keys")

    assert listed.status_code == 200 and one.status_code == 200
    assert order["id"] in [o["id"] for o in listed.json()["items"]]
    assert cancel.status_code == 403 and posted.status_code == 403 and keys.status_code == 403
    assert cancel.headers["content-type"] == "application/problem+json"


async def test_orders_write_for_one_channel_submits_only_there(admin, system, sku):
    shop, other = unique("shop").lower(), unique("other").lower()
    writer = await _partner(admin, f"orders:write:{shop}", f"orders:read:{shop}")
    mine = await submit(admin, order_body([(sku, 1)], channel=other))
    async with _client(system, writer["key"]) as http:
        ours = await http.post("/v1/orders", json=order_body([(sku, 1)], channel=shop))
        theirs = await http.post("/v1/orders", json=order_body([(sku, 1)], channel=other))
        listed = await http.get("/v1/orders", params={"limit": 200})
        hidden = await http.get(f"/v1/orders/{mine['id']}")
        filtered = await http.get("/v1/orders", params={"channel": other})

    assert ours.status_code == 202, ours.text
    assert theirs.status_code == 403
    assert {o["channel"] for o in listed.json()["items"]} == {shop}
    assert hidden.status_code == 404  # another channel's order does not exist for it
    assert filtered.json()["items"] == []


async def test_stock_sync_and_channel_scopes_open_only_their_endpoints(admin, system):
    wh, sku = await stocked(admin, 1)
    syncer = await _partner(admin, "stock:sync")
    viewer = await _partner(admin, "channels:read")
    level = {"warehouse_id": wh, "sku": sku, "on_hand": 7, "as_of": "2026-12-01T00:00:00Z"}
    async with _client(system, syncer["key"]) as http:
        synced = await http.post("/v1/stock/sync", json={"source": "erp", "items": [level]})
        orders = await http.get("/v1/orders")
        channels = await http.get("/v1/channels")
    async with _client(system, viewer["key"]) as http:
        listed = await http.get("/v1/channels")
        added = await http.post(
            "/v1/channels",
            json={"name": unique("c"), "platform": "native", "intake": "push", "secret": "s"},
        )

    assert synced.status_code == 200, synced.text
    assert orders.status_code == 403 and channels.status_code == 403
    assert listed.status_code == 200 and added.status_code == 403


async def test_scopes_belong_to_partner_keys_only_and_must_be_known(admin):
    for body in (
        {"name": unique("p"), "role": "partner"},
        {"name": unique("p"), "role": "partner", "scopes": []},
        {"name": unique("p"), "role": "partner", "scopes": ["orders:delete"]},
        {"name": unique("p"), "role": "operator", "scopes": ["orders:read"]},
    ):
        response = await admin.post("/v1/keys", json=body)
        assert response.status_code == 422, (body, response.text)
    listed = (await admin.get("/v1/keys")).json()["items"]
    assert all(not item["name"].startswith("p-") or item["role"] != "operator" for item in listed)


async def test_a_rotated_key_works_until_its_grace_ends_then_is_refused(admin, system):
    old = await _partner(admin, "orders:read")
    rotated = await admin.post(f"/v1/keys/{old['id']}/rotate", json={"grace_s": 1.5})
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    assert new["key"] != old["key"] and new["rotated_from"] == old["id"]
    assert (new["name"], new["role"], new["scopes"]) == (old["name"], "partner", ["orders:read"])

    async with _client(system, old["key"]) as before, _client(system, new["key"]) as after:
        assert (await before.get("/v1/orders")).status_code == 200  # inside the grace
        assert (await after.get("/v1/orders")).status_code == 200
        await asyncio.sleep(1.6)
        refused = await before.get("/v1/orders")
        assert (await after.get("/v1/orders")).status_code == 200
    assert refused.status_code == 401
    listed = {k["id"]: k for k in (await admin.get("/v1/keys")).json()["items"]}
    assert listed[old["id"]]["expires_at"] is not None
    assert listed[new["id"]]["rotated_from"] == old["id"]
    assert listed[old["id"]]["last_used_at"] is not None
    # An expired key cannot be rotated again.
    again = await admin.post(f"/v1/keys/{old['id']}/rotate", json={})
    assert again.status_code == 404


async def test_a_key_over_its_rate_limit_gets_429_with_retry_after_then_recovers(admin, system):
    limited = await _partner(admin, "channels:read", rate_limit_per_s=2.0)
    answers = []
    async with _client(system, limited["key"]) as http:
        for _ in range(6):  # a burst of 4 (twice the rate) passes, then the bucket is empty
            answers.append(await http.get("/v1/channels"))
        refused = answers[-1]
        wait = int(refused.headers["retry-after"])
        await asyncio.sleep(wait)
        recovered = await http.get("/v1/channels")

    codes = [r.status_code for r in answers]
    assert codes[:4] == [200] * 4 and 429 in codes[4:], codes
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert wait >= 1
    assert refused.headers["ratelimit-limit"] == "2"
    assert refused.headers["ratelimit-remaining"] == "0"
    assert answers[0].headers["ratelimit-limit"] == "2"
    assert recovered.status_code == 200


async def test_the_bootstrap_admin_key_is_never_limited(admin):
    started = time.monotonic()
    codes = [(await admin.get("/v1/channels")).status_code for _ in range(120)]
    assert codes == [200] * 120, f"{time.monotonic() - started:.1f} s"
    assert "ratelimit-limit" not in (await admin.get("/v1/channels")).headers
