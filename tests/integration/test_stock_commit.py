"""Committing a shipment's stock against levels synced from the WMS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from activities.inventory import InventoryActivities
from oms.domain.messages import CommitRequest, ReserveRequest, SkuQuantity
from tests.integration.helpers import stock_rows, unique


async def _place(system, on_hand: int) -> tuple[str, str]:
    wh, (sku,) = await stock_rows(system.engine, on_hand)
    return wh, sku


async def _level(system, wh: str, sku: str) -> tuple[int, int]:
    async with system.engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT on_hand, reserved FROM stock WHERE warehouse_id = :w AND sku = :s"),
                {"w": wh, "s": sku},
            )
        ).one()
    return row.on_hand, row.reserved


async def _sync(system, wh: str, sku: str, on_hand: int, as_of: datetime) -> None:
    async with system.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE stock SET on_hand = :n, as_of = :t, source = 'wms' "
                "WHERE warehouse_id = :w AND sku = :s"
            ),
            {"n": on_hand, "t": as_of, "w": wh, "s": sku},
        )


async def test_a_level_synced_after_the_goods_left_is_not_taken_off_twice(system):
    inventory = InventoryActivities(system.engine)
    wh, sku = await _place(system, 5)
    order = unique("order")
    reserved = await inventory.reserve_stock(ReserveRequest(order, [SkuQuantity(sku, 2)], round=1))
    shipment = reserved.allocations[0].shipment_id
    left = datetime.now(UTC)
    # The WMS counted after the parcel left: 3 on the shelf, 2 still reserved here.
    await _sync(system, wh, sku, 3, left + timedelta(seconds=1))

    await inventory.commit_stock(CommitRequest(order, shipment, wh, left.isoformat()))

    assert await _level(system, wh, sku) == (3, 0)


async def test_a_level_synced_before_the_goods_left_still_loses_them_at_commit(system):
    inventory = InventoryActivities(system.engine)
    wh, sku = await _place(system, 5)
    order = unique("order")
    reserved = await inventory.reserve_stock(ReserveRequest(order, [SkuQuantity(sku, 2)], round=1))
    left = datetime.now(UTC)
    await _sync(system, wh, sku, 4, left - timedelta(seconds=5))
    shipment = reserved.allocations[0].shipment_id

    await inventory.commit_stock(CommitRequest(order, shipment, wh, left.isoformat()))
    assert await _level(system, wh, sku) == (2, 0)


async def test_a_commit_without_a_valid_time_takes_the_units_off(system):
    inventory = InventoryActivities(system.engine)
    wh, sku = await _place(system, 5)
    order = unique("order")
    reserved = await inventory.reserve_stock(ReserveRequest(order, [SkuQuantity(sku, 1)], round=1))
    await _sync(system, wh, sku, 5, datetime.now(UTC) + timedelta(hours=1))
    shipment = reserved.allocations[0].shipment_id
    await inventory.commit_stock(CommitRequest(order, shipment, wh, "yesterday-ish"))
    assert await _level(system, wh, sku) == (4, 0)


async def test_an_order_from_before_rounds_reserves_commits_and_releases_as_it_did(system):
    """Orders in flight across the upgrade still call the activities the old way."""
    from oms.domain.messages import ReleaseRequest

    inventory = InventoryActivities(system.engine)
    wh, (sku, other) = await stock_rows(system.engine, 5, extra_skus=1)
    order = unique("order")
    lines = [SkuQuantity(sku, 2), SkuQuantity(other, 1)]
    reserved = await inventory.reserve_stock(ReserveRequest(order, lines))
    assert [(a.warehouse_id, a.shipment_id) for a in reserved.allocations] == [(wh, "")]
    again = await inventory.reserve_stock(ReserveRequest(order, lines))  # a retry
    held = {(line.sku, line.quantity) for a in reserved.allocations for line in a.lines}
    assert {(line.sku, line.quantity) for a in again.allocations for line in a.lines} == held
    assert await _level(system, wh, sku) == (5, 2)

    # The old shipment workflow commits by warehouse, naming its shipment.
    await inventory.commit_stock(CommitRequest(order, f"{order}-1", wh))
    assert await _level(system, wh, sku) == (3, 0)
    assert await _level(system, wh, other) == (4, 0)

    second = unique("order")
    await inventory.reserve_stock(ReserveRequest(second, [SkuQuantity(sku, 1)]))
    released = await inventory.release_stock(ReleaseRequest(second, "cancelled"))
    assert released.units == 1
    assert await _level(system, wh, sku) == (3, 0)
