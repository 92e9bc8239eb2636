"""``oms import verify``: the source reconciled with the database, every difference
listed: a changed total in the database, an order missing, one extra."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from oms.imports.verify import render, verify
from oms.imports.writer import write_orders
from tests.integration.helpers import unique
from tests.integration.imports_helpers import S, imported, oid, rows


async def test_verify_agrees_then_lists_a_damaged_total_a_missing_and_an_extra_order(system):
    channel = unique("ver")
    orders = [imported(unique("D")) for _ in range(6)] + [
        imported(unique("C"), S.CANCELLED),
        imported(unique("R"), S.REFUNDED),
        imported(unique("P"), S.DISPATCHED, created_at="2024-03-02T23:30:00+00:00"),
    ]
    await write_orders(system.engine, channel, orders, run_key=unique("run"))

    clean = await verify(system.engine, channel, orders, sample=50)
    assert clean.ok, render(clean)
    counts = (clean.in_file, clean.in_db, clean.missing, clean.extra, clean.sampled)
    assert counts == (9, 9, 0, 0, 9)
    assert [(s.day, s.file_orders, s.db_orders, s.db_total) for s in clean.sums] == [
        ("2024-03-01", 8, 8, Decimal("240.00")),
        ("2024-03-02", 1, 1, Decimal("30.00")),
    ]
    assert "no difference" in render(clean)

    # Damage one row, leave one order out of the files, add one the database lacks.
    damaged = orders[0]
    async with system.engine.begin() as conn:
        await conn.exec_driver_sql(
            "UPDATE orders SET view = jsonb_set(view, '{totals,total}', '\"31.00\"') "
            f"WHERE id = '{oid(channel, damaged.external_id)}'"
        )
    unknown = imported(unique("N"))
    files = [*orders[1:], replace(damaged), unknown]
    found = await verify(system.engine, channel, files, sample=50, seed=3)
    assert not found.ok
    assert (found.in_file, found.in_db, found.missing, found.extra) == (10, 9, 1, 0)
    listed = {(d.kind, d.external_id, d.field, d.source, d.database) for d in found.differences}
    assert ("field", damaged.external_id, "total", "30.00", "31.00") in listed
    assert ("missing", unknown.external_id, "order", "in the file", None) in listed
    day = f"2024-03-01 {channel} EUR"
    assert ("sum", None, day, "9 orders, 270.00", "8 orders, 241.00") in listed
    text = render(found)
    assert damaged.external_id in text and "31.00" in text and unknown.external_id in text

    # A file without one of the imported orders: the database has one extra.
    fewer = await verify(system.engine, channel, orders[2:], sample=0)
    assert fewer.extra == 2 and fewer.missing == 0
    assert {d.external_id for d in fewer.differences if d.kind == "extra"} == {
        orders[0].external_id,
        orders[1].external_id,
    }
    left = await rows(
        system.engine, "SELECT count(*) AS n FROM orders WHERE channel = :c", c=channel
    )
    assert left[0].n == 9  # verify writes nothing
