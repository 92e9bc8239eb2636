"""An order history for the insights tests: delivered orders of one SKU a day, shipped by
a warehouse, written by the import writer as ``oms import orders`` writes them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from oms.imports.model import Line, Order
from oms.imports.writer import write_orders
from tests.integration.helpers import unique
from tests.integration.imports_helpers import imported


def sold(sku: str, warehouse: str, day: date, units: int) -> Order:
    """A delivered order of ``units`` of ``sku`` received on ``day``, shipped by ``warehouse``."""
    at = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
    amount = f"{units * 10}.00"
    return imported(
        unique("hist"),
        created_at=at.isoformat(),
        lines=[Line(sku, units, "10.00")],
        subtotal=amount,
        shipping="0.00",
        discount="0.00",
        total=amount,
        paid=amount,
        paid_at=(at + timedelta(minutes=5)).isoformat(),
        shipped_at=(at + timedelta(hours=5)).isoformat(),
        delivered_at=(at + timedelta(days=2)).isoformat(),
        warehouse_id=warehouse,
    )


async def history(system: Any, orders: list[Order]) -> None:
    written = await write_orders(system.engine, unique("hist"), orders, run_key=unique("run"))
    assert written.inserted == len(orders), written
