"""Warehouses and stock. Every stock change is one statement guarded by the CHECKs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from sqlalchemy import text

from activities.alerts import AlertStore
from api.deps import Admin, EngineDep, JsonRoute, Operator, SettingsDep
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
from oms.stock_sync import Level, apply_levels, raise_shortfall_alerts

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

_WAREHOUSE_COLUMNS = "id, name, country, lat, lon, priority"


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
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                text(
                    f"INSERT INTO warehouses ({_WAREHOUSE_COLUMNS}, created_at) "
                    "VALUES (:id, :name, :country, :lat, :lon, :priority, now()) "
                    f"ON CONFLICT (id) DO NOTHING RETURNING {_WAREHOUSE_COLUMNS}"
                ),
                body.model_dump(),
            )
        ).first()
    if row is None:
        raise Problem(409, f"warehouse {body.id} already exists", kind="conflict")
    return dict(row._mapping)


@router.get(
    "/warehouses",
    response_model=None,
    responses={200: answer(WarehouseList, "All warehouses, by priority.")},
)
async def read_warehouses(caller: Operator, engine: EngineDep) -> dict[str, Any]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(f"SELECT {_WAREHOUSE_COLUMNS} FROM warehouses ORDER BY priority, id")
            )
        ).all()
    return {"items": [dict(r._mapping) for r in rows], "next_cursor": None}


async def _require_warehouse(conn: Any, warehouse_id: str) -> None:
    found = (
        await conn.execute(text("SELECT 1 FROM warehouses WHERE id = :w"), {"w": warehouse_id})
    ).first()
    if found is None:
        raise Problem(404, f"no warehouse {warehouse_id}", kind="not-found")


def _stock_view(row: Any) -> dict[str, Any]:
    return {
        "warehouse_id": row.warehouse_id,
        "sku": row.sku,
        "on_hand": row.on_hand,
        "reserved": row.reserved,
        "available": row.on_hand - row.reserved,
    }


_MOVEMENT = text(
    "INSERT INTO stock_movements (warehouse_id, sku, kind, on_hand_delta, reserved_delta, "
    "reason, created_at) VALUES (:w, :sku, :kind, :delta, 0, :reason, now())"
)


_ADJUST_UP = text(
    """
    INSERT INTO stock AS s (warehouse_id, sku, on_hand, reserved, updated_at)
    VALUES (:w, :sku, :delta, 0, now())
    ON CONFLICT (warehouse_id, sku) DO UPDATE
        SET on_hand = s.on_hand + :delta, updated_at = now()
        WHERE s.on_hand + :delta <= :max
    RETURNING s.warehouse_id, s.sku, s.on_hand, s.reserved
    """
)
_ADJUST_DOWN = text(
    """
    UPDATE stock SET on_hand = on_hand + :delta, updated_at = now()
    WHERE warehouse_id = :w AND sku = :sku AND on_hand + :delta >= reserved
    RETURNING warehouse_id, sku, on_hand, reserved
    """
)
_CURRENT = text("SELECT on_hand, reserved FROM stock WHERE warehouse_id = :w AND sku = :sku")


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
        # The WHERE on the upsert refuses to drop on_hand below what is reserved.
        row = (
            await conn.execute(
                text(
                    """
            WITH before AS (SELECT on_hand FROM stock WHERE warehouse_id = :w AND sku = :sku)
            INSERT INTO stock AS s (warehouse_id, sku, on_hand, reserved, updated_at)
            VALUES (:w, :sku, :on_hand, 0, now())
            ON CONFLICT (warehouse_id, sku) DO UPDATE
                SET on_hand = excluded.on_hand, updated_at = now()
                WHERE s.reserved <= excluded.on_hand
            RETURNING s.warehouse_id, s.sku, s.on_hand, s.reserved,
                      s.on_hand - COALESCE((SELECT on_hand FROM before), 0) AS delta
            """
                ),
                {"w": warehouse_id, "sku": sku, "on_hand": body.on_hand},
            )
        ).first()
        if row is None:
            raise Problem(
                409,
                f"on_hand {body.on_hand} is below the {sku} units reserved in {warehouse_id}",
                kind="below-reserved",
            )
        await conn.execute(
            _MOVEMENT,
            {
                "w": warehouse_id,
                "sku": sku,
                "kind": "set",
                "delta": row.delta,
                "reason": "set on_hand",
            },
        )
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
    params = {"w": warehouse_id, "sku": sku, "delta": body.delta}
    async with engine.begin() as conn:
        await _require_warehouse(conn, warehouse_id)
        # Only a positive delta may create the row; a negative one adjusts what is there.
        if body.delta > 0:
            row = (await conn.execute(_ADJUST_UP, {**params, "max": MAX_ON_HAND})).first()
        else:
            row = (await conn.execute(_ADJUST_DOWN, params)).first()
        if row is None and body.delta > 0:
            raise Problem(
                409,
                f"adjusting {sku} in {warehouse_id} by {body.delta} would leave more than "
                f"{MAX_ON_HAND} on hand",
                kind="above-maximum",
            )
        if row is None:
            current = (await conn.execute(_CURRENT, params)).first()
            held = f"{current.reserved} reserved" if current else "no stock"
            raise Problem(
                409,
                f"adjusting {sku} in {warehouse_id} by {body.delta} would leave less on hand "
                f"than is reserved ({held})",
                kind="below-reserved",
            )
        await conn.execute(
            _MOVEMENT, {**params, "kind": "adjust", "delta": body.delta, "reason": body.reason}
        )
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
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT s.warehouse_id, s.sku, s.on_hand, s.reserved, s.as_of, s.source "
                    "FROM stock s "
                    "JOIN warehouses w ON w.id = s.warehouse_id WHERE s.sku = :sku "
                    "ORDER BY w.priority, s.warehouse_id"
                ),
                {"sku": sku},
            )
        ).all()
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
    body: StockSync, caller: Operator, engine: EngineDep, settings: SettingsDep
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
