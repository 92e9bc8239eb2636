"""50 orders at once for a SKU with 10 in stock: exactly 10 get it, the books agree."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from tests.integration.helpers import TERMINAL, order_body, stocked, wait_for_status


async def test_fifty_orders_for_ten_units_deliver_exactly_ten(admin, system):
    _wh, sku = await stocked(admin, 10, prefix="RACE")

    responses = await asyncio.gather(
        *[admin.post("/v1/orders", json=order_body([(sku, 1)])) for _ in range(50)]
    )
    assert [r.status_code for r in responses] == [202] * 50
    ids = [r.json()["id"] for r in responses]
    finals = await asyncio.gather(
        *[wait_for_status(admin, order_id, TERMINAL, within=180) for order_id in ids]
    )

    outcomes = sorted((o["status"], o.get("failure_reason")) for o in finals)
    assert outcomes.count(("delivered", None)) == 10
    assert outcomes.count(("failed", "out_of_stock")) == 40
    async with system.engine.connect() as conn:
        stock = (
            await conn.execute(
                text("SELECT on_hand, reserved FROM stock WHERE sku = :s"), {"s": sku}
            )
        ).one()
        by_status = dict(
            (
                await conn.execute(
                    text(
                        "SELECT status, sum(quantity) FROM reservations "
                        "WHERE sku = :s GROUP BY status"
                    ),
                    {"s": sku},
                )
            ).all()
        )
        moved = (
            await conn.execute(
                text(
                    "SELECT coalesce(sum(on_hand_delta), 0), coalesce(sum(reserved_delta), 0) "
                    "FROM stock_movements WHERE sku = :s"
                ),
                {"s": sku},
            )
        ).one()
    assert (stock.on_hand, stock.reserved) == (0, 0)
    assert by_status == {"committed": 10}
    # The journal adds up to the counters: +10 set, -10 shipped; reserved nets to zero.
    assert tuple(moved) == (0, 0)
