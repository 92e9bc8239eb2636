"""``warehouses``: where stock is kept, with a place and a priority for routing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_COLUMNS = "id, name, country, lat, lon, priority"
_CREATE = text(
    f"INSERT INTO warehouses ({_COLUMNS}, created_at) "
    "VALUES (:id, :name, :country, :lat, :lon, :priority, now()) "
    f"ON CONFLICT (id) DO NOTHING RETURNING {_COLUMNS}"
)
_ALL = text(f"SELECT {_COLUMNS} FROM warehouses ORDER BY priority, id")
_EXISTS = text("SELECT 1 FROM warehouses WHERE id = :w")
_KNOWN = text("SELECT id FROM warehouses WHERE id = ANY(:ids)")
_PLACES = text("SELECT id, lat, lon FROM warehouses WHERE id = ANY(:ids)")
_PLACES_OF = text(
    "SELECT id, lat, lon FROM warehouses "
    "WHERE id IN (SELECT warehouse_id FROM stock WHERE sku = ANY(:skus))"
)

Place = tuple[float, float]


async def create(engine: AsyncEngine, warehouse: dict[str, Any]) -> dict[str, Any] | None:
    """The warehouse as created, or None if one with its id exists already."""
    async with engine.begin() as conn:
        row = (await conn.execute(_CREATE, warehouse)).first()
    return dict(row._mapping) if row is not None else None


async def all_warehouses(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Every warehouse, by priority."""
    async with engine.connect() as conn:
        return [dict(r._mapping) for r in (await conn.execute(_ALL)).all()]


async def exists(conn: AsyncConnection, warehouse_id: str) -> bool:
    return (await conn.execute(_EXISTS, {"w": warehouse_id})).first() is not None


async def known(conn: AsyncConnection, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` are warehouses."""
    return {row.id for row in await conn.execute(_KNOWN, {"ids": list(ids)})}


async def places(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, Place]:
    """Where the warehouses ``ids`` are: (lat, lon) by id."""
    return {r.id: (r.lat, r.lon) for r in await conn.execute(_PLACES, {"ids": list(ids)})}


async def places_stocking(conn: AsyncConnection, skus: Sequence[str]) -> dict[str, Place]:
    """Where the warehouses with a stock row for any of ``skus`` are."""
    return {r.id: (r.lat, r.lon) for r in await conn.execute(_PLACES_OF, {"skus": list(skus)})}
