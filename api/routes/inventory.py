"""Warehouses and stock. Every stock change is one statement guarded by the CHECKs
(``oms.store.stock``), journalled in the same transaction."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.deps import Admin, EngineDep, JsonRoute, Operator, SettingsDep, StockSyncer
from api.errors import Problem
from api.schemas import (
    MAX_ON_HAND,
    SKU_PATTERN,
    WAREHOUSE_PATTERN,
    SkuStock,
    StockAdjust,
    StockLevel,
    StockSet,
    StockSync,
    SyncReport,
    Warehouse,
    WarehouseCreate,
    WarehouseList,
    answer,
    problems,
)
from oms.alerts import AlertStore
from oms.stock_sync import Level, apply_levels, raise_shortfall_alerts
from oms.store import stock, warehouses

SkuPath = Annotated[str, Path(pattern=SKU_PATTERN)]
WarehousePath = Annotated[str, Path(pattern=WAREHOUSE_PATTERN)]

router = APIRouter(
    prefix="/v1", tags=["inventory"], responses=problems(401, 403, 503), route_class=JsonRoute
)
_NO_WAREHOUSE = "No such warehouse (``not-found``)."
_BELOW_RESERVED = (
    "The change would leave on_hand below what is reserved or below zero "
    "(``below-reserved``), or above 1,000,000,000 (``above-maximum``)."
)


@router.post(
    "/warehouses",
    status_code=201,
    response_model=None,
    responses={
        201: answer(Warehouse, "The warehouse."),
        **problems(409, 413, 422, _409="A warehouse with this id exists already (``conflict``)."),
    },
)
async def create_warehouse(
    body: WarehouseCreate, caller: Admin, engine: EngineDep
) -> dict[str, Any]:
    created = await warehouses.create(engine, body.model_dump())
    if created is None:
        raise Problem(409, f"warehouse {body.id} already exists", kind="conflict")
    return created


@router.get(
    "/warehouses",
    response_model=None,
    responses={200: answer(WarehouseList, "All warehouses, by priority.")},
)
async def read_warehouses(caller: Operator, engine: EngineDep) -> dict[str, Any]:
    return {"items": await warehouses.all_warehouses(engine), "next_cursor": None}


async def _require_warehouse(conn: Any, warehouse_id: str) -> None:
    if not await warehouses.exists(conn, warehouse_id):
        raise Problem(404, f"no warehouse {warehouse_id}", kind="not-found")


def _stock_view(row: Any) -> dict[str, Any]:
    return {
        "warehouse_id": row.warehouse_id,
        "sku": row.sku,
        "on_hand": row.on_hand,
        "reserved": row.reserved,
        "available": row.on_hand - row.reserved,
    }


@router.put(
    "/stock/{warehouse_id}/{sku}",
    response_model=None,
    responses={
        200: answer(StockLevel, "The stock of the SKU in the warehouse, as set."),
        **problems(404, 409, 413, 422, _404=_NO_WAREHOUSE, _409=_BELOW_RESERVED),
    },
)
async def set_stock(
    warehouse_id: WarehousePath, sku: SkuPath, body: StockSet, caller: Operator, engine: EngineDep
) -> dict[str, Any]:
    async with engine.begin() as conn:
        await _require_warehouse(conn, warehouse_id)
        # The upsert refuses to drop on_hand below what is reserved.
        row = await stock.set_on_hand(conn, warehouse_id, sku, body.on_hand)
        if row is None:
            raise Problem(
                409,
                f"on_hand {body.on_hand} is below the {sku} units reserved in {warehouse_id}",
                kind="below-reserved",
            )
        await stock.record_movement(conn, warehouse_id, sku, "set", row.delta, "set on_hand")
    return _stock_view(row)


@router.post(
    "/stock/{warehouse_id}/{sku}/adjust",
    response_model=None,
    responses={
        200: answer(StockLevel, "The stock of the SKU in the warehouse, as adjusted."),
        **problems(404, 409, 413, 422, _404=_NO_WAREHOUSE, _409=_BELOW_RESERVED),
    },
)
async def adjust_stock(
    warehouse_id: WarehousePath,
    sku: SkuPath,
    body: StockAdjust,
    caller: Operator,
    engine: EngineDep,
) -> dict[str, Any]:
    async with engine.begin() as conn:
        await _require_warehouse(conn, warehouse_id)
        # Only a positive delta may create the row; a negative one adjusts what is there.
        row = await stock.adjust_on_hand(conn, warehouse_id, sku, body.delta, MAX_ON_HAND)
        if row is None and body.delta > 0:
            raise Problem(
                409,
                f"adjusting {sku} in {warehouse_id} by {body.delta} would leave more than "
                f"{MAX_ON_HAND} on hand",
                kind="above-maximum",
            )
        if row is None:
            current = await stock.current(conn, warehouse_id, sku)
            held = f"{current.reserved} reserved" if current else "no stock"
            raise Problem(
                409,
                f"adjusting {sku} in {warehouse_id} by {body.delta} would leave less on hand "
                f"than is reserved ({held})",
                kind="below-reserved",
            )
        await stock.record_movement(conn, warehouse_id, sku, "adjust", body.delta, body.reason)
    return _stock_view(row)


@router.get(
    "/stock/{sku}",
    response_model=None,
    responses={
        200: answer(SkuStock, "The SKU in each warehouse that has a stock row for it."),
        **problems(404, 422, _404="No warehouse stocks this SKU (``not-found``)."),
    },
)
async def read_stock(sku: SkuPath, caller: Operator, engine: EngineDep) -> dict[str, Any]:
    rows = await stock.of_sku(engine, sku)
    if not rows:
        raise Problem(404, f"SKU {sku} is not stocked in any warehouse", kind="not-found")
    warehouses = [_stock_view(r) for r in rows]
    for w, r in zip(warehouses, rows, strict=True):
        del w["sku"]
        w["as_of"] = r.as_of.isoformat() if r.as_of else None
        w["source"] = r.source
    return {
        "sku": sku,
        "available": sum(w["available"] for w in warehouses),
        "warehouses": warehouses,
    }


@router.post(
    "/stock/sync",
    response_model=None,
    responses={
        200: answer(SyncReport, "What was applied, ignored as stale, or rejected, and why."),
        **problems(413, 422),
    },
)
async def sync_stock(
    body: StockSync, caller: StockSyncer, engine: EngineDep, settings: SettingsDep
) -> dict[str, Any]:
    """Absolute levels from an ERP or WMS, each with the source's ``as_of``. One transaction.
    A level older than (or as old as) the last one applied for its warehouse and SKU is
    ignored, and so is any but the newest level of a pair within one batch; stock already
    reserved stays reserved: a level below it is applied as
    ``on_hand = reserved`` and reported with its ``shortfall`` (see ``oms.stock_sync``)."""
    levels = [Level(i.warehouse_id, i.sku, i.on_hand, i.as_of) for i in body.items]
    async with engine.begin() as conn:
        report = await apply_levels(conn, levels, body.source)
    store = AlertStore(engine, settings.alert_webhook_url, settings.alert_webhook_secret)
    await raise_shortfall_alerts(store, report, body.source)
    return report.as_json()
