"""Pulled channel orders end to end: a Taobao and a PDD channel against the marketplace
simulator, on the real worker's schedule. Orders the platform changes (paid, paid later,
closed unpaid, refund asked) reach the OMS once each, in their platform state, and the
paid ones are shipped and reported back to the platform."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_KEY
from tests.integration.helpers import stocked, unique, wait_for_status


async def add_pull_channel(http: httpx.AsyncClient, system: Any, platform: str) -> str:
    name = unique(platform).lower()
    settings = system.settings
    body = {
        "name": name,
        "platform": platform,
        "intake": "pull",
        "mode": "live",
        "credentials": {
            "base_url": f"http://127.0.0.1:{settings.sim_port}/{platform}",
            "app_key": settings.sim_market_app_key,
            "app_secret": settings.sim_market_app_secret,
        },
        "pull_interval_s": 1.0,
        "pull_lag_s": 1.0,
        "payment_timeout_s": 600.0,
    }
    response = await http.post("/v1/channels", json=body)
    assert response.status_code == 201, response.text
    return name


async def sim(system: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{system.settings.sim_port}/sim/market",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=10,
    )


async def orders_of(http: httpx.AsyncClient, channel: str) -> list[dict[str, Any]]:
    items = (await http.get("/v1/orders", params={"channel": channel, "limit": 100})).json()
    return list(items["items"])


async def until(check: Any, within: float = 60.0) -> Any:
    for _ in range(int(within / 0.25)):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.25)
    raise AssertionError("not reached in time")


@pytest.mark.parametrize("platform", ["taobao", "pdd"])
async def test_a_pull_channel_takes_each_changed_order_once_in_its_platform_state(
    admin, system, platform
):
    _wh, sku = await stocked(admin, 100)
    channel = await add_pull_channel(admin, system, platform)
    async with await sim(system) as market:
        paid = (
            await market.post(
                "/orders",
                json={
                    "platform": platform,
                    "count": 4,
                    "seed": 3,
                    "skus": [sku],
                    "paid_ratio": 1.0,
                    "unpaid_then_paid_ratio": 0.0,
                    "closed_ratio": 0.0,
                },
            )
        ).json()["ids"]
        unpaid = (
            await market.post(
                "/orders",
                json={
                    "platform": platform,
                    "count": 2,
                    "seed": 4,
                    "skus": [sku],
                    "paid_ratio": 0.0,
                    "unpaid_then_paid_ratio": 0.0,
                    "closed_ratio": 0.0,
                },
            )
        ).json()["ids"]
        everything = {str(i) for i in paid + unpaid}

        # Taobao lists unpaid trades; PDD lists an order once it is paid.
        lists_unpaid = platform == "taobao"
        expected = everything if lists_unpaid else {str(i) for i in paid}

        async def all_taken() -> list[dict[str, Any]] | None:
            found = await orders_of(admin, channel)
            return found if {o["external_id"] for o in found} >= expected else None

        taken = await until(all_taken)
        assert len(taken) == len(expected)  # each once
        by_id = {o["external_id"]: o for o in taken}
        for ext in map(str, paid):
            done = await wait_for_status(admin, by_id[ext]["id"], {"delivered"})
            assert done["platform"]["prepaid"] is True
        if lists_unpaid:
            for ext in map(str, unpaid):
                waiting = (await admin.get(f"/v1/orders/{by_id[ext]['id']}")).json()
                assert waiting["status"] == "received"
                assert waiting["platform"]["state"] == "unpaid"

        # The buyer pays one, the other trade is closed: the pull brings both changes.
        pay, close = map(str, unpaid)
        assert (await market.post(f"/orders/{platform}/{pay}/pay")).status_code == 200
        assert (await market.post(f"/orders/{platform}/{close}/close")).status_code == 200

        async def paid_one() -> dict[str, Any] | None:
            found = {o["external_id"]: o for o in await orders_of(admin, channel)}
            return found.get(pay)

        await wait_for_status(admin, (await until(paid_one))["id"], {"delivered"})
        if lists_unpaid:
            closed = await wait_for_status(admin, by_id[close]["id"], {"cancelled"})
            assert closed["cancellation"]["by"] == f"channel:{channel}"
            expected = everything
        else:
            expected = {*expected, pay}  # closed unpaid: never listed, never taken

        feedback = (await market.get("/feedback")).json()["feedback"]
        shipped = {str(f["order_id"]) for f in feedback if f["accepted"]}
        assert {*map(str, paid), pay} <= shipped
    assert {o["external_id"] for o in await orders_of(admin, channel)} == expected
    status = (await admin.get(f"/v1/channels/{channel}")).json()
    assert status["pull_status"] is not None
    # Disabled: its schedule goes, nothing polls a platform after the test.
    assert (await admin.delete(f"/v1/channels/{channel}")).status_code in (200, 204)
