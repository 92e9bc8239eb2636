"""Warehouses and stock: the bodies that create warehouses and set, adjust or sync stock
levels, and the answers that show them."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StrictInt, field_validator

from oms.domain.stock_level import MAX_ON_HAND, SyncItem
from oms.domain.text import Country, Ident, Latitude, Longitude, Strict, Text, WarehouseId


class WarehouseCreate(Strict):
    id: WarehouseId
    name: Text
    country: Country
    lat: Latitude
    lon: Longitude
    priority: Annotated[StrictInt, Field(ge=0, le=1_000_000)] = 100


class StockSet(Strict):
    on_hand: Annotated[StrictInt, Field(ge=0, le=MAX_ON_HAND)]


class StockAdjust(Strict):
    delta: Annotated[
        StrictInt,
        Field(
            ge=-MAX_ON_HAND,
            le=MAX_ON_HAND,
            json_schema_extra={"not": {"const": 0}},
            description="not zero",
        ),
    ]
    reason: Text

    @field_validator("delta")
    @classmethod
    def _non_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must not be zero")
        return value


class Warehouse(BaseModel):
    id: str
    name: str
    country: str
    lat: float
    lon: float
    priority: int


class WarehouseList(BaseModel):
    items: list[Warehouse]
    next_cursor: str | None


class StockLevel(BaseModel):
    """One SKU in one warehouse, after a change."""

    warehouse_id: str
    sku: str
    on_hand: int
    reserved: int
    available: int


class WarehouseStock(BaseModel):
    warehouse_id: str
    on_hand: int
    reserved: int
    available: int
    as_of: str | None = None  # of the last level synced (POST /v1/stock/sync)
    source: str | None = None


class StockSync(Strict):
    """Absolute levels from a source (ERP, WMS), each with the source's own time."""

    source: Ident
    items: Annotated[list[SyncItem], Field(min_length=1, max_length=10_000)]


class SyncOutcome(BaseModel):
    index: int
    warehouse_id: str
    sku: str
    reason: str | None = None
    on_hand: int | None = None
    shortfall: int | None = None


class SyncReport(BaseModel):
    applied: list[SyncOutcome]
    ignored: list[SyncOutcome]
    rejected: list[SyncOutcome]


class SkuStock(BaseModel):
    sku: str
    available: int
    warehouses: list[WarehouseStock]
