"""The writer of imported orders against the session's PostgreSQL (and its API, for what
an operator sees): closed orders as history, open ones waiting for their workflow, a
second run changing nothing, corrections and refusals, no events out, the KPI facts."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import replace
from decimal import Decimal

import httpx
from temporalio.converter import value_to_type

from devtools.ports import free_port
from oms import operator_cli
from oms.domain.messages import OrderView
from oms.imports.writer import write_orders
from oms.store import imports as import_store
from tests.conftest import custom_stack
from tests.integration.console_helpers import console_as
from tests.integration.helpers import (
    TERMINAL,
    has_workflow,
    order_body,
    stocked,
    submit,
    unique,
    wait_for_status,
)
from tests.integration.imports_helpers import S, facts_from_backfill, imported, oid, rows, snapshot
from worker.recovery import start_unstarted_orders

HELD = {"on_hold"}


async def test_closed_orders_become_history_with_ledger_shipment_and_kpi_facts(admin, system):
    channel = unique("imp")
    delivered = imported(unique("D"))
    cancelled = imported(unique("C"), S.CANCELLED)
    refunded = imported(unique("R"), S.REFUNDED)
    # Every event subscribed: still nothing goes out for years of history.
    hook = await admin.post(
        "/v1/webhook-endpoints",
        json={"url": f"http://127.0.0.1:{free_port()}/hook", "events": ["*"]},
    )
    assert hook.status_code == 201, hook.text
    try:
        result = await write_orders(
            system.engine, channel, [delivered, cancelled, refunded], run_key=unique("run")
        )
    finally:
        await admin.delete(f"/v1/webhook-endpoints/{hook.json()['id']}")
    assert (result.inserted, result.unchanged, result.refused, result.open_orders) == (3, 0, 0, 0)
    ids = [oid(channel, o.external_id) for o in (delivered, cancelled, refunded)]

    # What the API (and so `oms orders show`) answers.
    shown = (await admin.get(f"/v1/orders/{ids[0]}")).json()
    assert shown["status"] == "delivered"
    assert shown["external_id"] == delivered.external_id
    assert shown["totals"] == {"subtotal": "25.50", "total": "30.00"}
    assert shown["payment"]["status"] == "captured" and shown["payment"]["captured"] == "30.00"
    assert shown["shipments"][0]["tracking_number"] == delivered.tracking_number
    assert shown["imported"]["source_status"] == "fulfilled"
    assert {a["kind"]: a["amount"] for a in shown["adjustments"]} == {
        "discount": "-0.40",
        "shipping": "4.90",
    }
    value_to_type(OrderView, shown, [])  # the read model's shape
    events = (await admin.get(f"/v1/orders/{ids[0]}/events")).json()["items"]
    assert [e["type"] for e in events] == [
        "order_received",
        "payment_captured",
        "shipment_dispatched",
        "shipment_shipped",
        "order_delivered",
        "order_imported",
    ]
    assert events[0]["created_at"].startswith("2024-03-01T10:00:00")
    assert events[4]["created_at"].startswith("2024-03-04T12:00:00")
    answer = await admin.get("/v1/payments", params={"order_id": ids[0]})
    ledger = answer.json()["items"]
    assert [(p["kind"], p["status"], p["amount"], p["currency"]) for p in ledger] == [
        ("capture", "succeeded", "30.00", "EUR")
    ]
    assert ledger[0]["idempotency_key"] == f"{ids[0]}-imported-capture"
    with httpx.Client(base_url=system.api_url, headers=admin.headers, timeout=30) as http:
        args = argparse.Namespace(order_id=ids[0], json=False)
        told = await asyncio.to_thread(operator_cli.cmd_show, args, http)
    assert "status      delivered" in told and "its status 'fulfilled'" in told
    assert "order_imported" in told and delivered.tracking_number in told
    async with console_as(system, "operator") as console:
        page = await console.http.get(f"/console/orders/{ids[0]}")
    assert page.status_code == 200, page.text
    assert 'id="order-status"' in page.text and 'data-status="delivered"' in page.text
    assert 'id="order-imported" data-source-status="fulfilled"' in page.text
    assert delivered.tracking_number in page.text and "30.00" in page.text
    assert 'id="actions-none"' in page.text  # a closed record: nothing to do

    gone = (await admin.get(f"/v1/orders/{ids[1]}")).json()
    assert gone["status"] == "cancelled"
    assert gone["cancellation"]["reason"] == "changed their mind"
    back = (await admin.get(f"/v1/orders/{ids[2]}")).json()
    assert back["status"] == "delivered" and back["payment"]["status"] == "refunded"
    kinds = [
        (r.kind, r.amount)
        for r in await rows(
            system.engine,
            "SELECT kind, amount FROM payments WHERE order_id = :id ORDER BY kind",
            id=ids[2],
        )
    ]
    assert kinds == [("capture", Decimal("30.00")), ("refund", Decimal("30.00"))]

    # Nothing out, no stock touched, no workflow.
    assert not await rows(
        system.engine, "SELECT 1 FROM outbox_events WHERE order_id = ANY(:ids)", ids=ids
    )
    assert not await rows(
        system.engine, "SELECT 1 FROM reservations WHERE order_id = ANY(:ids)", ids=ids
    )
    assert not await has_workflow(system, ids[0])

    # The KPI facts and the SKUs, as the triggers' own rules would have them.
    facts = await snapshot(system.engine, ids)
    assert facts["facts"] == await facts_from_backfill(system.engine, ids)
    by_id = {f[0]: f for f in facts["facts"]}
    assert by_id[ids[1]][5] == "customer"  # who cancelled, from the file
    assert {(s[0], s[2]) for s in facts["skus"]} == {("SKU-IMP-1", i) for i in ids} | {
        ("SKU-IMP-2", i) for i in ids
    }


async def test_a_second_run_changes_nothing_and_a_correction_is_recorded(system):
    channel = unique("imp")
    orders = [imported(unique("D")) for _ in range(4)] + [imported(unique("C"), S.CANCELLED)]
    ids = [oid(channel, o.external_id) for o in orders]
    first = await write_orders(system.engine, channel, orders, run_key=unique("run"), batch_size=2)
    assert first.inserted == 5
    before = await snapshot(system.engine, ids)

    again = await write_orders(system.engine, channel, orders, run_key=unique("run"), batch_size=2)
    assert (again.inserted, again.updated, again.unchanged, again.refused) == (0, 0, 5, 0)
    assert await snapshot(system.engine, ids) == before

    # The corrected file: new money and address on one, cancelled -> refunded? no: a new
    # tracking number and delivery date on another, and a currency change (refused).
    fixed = list(orders)
    fixed[0] = replace(
        orders[0],
        lines=[orders[0].lines[0], replace(orders[0].lines[1], unit_price="7.50")],
        subtotal="27.50",
        total="32.00",
        paid="32.00",
        ship_city="Potsdam",
    )
    fixed[1] = replace(
        orders[1], tracking_number=unique("TRK"), delivered_at="2024-03-05T08:00:00+00:00"
    )
    fixed[2] = replace(orders[2], currency="USD")
    result = await write_orders(system.engine, channel, fixed, run_key=unique("run"))
    assert (result.updated, result.unchanged, result.refused) == (2, 2, 1)
    assert result.refusals == [
        (orders[2].external_id, "currency cannot change on an imported record")
    ]

    after = await snapshot(system.engine, ids)
    events = [e for e in after["events"] if e[0] == ids[0]]
    assert events[-1][2] == "order_corrected"
    assert events[-1][4]["fields"] == ["lines", "paid", "ship_city", "subtotal", "total"]
    assert events[-1][4]["before"]["total"] == "30.00"
    view = next(o for o in after["orders"] if o[0] == ids[0])[3]
    assert view["totals"]["total"] == "32.00" and view["shipping_address"]["city"] == "Potsdam"
    assert view["imported"]["corrections"] == 1
    ledger = [(p[1], p[3], p[5]) for p in after["payments"] if p[0] == ids[0]]
    assert sorted(ledger) == [
        ("capture", Decimal("2.00"), f"{ids[0]}-imported-correction-1-capture"),
        ("capture", Decimal("30.00"), f"{ids[0]}-imported-capture"),
    ]
    # The delivery date moved: the facts follow, as the triggers' rules give them.
    assert after["facts"] == await facts_from_backfill(system.engine, ids)
    moved = next(f for f in after["facts"] if f[0] == ids[1])
    assert moved[7].isoformat().startswith("2024-03-05T08:00")
    shipment = next(s for s in after["shipments"] if s[1] == ids[1])
    assert shipment[3] == fixed[1].tracking_number
    # The refused and unchanged ones are as they were.
    for table in ("orders", "payments", "shipments", "facts"):
        assert [r for r in after[table] if ids[2] in r[:2]] == [
            r for r in before[table] if ids[2] in r[:2]
        ]

    # The same corrected file again: unchanged, and the timeline does not grow.
    twice = await write_orders(system.engine, channel, fixed, run_key=unique("run"))
    assert (twice.updated, twice.unchanged, twice.refused) == (0, 4, 1)
    assert await snapshot(system.engine, ids) == after


async def test_live_orders_and_started_open_orders_are_never_changed(admin, system):
    channel = "webshop"
    _, sku = await stocked(admin, 5)
    live = await submit(admin, order_body([(sku, 1)]))
    await wait_for_status(admin, live["id"], TERMINAL)
    open_order = imported(unique("P"), S.PAID)
    first = await write_orders(
        system.engine, channel, [open_order, imported(live["external_id"])], run_key=unique("run")
    )
    assert (first.inserted, first.open_orders, first.refused) == (1, 1, 1)
    assert first.refusals[0] == (
        live["external_id"],
        "a live order (not imported) has this external id",
    )
    # The open order is waiting: status received, seq 0 only, its stage on the view.
    open_id = oid(channel, open_order.external_id)
    row = (
        await rows(
            system.engine,
            "SELECT status, last_seq, view, payment_token FROM orders WHERE id = :id",
            id=open_id,
        )
    )[0]
    assert (row.status, row.last_seq, row.payment_token) == ("received", 0, None)
    assert row.view["imported"]["stage"] == "paid"
    assert row.view["imported"]["paid"] == "30.00"
    assert [
        e.type
        for e in await rows(
            system.engine, "SELECT type FROM order_events WHERE order_id = :id", id=open_id
        )
    ] == ["order_received"]
    async with system.engine.connect() as conn:
        waiting = await import_store.open_imported_not_started(conn, channel, 10_000)
    assert open_id in {w.id for w in waiting}
    # The recovery sweep leaves it to the starter.
    await start_unstarted_orders(system.client, system.engine, system.settings, 0)
    assert not await has_workflow(system, open_id)
    # A changed open order is refused, started or not.
    changed = replace(open_order, email="new@example.com")
    result = await write_orders(system.engine, channel, [changed], run_key=unique("run"))
    assert result.refused == 1 and "waiting for its workflow" in result.refusals[0][1]
    async with system.engine.begin() as conn:
        await conn.exec_driver_sql(f"UPDATE orders SET last_seq = 1 WHERE id = '{open_id}'")
    result = await write_orders(system.engine, channel, [changed], run_key=unique("run"))
    assert result.refused == 1 and "workflow has started" in result.refusals[0][1]
    # And a live submission with an imported order's external id is told apart (409).
    closed = imported(unique("D"))
    await write_orders(system.engine, channel, [closed], run_key=unique("run"))
    clash = await admin.post(
        "/v1/orders", json=order_body([(sku, 1)], external_id=closed.external_id)
    )
    assert clash.status_code == 409, clash.text
    async with system.engine.begin() as conn:
        await conn.exec_driver_sql(f"DELETE FROM orders WHERE id = '{open_id}'")


async def test_an_imported_delivered_order_makes_its_customer_known_to_the_hold_rules(system):
    rules = {"hold_high_value": "EUR:1000000000", "hold_new_customer_value": "EUR:100"}
    known, newcomer = unique("cust"), unique("cust")
    history = imported(unique("D"), customer_id=known)
    await write_orders(system.engine, "webshop", [history], run_key=unique("run"))
    async with custom_stack(system, "import-history", {}, **rules) as http:
        _, sku = await stocked(http, 5)
        repeat = await submit(http, order_body([(sku, 1, "150.00")], customer_id=known))
        first = await submit(http, order_body([(sku, 1, "150.00")], customer_id=newcomer))
        held = await wait_for_status(http, first["id"], HELD)
        assert held["hold"]["reasons"] == ["new_customer_high_value"]
        done = await wait_for_status(http, repeat["id"], TERMINAL)
        assert done["status"] == "delivered" and done["hold"] is None
        await http.post(f"/v1/orders/{first['id']}/reject", json={"note": "test"})
