"""Demo data for ``oms dev``: two warehouses and a few SKUs, written only into an empty
database (``OMS_DEV_SEED=0`` turns it off), so a first order can be placed right away."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

WAREHOUSES = [
    ("demo-berlin", "Demo Berlin", "DE", 52.52, 13.405, 10),
    ("demo-rotterdam", "Demo Rotterdam", "NL", 51.9244, 4.4777, 20),
]
STOCK = [
    ("demo-berlin", "DEMO-TSHIRT", 100),
    ("demo-berlin", "DEMO-MUG", 50),
    ("demo-rotterdam", "DEMO-TSHIRT", 40),
    ("demo-rotterdam", "DEMO-POSTER", 25),
]


def demo_summary() -> str:
    """What ``seed_demo`` writes, in words: each warehouse with its SKUs and units."""
    parts = []
    for warehouse_id, name, country, *_ in WAREHOUSES:
        held = ", ".join(f"{units} {sku}" for w, sku, units in STOCK if w == warehouse_id)
        parts.append(f"warehouse {warehouse_id} ({name}, {country}): {held}")
    return "; ".join(parts)


async def seed_demo(engine: AsyncEngine) -> bool:
    """Write the demo data into an empty database; True if it did."""
    async with engine.begin() as conn:
        if (await conn.execute(text("SELECT 1 FROM warehouses LIMIT 1"))).first():
            return False
        await conn.execute(
            text(
                "INSERT INTO warehouses (id, name, country, lat, lon, priority, created_at) "
                "VALUES (:id, :name, :country, :lat, :lon, :priority, now())"
            ),
            [
                dict(zip(("id", "name", "country", "lat", "lon", "priority"), w, strict=True))
                for w in WAREHOUSES
            ],
        )
        await conn.execute(
            text(
                "INSERT INTO stock (warehouse_id, sku, on_hand, reserved, updated_at) "
                "VALUES (:w, :sku, :q, 0, now())"
            ),
            [{"w": w, "sku": s, "q": q} for w, s, q in STOCK],
        )
    return True
