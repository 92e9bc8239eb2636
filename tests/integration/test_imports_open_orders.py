"""Open imported orders start at the stage they reached in the old system
(``oms.imports.starter``, workflows/order_import.py), on the session's worker, API and
simulators: each stage goes on to delivery, the payment the old system took is recorded
once and never charged, stock is taken only where the stage says, a cancel owes a refund,
and the starter starts every order once however often it runs."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import httpx
from sqlalchemy import text

from oms.imports.start_cli import run as start_cli
from oms.imports.starter import start_open
from tests.conftest import custom_stack
from tests.integration.helpers import (
    add_warehouse,
    set_stock,
    unique,
    wait_for_status,
)
from tests.integration.imports_open_rows import imported_view, insert_open, keep_history


async def _level(http: httpx.AsyncClient, sku: str, warehouse_id: str) -> tuple[int, int]:
    stock = (await http.get(f"/v1/stock/{sku}")).json()
    level = next(w for w in stock["warehouses"] if w["warehouse_id"] == warehouse_id)
    return level["on_hand"], level["reserved"]


async def _ledger(http: httpx.AsyncClient, order_id: str) -> list[tuple[str, str, str]]:
    items = (await http.get("/v1/payments", params={"order_id": order_id})).json()["items"]
    return [(p["kind"], p["status"], p["amount"]) for p in items]


async def _timeline(http: httpx.AsyncClient, order_id: str) -> list[dict[str, Any]]:
    return (await http.get(f"/v1/orders/{order_id}/events", params={"limit": 500})).json()["items"]


async def _reservations(engine: Any, order_id: str) -> int:
    async with engine.connect() as conn:
        found = await conn.execute(
            text("SELECT count(*) FROM reservations WHERE order_id = :id"), {"id": order_id}
        )
        return int(found.scalar_one())


async def _alerts(engine: Any, order_id: str, kind: str) -> list[Any]:
    async with engine.connect() as conn:
        found = await conn.execute(
            text("SELECT kind, status, detail FROM alerts WHERE order_id = :id AND kind = :k"),
            {"id": order_id, "k": kind},
        )
        return list(found.all())


async def test_each_stage_goes_on_to_delivered_with_its_payment_recorded_once(admin, system):
    channel = unique("legacy")
    near = await add_warehouse(admin, priority=1)
    kept = await add_warehouse(admin, priority=50)
    shipped_from = await add_warehouse(admin, priority=1)
    sku, gone = unique("SKU"), unique("SKU")
    for warehouse in (near, kept):
        await set_stock(admin, warehouse, sku, 10)
    await set_stock(admin, shipped_from, gone, 5)
    tracking = unique("TRK").upper()
    paid = imported_view(channel, [(sku, 2)], "paid")
    reserved = imported_view(channel, [(sku, 3)], "reserved", warehouse_id=kept)
    dispatched = imported_view(
        channel,
        [(gone, 1)],
        "dispatched",
        warehouse_id=shipped_from,
        tracking_number=tracking,
        carrier="DHL",
    )
    await insert_open(system.engine, paid, reserved, dispatched)

    seen: list[int] = []
    result = await start_open(
        system.engine,
        system.client,
        channel,
        rate_per_s=100,
        progress=seen.append,
        settings=system.settings,
    )
    assert (result.started, result.already_running) == (3, 0)
    assert seen == [1, 2, 3]

    # Its parcel left before the import: a cancel is refused as for any dispatched order.
    refused = await admin.post(f"/v1/orders/{dispatched.id}/cancel", json={"reason": "late"})
    assert refused.status_code == 409, refused.text

    done = {v.id: await wait_for_status(admin, v.id, {"delivered"}) for v in (paid, reserved)}
    done[dispatched.id] = await wait_for_status(admin, dispatched.id, {"delivered"})

    for view in (paid, reserved, dispatched):
        # The old system's payment, once, as taken: nothing authorised, captured or voided.
        assert await _ledger(admin, view.id) == [("imported", "succeeded", view.totals.total)]
        assert done[view.id]["payment"]["status"] == "captured"
        assert done[view.id]["imported"]["stage"] == view.imported.stage  # type: ignore[union-attr]
        timeline = await _timeline(admin, view.id)
        kinds = [e["type"] for e in timeline]
        assert kinds[:3] == ["order_imported", "order_taken_over", "payment_authorized"]
        assert timeline[1]["data"]["hold_rules"].startswith("not run")
        assert timeline[2]["data"]["source"] == "imported"

    # paid: reserved by the channel's routing (the preferred warehouse), then committed.
    assert [s["warehouse_id"] for s in done[paid.id]["shipments"]] == [near]
    assert await _level(admin, sku, near) == (8, 0)
    # reserved at a warehouse: kept there, though another would be preferred.
    assert [s["warehouse_id"] for s in done[reserved.id]["shipments"]] == [kept]
    assert await _level(admin, sku, kept) == (7, 0)
    reserved_step = next(
        e for e in await _timeline(admin, reserved.id) if e["type"] == "stock_reserved"
    )
    assert reserved_step["data"]["kept_warehouse"] is True

    # dispatched: followed by its tracking number to delivery; stock never touched.
    assert await _level(admin, gone, shipped_from) == (5, 0)
    assert await _reservations(system.engine, dispatched.id) == 0
    (shipment,) = done[dispatched.id]["shipments"]
    assert (shipment["tracking_number"], shipment["carrier"], shipment["status"]) == (
        tracking,
        "DHL",
        "delivered",
    )
    kinds = [e["type"] for e in await _timeline(admin, dispatched.id)]
    assert [k for k in kinds if k.startswith("shipment_")] == [
        "shipment_shipped",
        "shipment_in_transit",
        "shipment_out_for_delivery",
        "shipment_delivered",
    ]
    assert kinds[-1] == "order_delivered"

    for view in (paid, reserved, dispatched):
        await keep_history(system, view.id, f"v9-imported-order-{view.imported.stage}-delivered")  # type: ignore[union-attr]


async def test_a_warehouse_short_of_the_kept_stock_falls_back_to_the_channels_routing(
    admin, system
):
    channel = unique("legacy")
    empty = await add_warehouse(admin, priority=1)
    other = await add_warehouse(admin, priority=10)
    sku = unique("SKU")
    await set_stock(admin, empty, sku, 1)  # one unit where the order needs two
    await set_stock(admin, other, sku, 10)
    order = imported_view(channel, [(sku, 2)], "reserved", warehouse_id=empty)
    await insert_open(system.engine, order)

    result = await start_open(
        system.engine, system.client, channel, rate_per_s=100, settings=system.settings
    )
    assert result.started == 1
    done = await wait_for_status(admin, order.id, {"delivered"})
    assert [s["warehouse_id"] for s in done["shipments"]] == [other]
    short = [e for e in await _timeline(admin, order.id) if e["type"] == "imported_warehouse_short"]
    assert [e["data"]["warehouse_id"] for e in short] == [empty]
    assert await _level(admin, sku, empty) == (1, 0)
    assert await _level(admin, sku, other) == (8, 0)
    await keep_history(system, order.id, "v9-imported-order-reserved-elsewhere")


async def test_a_cancelled_paid_import_releases_its_stock_voids_nothing_and_owes_a_refund(system):
    name = unique("import-cancel")
    # A cancel window of a minute: the order waits reserved for the cancel.
    async with custom_stack(system, name, {}, release_delay_s=60.0) as http:
        settings = system.settings.model_copy(
            update={"task_queue": f"oms-test-{name}", "release_delay_s": 60.0}
        )
        channel = unique("legacy")
        warehouse = await add_warehouse(http)
        sku = unique("SKU")
        await set_stock(http, warehouse, sku, 4)
        order = imported_view(channel, [(sku, 3)], "paid")
        await insert_open(system.engine, order)
        await start_open(system.engine, system.client, channel, settings=settings)
        await wait_for_status(http, order.id, {"reserved"})
        assert await _level(http, sku, warehouse) == (4, 3)

        cancel = await http.post(f"/v1/orders/{order.id}/cancel", json={"reason": "changed"})
        assert cancel.status_code in (200, 202), cancel.text
        done = await wait_for_status(http, order.id, {"cancelled"})
        assert await _level(http, sku, warehouse) == (4, 0)
        assert await _ledger(http, order.id) == [("imported", "succeeded", order.totals.total)]
        assert done["payment"]["status"] == "captured"  # taken by the old system, kept
        (alert,) = await _alerts(system.engine, order.id, "refund_due")
        assert alert.status == "open"
        assert (alert.detail["amount"], alert.detail["reason"]) == (order.totals.total, "cancelled")
        kinds = [e["type"] for e in await _timeline(http, order.id)]
        assert kinds[-2:] == ["order_cancelled", "refund_due"]
        await keep_history(system, order.id, "v9-imported-order-paid-cancelled-refund-due")


async def test_the_starter_run_twice_at_once_and_again_starts_each_order_once(admin, system):
    channel = unique("legacy")
    warehouse = await add_warehouse(admin)
    sku = unique("SKU")
    await set_stock(admin, warehouse, sku, 100)
    views = [imported_view(channel, [(sku, 1)], "paid", age_days=1 + n) for n in range(6)]
    ids = await insert_open(system.engine, *views)

    def starting() -> Any:
        return start_open(
            system.engine, system.client, channel, rate_per_s=200, settings=system.settings
        )

    first, second = await asyncio.gather(starting(), starting())
    assert first.started + second.started == 6
    for order_id in ids:
        await wait_for_status(admin, order_id, {"delivered"})
    again = await starting()
    assert (again.started, again.already_running) == (0, 0)  # every row has taken a step
    for order_id in ids:
        runs = [w async for w in system.client.list_workflows(f"WorkflowId = 'order-{order_id}'")]
        assert len(runs) == 1, order_id
        assert await _ledger(admin, order_id) == [("imported", "succeeded", "12.50")]
    assert await _level(admin, sku, warehouse) == (94, 0)


async def test_a_bad_rate_is_exit_2_and_starts_nothing(system, capsys):
    channel = unique("legacy")
    order = imported_view(channel, [(unique("SKU"), 1)], "paid")
    await insert_open(system.engine, order)
    args = argparse.Namespace(channel=channel, rate=0.0)
    assert await asyncio.to_thread(start_cli, args, system.settings) == 2
    assert "--rate must be above 0" in capsys.readouterr().err
    async with system.engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT status, last_seq FROM orders WHERE id = :id"), {"id": order.id}
            )
        ).one()
    assert (row.status, row.last_seq) == ("received", 0)
    runs = [w async for w in system.client.list_workflows(f"WorkflowId = 'order-{order.id}'")]
    assert runs == []


async def test_the_sandbox_carrier_follows_a_tracking_number_once_with_its_key(system):
    url = f"{system.settings.sim_base_url}/carrier/trackings"
    key = {"Authorization": f"Bearer {system.settings.carrier_api_key}"}
    tracking = unique("TRK").upper()
    async with httpx.AsyncClient(timeout=10) as http:
        wrong = await http.post(url, json={"tracking_number": tracking}, headers={})
        assert wrong.status_code == 401
        empty = await http.post(url, json={"carrier": "DHL"}, headers=key)
        assert empty.status_code == 422
        for _ in range(2):
            taken = await http.post(url, json={"tracking_number": tracking}, headers=key)
            assert taken.status_code == 202, taken.text
    async with system.engine.connect() as conn:
        count = await conn.execute(
            text("SELECT count(*) FROM sim_wms_dispatches WHERE tracking_number = :t"),
            {"t": tracking},
        )
        assert count.scalar_one() == 1
    async with system.engine.begin() as conn:  # no OMS shipment has it: not for the courier
        await conn.execute(
            text("DELETE FROM sim_wms_dispatches WHERE tracking_number = :t"), {"t": tracking}
        )
