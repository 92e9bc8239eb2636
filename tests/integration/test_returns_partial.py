"""Returns of a split order whose first shipment is delivered while the other is still on
its way (docs/returns.md): only the delivered shipment's units come back, never more than
it delivered; the refund draws on that shipment's capture and leaves the other whole; the
return's timeline steps never take a number the order's workflow writes after them, and
the order still ends delivered with every step of its own."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text

from oms.store.returns import AFTER_SALES_SEQ
from tests.integration.helpers import (
    POLL_S,
    add_warehouse,
    order_body,
    set_stock,
    submit,
    unique,
    wait_for_status,
)
from tests.integration.test_returns import (
    assert_books,
    open_return,
    timeline,
    wait_for_refund,
    wait_for_return,
)

D = Decimal


async def _stall(engine: Any, name: str, late: str, stuck: str) -> None:
    """The sandbox WMS ships warehouse ``late``'s parcels a second and a half after the
    others, and the carrier leaves warehouse ``stuck``'s parcels in transit for an hour
    (until ``_release``)."""
    statements = [
        f"""
        CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' AND NEW.warehouse_id = '{late}' THEN
                NEW.next_at := now() + interval '1.5 seconds';
            ELSIF TG_OP = 'UPDATE' AND NEW.warehouse_id = '{stuck}' AND NEW.stage = 1 THEN
                NEW.next_at := now() + interval '1 hour';
            END IF;
            RETURN NEW;
        END $$""",
        f"CREATE TRIGGER {name} BEFORE INSERT OR UPDATE ON sim_wms_dispatches "
        f"FOR EACH ROW EXECUTE FUNCTION {name}()",
    ]
    async with engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))


async def _release(engine: Any, name: str, order_id: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(f"DROP TRIGGER IF EXISTS {name} ON sim_wms_dispatches"))
        await conn.execute(text(f"DROP FUNCTION IF EXISTS {name}()"))
        await conn.execute(
            text("UPDATE sim_wms_dispatches SET next_at = now() WHERE order_id = :id"),
            {"id": order_id},
        )


async def _one_delivered(admin: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    order: dict[str, Any] = {}
    while time.monotonic() < deadline:
        order = (await admin.get(f"/v1/orders/{order_id}")).json()
        statuses = sorted(s["status"] for s in order.get("shipments") or [])
        if "delivered" in statuses and len(statuses) == 2:
            return order
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"no shipment of {order_id} delivered: {order.get('shipments')}")


async def test_a_split_order_returns_its_delivered_shipment_and_refunds_from_its_capture(
    system, admin
):
    near = await add_warehouse(admin, priority=1)
    far = await add_warehouse(admin, priority=2)
    a, b = unique("SKU"), unique("SKU")
    await set_stock(admin, near, a, 5)
    await set_stock(admin, far, b, 5)
    name = f"stall_{unique('t').lower().replace('-', '_')}"
    await _stall(system.engine, name, late=near, stuck=far)
    order_id = ""
    try:
        order = await submit(admin, order_body([(a, 2, "10.00"), (b, 3, "20.00")]))
        order_id = order["id"]
        order = await _one_delivered(admin, order_id)
        assert order["status"] in {"shipped", "partially_shipped"}, order["status"]
        by_warehouse = {s["warehouse_id"]: s for s in order["shipments"]}
        assert by_warehouse[near]["status"] == "delivered"
        assert by_warehouse[far]["status"] != "delivered"
        near_capture = f"{order_id}-capture-{by_warehouse[near]['id'].rsplit('-', 1)[1]}"
        far_capture = f"{order_id}-capture-{by_warehouse[far]['id'].rsplit('-', 1)[1]}"
        ledger = (await admin.get("/v1/payments", params={"order_id": order_id})).json()
        captures = [p for p in ledger["items"] if p["kind"] == "capture"]
        # The shipment still on its way was charged first: a refund drawing on the first
        # capture would take from it.
        assert [c["idempotency_key"] for c in captures] == [far_capture, near_capture]

        # The undelivered shipment's SKU is not returnable; the delivered one's only up to
        # what it delivered.
        refused = await open_return(admin, order_id, [(b, 1)], expect=422)
        assert refused["type"].endswith("not-returnable"), refused
        over = await open_return(admin, order_id, [(a, 3)], expect=409)
        assert over["type"].endswith("return-exceeds-delivered"), over

        opened = await open_return(admin, order_id, [(a, 1)])
        # Inside the window from the shipment's delivery: approved without an operator.
        closed = await wait_for_return(admin, opened["id"], {"closed"})
        assert closed["decided_by"] == "return window"
        refund = await wait_for_refund(admin, order_id, closed["refund_id"])
        assert (refund["status"], refund["refunded"]) == ("succeeded", "10.00")
        async with system.engine.connect() as conn:
            parts = (
                await conn.execute(
                    text("SELECT capture_key, amount FROM refund_parts WHERE refund_id = :id"),
                    {"id": refund["id"]},
                )
            ).all()
        assert [(p.capture_key, D(p.amount)) for p in parts] == [(near_capture, D("10.00"))]
        # Both units of the delivered shipment were asked once: one more is left, not two.
        again = await open_return(admin, order_id, [(a, 2)], expect=409)
        assert "1 left to return" in again["errors"][0]["message"], again

        steps = {e["type"]: e["seq"] for e in await timeline(admin, order_id)}
        assert steps["return_opened"] > AFTER_SALES_SEQ
        assert steps["refund_issued"] > AFTER_SALES_SEQ

        await _release(system.engine, name, order_id)
        done = await wait_for_status(admin, order_id, {"delivered"})
        assert all(s["status"] == "delivered" for s in done["shipments"])
        events = await timeline(admin, order_id)
        own = [e for e in events if e["seq"] <= AFTER_SALES_SEQ]
        assert [e["seq"] for e in own] == list(range(own[0]["seq"], own[0]["seq"] + len(own)))
        delivered_steps = [e for e in own if e["type"] == "shipment_delivered"]
        assert len(delivered_steps) == 2
        assert own[-1]["type"] == "order_delivered"
        await assert_books(system.engine, order_id, D("70.00"))
    finally:
        await _release(system.engine, name, order_id)
