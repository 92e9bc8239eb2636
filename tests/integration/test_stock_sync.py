"""Inventory sync from an ERP or WMS: absolute levels with the source's time; stale levels
ignored, reserved stock kept, one transaction, a report of every item."""

from __future__ import annotations

from tests.integration.helpers import (
    TERMINAL,
    add_warehouse,
    order_body,
    set_stock,
    submit,
    unique,
    wait_for_status,
)


def _item(wh: str, sku: str, on_hand: int, as_of: str) -> dict[str, object]:
    return {"warehouse_id": wh, "sku": sku, "on_hand": on_hand, "as_of": as_of}


async def test_levels_are_applied_and_an_older_one_arriving_later_is_ignored(admin):
    wh, sku = await add_warehouse(admin), unique("SKU")
    first = await admin.post(
        "/v1/stock/sync",
        json={"source": "erp", "items": [_item(wh, sku, 40, "2026-11-30T10:00:00Z")]},
    )
    late = await admin.post(
        "/v1/stock/sync",
        json={"source": "wms", "items": [_item(wh, sku, 5, "2026-11-30T09:59:00Z")]},
    )
    stock = (await admin.get(f"/v1/stock/{sku}")).json()

    assert first.status_code == 200, first.text
    assert [(a["sku"], a["on_hand"]) for a in first.json()["applied"]] == [(sku, 40)]
    assert late.json()["applied"] == []
    assert late.json()["ignored"][0]["reason"].startswith("stale")
    (level,) = stock["warehouses"]
    assert (level["on_hand"], level["source"]) == (40, "erp")
    assert level["as_of"].startswith("2026-11-30T10:00:00")


async def test_a_level_below_what_is_reserved_keeps_the_reservation_and_reports_it(system, admin):
    from tests.conftest import custom_stack

    async with custom_stack(system, "sync-reserved", {}, release_delay_s=3) as http:
        wh, sku = await add_warehouse(http), unique("SKU")
        await set_stock(http, wh, sku, 5)
        order = await submit(http, order_body([(sku, 3)]))
        await wait_for_status(http, order["id"], {"reserved"})
        answer = await http.post(
            "/v1/stock/sync",
            json={"source": "erp", "items": [_item(wh, sku, 1, "2026-11-30T11:00:00Z")]},
        )
        done = await wait_for_status(http, order["id"], TERMINAL)

    (applied,) = answer.json()["applied"]
    assert applied["on_hand"] == 3 and applied["shortfall"] == 2
    alerts = (await admin.get("/v1/alerts", params={"status": "open"})).json()["items"]
    mine = [a for a in alerts if a["kind"] == "stock_shortfall" and a["subject"] == f"{wh}/{sku}"]
    assert len(mine) == 1 and mine[0]["detail"]["shortfall"] == 2
    assert done["status"] == "delivered"  # what was reserved still shipped


async def test_a_batch_reports_unknown_warehouses_and_applies_the_rest(admin):
    wh, sku = await add_warehouse(admin), unique("SKU")
    items = [
        _item("no-such-warehouse", sku, 3, "2026-11-30T10:00:00Z"),
        _item(wh, sku, 7, "2026-11-30T10:00:00Z"),
        _item(wh, sku, 8, "2026-11-30T10:05:00+01:00"),  # 09:05 UTC: older, superseded
    ]
    report = (await admin.post("/v1/stock/sync", json={"source": "erp", "items": items})).json()

    assert [r["index"] for r in report["rejected"]] == [0]
    assert [(a["index"], a["on_hand"]) for a in report["applied"]] == [(1, 7)]
    assert [i["index"] for i in report["ignored"]] == [2]


async def test_a_sync_without_a_time_zone_or_with_a_negative_level_is_422(admin):
    wh = await add_warehouse(admin)
    for bad in (
        _item(wh, "X-1", 1, "2026-11-30T10:00:00"),
        _item(wh, "X-1", -1, "2026-11-30T10:00:00Z"),
    ):
        answer = await admin.post("/v1/stock/sync", json={"source": "erp", "items": [bad]})
        assert answer.status_code == 422
