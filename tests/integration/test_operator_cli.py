"""`oms orders`: the operator's commands against the running API, as a shell user runs them."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from api.updates import FOLLOWS
from tests.conftest import ADMIN_KEY, custom_stack
from tests.integration.helpers import TERMINAL, order_body, stocked, submit, wait_for_status

OMS = str(Path(sys.executable).parent / "oms")


async def _oms(api_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMS_API_URL": api_url, "OMS_API_KEY": ADMIN_KEY}
    return await asyncio.to_thread(
        subprocess.run, [OMS, *args], env=env, capture_output=True, text=True, timeout=60
    )


async def test_an_operator_lists_shows_and_approves_from_a_shell(system):
    rules = {"hold_high_value": "EUR:100", "hold_velocity_count": 1_000_000}
    async with custom_stack(system, "cli", {}, **rules) as http:
        api = str(http.base_url).rstrip("/")
        _, sku = await stocked(http, 5)
        order = await submit(http, order_body([(sku, 1, "150.00")]))
        await wait_for_status(http, order["id"], {"on_hold"})

        listed = await _oms(api, "orders", "list", "--status", "on_hold", "--json")
        assert listed.returncode == 0, listed.stderr
        assert order["id"] in [o["id"] for o in json.loads(listed.stdout)["items"]]
        table = await _oms(api, "orders", "list", "--status", "on_hold")
        assert order["id"] in table.stdout and "high_value" in table.stdout
        shown = await _oms(api, "orders", "show", order["id"])
        assert "order_held" in shown.stdout

        approved = await _oms(
            api, "orders", "approve", order["id"], "--by", "alice", "--note", "phoned"
        )
        assert approved.returncode == 0, approved.stderr
        said = approved.stdout.splitlines()
        assert said[0].startswith(f"approve {order['id']}: accepted in status on_hold; next:")
        assert said[1].startswith("status now ") and "on_hold" not in said[1]
        done = await wait_for_status(http, order["id"], TERMINAL)
        refused = await _oms(api, "orders", "cancel", order["id"], "--by", "alice")
    assert done["status"] == "delivered"
    assert done["hold"]["decision"]["note"] == "phoned"
    assert refused.returncode == 1
    assert "409" in refused.stderr


async def test_a_cancel_waits_for_the_outcome_unless_told_not_to(system):
    async with custom_stack(system, "cli-cancel", {}, release_delay_s=30) as http:
        api = str(http.base_url).rstrip("/")
        _, sku = await stocked(http, 5)
        waited, at_once = [await submit(http, order_body([(sku, 1)])) for _ in range(2)]
        for order in (waited, at_once):
            await wait_for_status(http, order["id"], {"reserved"})

        cancelled = await _oms(api, "orders", "cancel", waited["id"], "--by", "alice")
        quick = await _oms(api, "orders", "cancel", at_once["id"], "--by", "bob", "--no-wait")
        assert (await wait_for_status(http, at_once["id"], TERMINAL))["status"] == "cancelled"
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.splitlines() == [
        f"cancel {waited['id']}: accepted in status reserved; next: {FOLLOWS['cancel'][1]}",
        "status now cancelled",
    ]
    assert quick.returncode == 0, quick.stderr
    assert quick.stdout.splitlines()[0].startswith(f"cancel {at_once['id']}: accepted in status")
    assert quick.stdout.splitlines()[1].startswith("not waiting: status ")
    assert f"oms orders show {at_once['id']}" in quick.stdout


async def test_an_unreachable_api_is_a_message_and_exit_2():
    result = await _oms("http://127.0.0.1:9", "orders", "list")
    assert result.returncode == 2
    assert "cannot be reached" in result.stderr
    assert "Traceback" not in result.stderr
