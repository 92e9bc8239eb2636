"""Warehouses and stock over HTTP: absolute sets, adjustments, and the reserved floor."""

from __future__ import annotations

from tests.integration.helpers import add_warehouse, set_stock, stocked, unique

NOT_SYNCED = {"as_of": None, "source": None}  # set by POST /v1/stock/sync only


async def test_warehouses_are_listed_and_duplicates_are_409(admin):
    wid = await add_warehouse(admin, priority=3, country="NL")
    listed = (await admin.get("/v1/warehouses")).json()["items"]
    mine = next(w for w in listed if w["id"] == wid)
    assert mine["country"] == "NL" and mine["priority"] == 3
    again = await admin.post(
        "/v1/warehouses", json={"id": wid, "name": "dup", "country": "NL", "lat": 0, "lon": 0}
    )
    assert again.status_code == 409


async def test_a_warehouse_with_bad_fields_is_422(admin):
    response = await admin.post(
        "/v1/warehouses",
        json={"id": unique("wh"), "name": "x", "country": "Germany", "lat": 91, "lon": 0},
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"country", "lat"}


async def test_stock_of_a_sku_sums_available_over_warehouses(admin):
    a, b = await add_warehouse(admin, priority=1), await add_warehouse(admin, priority=2)
    sku = unique("SKU")
    await set_stock(admin, a, sku, 4)
    await set_stock(admin, b, sku, 6)
    stock = (await admin.get(f"/v1/stock/{sku}")).json()
    assert stock == {
        "sku": sku,
        "available": 10,
        "warehouses": [
            {"warehouse_id": a, "on_hand": 4, "reserved": 0, "available": 4, **NOT_SYNCED},
            {"warehouse_id": b, "on_hand": 6, "reserved": 0, "available": 6, **NOT_SYNCED},
        ],
    }


async def test_adjustments_move_on_hand_and_cannot_go_negative(admin):
    wh, sku = await stocked(admin, 5)
    up = await admin.post(f"/v1/stock/{wh}/{sku}/adjust", json={"delta": 3, "reason": "found"})
    assert up.status_code == 200 and up.json()["on_hand"] == 8
    down = await admin.post(f"/v1/stock/{wh}/{sku}/adjust", json={"delta": -2, "reason": "broken"})
    assert down.status_code == 200 and down.json()["on_hand"] == 6
    fresh = unique("SKU")
    new_row = await admin.post(f"/v1/stock/{wh}/{fresh}/adjust", json={"delta": 4, "reason": "x"})
    assert new_row.status_code == 200 and new_row.json()["on_hand"] == 4
    none = await admin.post(
        f"/v1/stock/{wh}/{unique('SKU')}/adjust", json={"delta": -1, "reason": "x"}
    )
    assert none.status_code == 409
    too_far = await admin.post(
        f"/v1/stock/{wh}/{sku}/adjust", json={"delta": -7, "reason": "damaged"}
    )
    assert too_far.status_code == 409
    assert (await admin.get(f"/v1/stock/{sku}")).json()["available"] == 6


async def test_stock_cannot_drop_below_what_is_reserved(admin, system):
    from sqlalchemy import text

    wh, sku = await stocked(admin, 5)
    async with system.engine.begin() as conn:  # an order holds 4 units
        await conn.execute(
            text("UPDATE stock SET reserved = 4 WHERE warehouse_id = :w AND sku = :s"),
            {"w": wh, "s": sku},
        )
    put = await admin.put(f"/v1/stock/{wh}/{sku}", json={"on_hand": 3})
    adjust = await admin.post(
        f"/v1/stock/{wh}/{sku}/adjust", json={"delta": -2, "reason": "cycle count"}
    )
    assert put.status_code == 409 and adjust.status_code == 409
    assert put.headers["content-type"] == "application/problem+json"
    stock = (await admin.get(f"/v1/stock/{sku}")).json()
    assert stock["warehouses"][0] == {
        "warehouse_id": wh,
        "on_hand": 5,
        "reserved": 4,
        "available": 1,
        **NOT_SYNCED,
    }


async def test_stock_for_an_unknown_warehouse_or_sku_is_404(admin):
    assert (
        await admin.put(f"/v1/stock/{unique('nowh')}/SKU-1", json={"on_hand": 1})
    ).status_code == 404
    assert (await admin.get(f"/v1/stock/{unique('NOSKU')}")).status_code == 404


async def test_bad_stock_bodies_are_422(admin):
    wh = await add_warehouse(admin)
    for body in ({"on_hand": -1}, {"on_hand": 1.5}, {"on_hand": "3"}, {}):
        response = await admin.put(f"/v1/stock/{wh}/SKU-1", json=body)
        assert response.status_code == 422, body
    response = await admin.post(f"/v1/stock/{wh}/SKU-1/adjust", json={"delta": 0, "reason": "x"})
    assert response.status_code == 422
