"""Holds and approvals: rules hold an order before stock is reserved; the API, the Web UI's
signal and a shell decide; late and silent orders raise alerts. What needs the stack:
the hold facts from PostgreSQL, the API's answers, search attributes, stored and sent
alerts. Every branch of the workflow's holds and timers (expiry, stale alerts, the SLA)
runs in seconds on the time-skipping server: tests/workflows/."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from sqlalchemy import text

from tests.conftest import System, custom_stack
from tests.integration.helpers import (
    TERMINAL,
    order_body,
    stocked,
    submit,
    unique,
    wait_for_status,
)

HELD = {"on_hold"}
# Held over 100 EUR; new customers never (a 1e9 threshold), velocity off.
RULES = {
    "hold_high_value": "EUR:100",
    "hold_new_customer_value": "EUR:1000000000",
    "hold_velocity_count": 1_000_000,
}


async def _events(http: httpx.AsyncClient, order_id: str) -> list[dict[str, Any]]:
    return list((await http.get(f"/v1/orders/{order_id}/events")).json()["items"])


async def _reserved(system: System, order_id: str) -> int:
    async with system.engine.connect() as conn:
        found = await conn.execute(
            text("SELECT count(*) FROM reservations WHERE order_id = :o AND status = 'held'"),
            {"o": order_id},
        )
        return int(found.scalar_one())


async def _alerts(system: System, order_id: str) -> list[Any]:
    async with system.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT kind, subject, status, detail FROM alerts WHERE order_id = :o"),
            {"o": order_id},
        )
        return list(rows)


async def test_a_high_value_order_waits_for_approval_and_then_goes_on(system):
    async with custom_stack(system, "hold-approve", {}, **RULES) as http:
        _, sku = await stocked(http, 5)
        order = await submit(http, order_body([(sku, 1, "150.00")]))
        held = await wait_for_status(http, order["id"], HELD)
        assert held["hold"]["reasons"] == ["high_value"]
        assert held["hold"]["expires_at"]
        assert await _reserved(system, order["id"]) == 0  # rules run before reserving

        answer = await http.post(f"/v1/orders/{order['id']}/approve", json={"note": "known"})
        assert answer.status_code == 202, answer.text
        accepted = answer.json()["accepted_action"]
        assert accepted["action"] == "approve" and accepted["by"] == "admin"
        assert accepted["at_status"] == "on_hold"
        assert accepted["outcome"] is None and "hold ends" in accepted["next"]
        done = await wait_for_status(http, order["id"], TERMINAL)
        assert done["status"] == "delivered"
        assert done["hold"]["decision"]["action"] == "approve"
        assert done["hold"]["decision"]["by"] == "admin"
        kinds = [e["type"] for e in await _events(http, order["id"])]
        assert (
            kinds.index("order_held") < kinds.index("hold_approved") < kinds.index("stock_reserved")
        )
        again = await http.post(f"/v1/orders/{order['id']}/approve", json={})
        assert again.status_code == 409


async def test_a_rejected_order_is_cancelled_and_its_payment_voided(system):
    async with custom_stack(system, "hold-reject", {}, **RULES) as http:
        _, sku = await stocked(http, 5)
        order = await submit(http, order_body([(sku, 1, "150.00")]))
        await wait_for_status(http, order["id"], HELD)
        answer = await http.post(f"/v1/orders/{order['id']}/reject", json={"reason": "fraud"})
        assert answer.status_code == 202, answer.text
        accepted = answer.json()["accepted_action"]
        assert (accepted["action"], accepted["at_status"], accepted["outcome"]) == (
            "reject",
            "on_hold",
            "cancelled",
        )
        done = await wait_for_status(http, order["id"], TERMINAL)
    assert done["status"] == "cancelled"
    assert done["cancellation"]["reason"] == "fraud"
    assert done["payment"]["status"] == "voided"
    assert await _reserved(system, order["id"]) == 0


async def test_the_web_uis_approve_signal_has_the_same_effect(system):
    async with custom_stack(system, "hold-signal", {}, **RULES) as http:
        _, sku = await stocked(http, 5)
        order = await submit(http, order_body([(sku, 1, "150.00")]))
        await wait_for_status(http, order["id"], HELD)
        # What `temporal workflow signal --input '{...}'` (or the Web UI's dialog) sends:
        # plain JSON, not sealed; the workflow reads it all the same.
        from temporalio.client import Client

        plain = await Client.connect(system.settings.temporal_target)
        handle = plain.get_workflow_handle(f"order-{order['id']}")
        await handle.signal("approve", {"by": "ops-ui", "note": "checked by phone"})
        done = await wait_for_status(http, order["id"], TERMINAL)
    assert done["status"] == "delivered"
    assert done["hold"]["decision"]["by"] == "ops-ui"
    assert done["hold"]["decision"]["note"] == "checked by phone"


async def test_held_orders_are_found_by_their_search_attributes(system):
    async with custom_stack(system, "hold-search", {}, **RULES) as http:
        _, sku = await stocked(http, 5)
        order = await submit(http, order_body([(sku, 1, "150.00")]))
        await wait_for_status(http, order["id"], HELD)
        query = "OrderStatus = 'on_hold' AND HoldReason = 'high_value' AND OrderTotal >= 100"
        found: list[str] = []
        deadline = time.monotonic() + 20
        while order["id"] not in found and time.monotonic() < deadline:
            found = [w.id.removeprefix("order-") async for w in system.client.list_workflows(query)]
            await asyncio.sleep(0.3)  # visibility is eventually consistent: poll
        assert order["id"] in found
        await http.post(f"/v1/orders/{order['id']}/reject", json={"reason": "test over"})
        await wait_for_status(http, order["id"], TERMINAL)


async def test_a_shipment_the_warehouse_never_ships_raises_an_alert_and_keeps_waiting(system):
    from activities.warehouse import WarehouseActivities
    from oms.adapters.wms import WarehouseSystem

    class BlackHole(WarehouseSystem):
        """A WMS that accepts every dispatch and never ships anything."""

        async def dispatch(self, request: dict[str, Any]) -> str:
            return "accepted-" + unique("ref")

    silent = WarehouseActivities(system.engine, BlackHole())
    replace = {"dispatch_shipment": silent.dispatch_shipment}
    async with custom_stack(system, "silent", replace, ship_deadline_s=1) as http:
        _, sku = await stocked(http, 5)
        order = await submit(http, order_body([(sku, 1)]))
        await wait_for_status(http, order["id"], {"dispatched"})
        deadline = time.monotonic() + 20
        alerts: list[Any] = []
        while not alerts and time.monotonic() < deadline:
            alerts = await _alerts(system, order["id"])
            await asyncio.sleep(0.3)
        still = (await http.get(f"/v1/orders/{order['id']}")).json()
        handle = system.client.get_workflow_handle(f"order-{order['id']}")
        await handle.terminate("test over")
    assert [(a.kind, a.detail["stage"]) for a in alerts] == [("shipment_silent", "not_shipped")]
    assert alerts[0].subject == f"{order['id']}-1"
    assert still["status"] == "dispatched"  # still waiting, not failed


async def test_a_late_order_is_flagged_alerted_to_the_webhook_and_goes_on(system, admin):
    """The stack's half of lateness: the alert stored and sent signed, the search
    attribute on the real server. (Every SLA branch: tests/workflows/test_deadlines.py.)"""
    sink = f"{system.settings.sim_base_url}/sim/alerts"
    # Late half a second in, released to the warehouse a second after it was reserved.
    overrides = {"sla_dispatch_s": 0.5, "release_delay_s": 1.0, "alert_webhook_url": sink}
    async with custom_stack(system, "alert-sink", {}, **overrides) as http:
        _, sku = await stocked(http, 5)
        order = await submit(http, order_body([(sku, 1)]))
        done = await wait_for_status(http, order["id"], TERMINAL, within=30)
        events = await _events(http, order["id"])
    assert done["status"] == "delivered"  # late, not failed
    assert done["late"] is True
    late = [e for e in events if e["type"] == "order_late"]
    assert len(late) == 1 and late[0]["data"]["stage"] == "dispatch"
    assert [(a.kind, a.status) for a in await _alerts(system, order["id"])] == [
        ("order_late", "open")
    ]
    handle = system.client.get_workflow_handle(f"order-{order['id']}")
    from oms.domain.search_attributes import ORDER_LATE

    assert (await handle.describe()).typed_search_attributes.get(ORDER_LATE) is True
    async with httpx.AsyncClient(
        base_url=system.settings.sim_base_url, headers=dict(admin.headers)
    ) as sim:
        received = (await sim.get("/sim/alerts")).json()["items"]
    mine = [r for r in received if r["alert"]["order_id"] == order["id"]]
    assert [(r["alert"]["kind"], r["signature_valid"]) for r in mine] == [("order_late", True)]


async def test_an_operator_can_hold_an_order_by_hand_before_dispatch(system):
    async with custom_stack(system, "manual-hold", {}, release_delay_s=4) as http:
        _, sku = await stocked(http, 5)
        order = await submit(http, order_body([(sku, 1)]))
        await wait_for_status(http, order["id"], {"reserved"})
        answer = await http.post(f"/v1/orders/{order['id']}/hold", json={"reason": "odd email"})
        assert answer.status_code == 202, answer.text
        accepted = answer.json()["accepted_action"]
        assert (accepted["action"], accepted["at_status"], accepted["outcome"]) == (
            "hold",
            "reserved",
            "on_hold",
        )
        held = await wait_for_status(http, order["id"], HELD)
        assert held["hold"]["reasons"] == ["manual"]
        assert held["hold"]["note"] == "odd email"
        twice = await http.post(f"/v1/orders/{order['id']}/hold", json={"reason": "again"})
        assert twice.status_code == 409
        await http.post(f"/v1/orders/{order['id']}/approve", json={"note": "fine"})
        done = await wait_for_status(http, order["id"], TERMINAL)
        late = await http.post(f"/v1/orders/{order['id']}/hold", json={"reason": "too late"})
    assert done["status"] == "delivered"
    assert late.status_code == 409


async def test_a_new_address_before_dispatch_is_taken_and_checked_again(system):
    new_address = {
        "name": "Ada",
        "line1": "1 Juche Rd",
        "city": "Pyongyang",
        "postal_code": "1000",
        "country": "KP",
    }
    overrides = {"release_delay_s": 4, "hold_countries": "KP"}
    async with custom_stack(system, "address", {}, **overrides) as http:
        _, sku = await stocked(http, 5)
        order = await submit(http, order_body([(sku, 1)]))
        await wait_for_status(http, order["id"], {"reserved"})
        bad = await http.post(f"/v1/orders/{order['id']}/address", json={"line1": "x"})
        assert bad.status_code == 422
        answer = await http.post(f"/v1/orders/{order['id']}/address", json=new_address)
        assert answer.status_code == 202, answer.text
        accepted = answer.json()["accepted_action"]
        assert (accepted["action"], accepted["outcome"]) == ("address", None)
        assert "hold rules" in accepted["next"]
        held = await wait_for_status(http, order["id"], HELD)
        assert held["shipping_address"]["country"] == "KP"
        assert held["hold"]["reasons"] == ["restricted_country"]
        await http.post(f"/v1/orders/{order['id']}/reject", json={"reason": "embargo"})
        done = await wait_for_status(http, order["id"], TERMINAL)
        after = await http.post(f"/v1/orders/{order['id']}/address", json=new_address)
        events = [e["type"] for e in await _events(http, order["id"])]
    assert done["status"] == "cancelled"
    assert after.status_code == 409
    assert "address_changed" in events
    assert await _reserved(system, order["id"]) == 0


async def test_the_customer_and_address_facts_hold_first_orders_and_busy_addresses(system):
    """The hold check's two facts: whether the customer ordered before (a first order
    over the new-customer threshold is held, a repeat order is not) and how many distinct
    customers ordered to the address (the third is held)."""
    rules = {
        "hold_high_value": "EUR:1000000000",
        "hold_new_customer_value": "EUR:100",
        "hold_velocity_count": 3,
    }
    street = unique("street")

    def body(customer: str, price: str, sku: str) -> dict[str, Any]:
        b = order_body([(sku, 1, price)], customer_id=customer)
        b["shipping_address"]["line1"] = f"{street} {customer}"  # one address per customer
        return b

    async with custom_stack(system, "hold-facts", {}, **rules) as http:
        _, sku = await stocked(http, 20)
        repeat = unique("cust")
        first = await submit(http, body(repeat, "50.00", sku))
        assert (await wait_for_status(http, first["id"], TERMINAL))["status"] == "delivered"
        again = await submit(http, body(repeat, "150.00", sku))
        assert (await wait_for_status(http, again["id"], TERMINAL))["status"] == "delivered"

        newcomer = await submit(http, body(unique("cust"), "150.00", sku))
        held = await wait_for_status(http, newcomer["id"], HELD)
        assert held["hold"]["reasons"] == ["new_customer_high_value"]
        await http.post(f"/v1/orders/{newcomer['id']}/reject", json={"note": "test"})

        # Three customers to one address: the third trips the velocity rule.
        shared = unique("shared")
        placed = []
        for n in range(3):
            b = order_body([(sku, 1, "10.00")], customer_id=f"{shared}-{n}")
            b["shipping_address"]["line1"] = shared
            placed.append(await submit(http, b))
            if n < 2:
                done = await wait_for_status(http, placed[-1]["id"], TERMINAL)
                assert done["status"] == "delivered"
        third = await wait_for_status(http, placed[2]["id"], HELD)
        assert third["hold"]["reasons"] == ["address_velocity"]
        await http.post(f"/v1/orders/{placed[2]['id']}/reject", json={"note": "test"})
