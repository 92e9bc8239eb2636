"""Returns and refunds on the real stack (docs/returns.md): a return per resolution, partial
and repeated returns, more than delivered refused (also when two returns race), damaged
and missing units, the operator's decision outside the return window, refunds without a
return (refused by the gateway, retried through its outages, never above the captures),
and for every order touched: captures minus refunds is what the customer finally paid,
in the OMS's ledger and at the gateway alike."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from devtools.ports import free_port
from oms.domain.ids import order_id_for
from oms.webhooks import signed_headers
from tests.conftest import ADMIN_KEY, api_of
from tests.integration.helpers import (
    POLL_S,
    order_body,
    set_stock,
    stocked,
    submit,
    unique,
    wait_for_status,
)
from tests.integration.test_events_out import (  # noqa: F401 (fixtures)
    Receiver,
    _subscribe,
    endpoints,
    receiver,
)

D = Decimal
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


# --- helpers -----------------------------------------------------------------------------


async def delivered_order(
    admin: httpx.AsyncClient,
    lines: list[tuple[str, int, str]],
    token: str = "tok_ok",
    channel: str = "webshop",
    customer_id: str = "cust-1",
) -> dict[str, Any]:
    body = order_body(lines, token=token, channel=channel, customer_id=customer_id)
    order = await submit(admin, body)
    return await wait_for_status(admin, order["id"], {"delivered"})


async def open_return(
    admin: httpx.AsyncClient,
    order_id: str,
    lines: list[tuple[str, int]],
    resolution: str = "refund",
    expect: int = 201,
) -> dict[str, Any]:
    body = {
        "lines": [{"sku": s, "quantity": q} for s, q in lines],
        "reason": "does not fit",
        "resolution": resolution,
    }
    response = await admin.post(f"/v1/orders/{order_id}/returns", json=body)
    assert response.status_code == expect, response.text
    return response.json()  # type: ignore[no-any-return]


async def wait_for_return(
    admin: httpx.AsyncClient, return_id: str, statuses: set[str], within: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    found: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await admin.get(f"/v1/returns/{return_id}")
        assert response.status_code == 200, response.text
        found = response.json()
        if found["status"] in statuses:
            return found
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"return {return_id} stayed {found.get('status')}, wanted {statuses}")


async def wait_for_refund(
    admin: httpx.AsyncClient, order_id: str, refund_id: str, within: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        items = (await admin.get(f"/v1/orders/{order_id}/refunds")).json()["items"]
        [refund] = [r for r in items if r["id"] == refund_id]
        if refund["status"] != "pending":
            return refund  # type: ignore[no-any-return]
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"refund {refund_id} stayed pending")


async def on_hand(admin: httpx.AsyncClient, warehouse_id: str, sku: str) -> int:
    levels = (await admin.get(f"/v1/stock/{sku}")).json()
    rows = levels["levels"] if isinstance(levels, dict) and "levels" in levels else levels
    if isinstance(rows, dict):
        rows = rows.get("warehouses") or rows.get("items") or []
    return int(next(r["on_hand"] for r in rows if r["warehouse_id"] == warehouse_id))


async def timeline(admin: httpx.AsyncClient, order_id: str) -> list[dict[str, Any]]:
    response = await admin.get(f"/v1/orders/{order_id}/events", params={"limit": 500})
    return response.json()["items"]  # type: ignore[no-any-return]


async def assert_books(engine: Any, order_id: str, paid: Decimal) -> None:
    """Captures minus refunds is what the customer paid, in the ledger and at the gateway
    (whose authorization holds what it captured and refunded)."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT kind, COALESCE(sum(amount), 0) AS amount FROM payments "
                    "WHERE order_id = :id AND status = 'succeeded' GROUP BY kind"
                ),
                {"id": order_id},
            )
        ).all()
        ledger = {r.kind: D(r.amount) for r in rows}
        auth = (
            await conn.execute(
                text(
                    "SELECT a.captured, a.refunded FROM sim_gateway_authorizations a "
                    "JOIN payments p ON p.gateway_reference = a.id "
                    "WHERE p.order_id = :id AND p.kind = 'authorize' AND p.status = 'succeeded'"
                ),
                {"id": order_id},
            )
        ).first()
    assert ledger.get("capture", D(0)) - ledger.get("refund", D(0)) == paid, ledger
    assert auth is not None
    assert D(auth.captured) - D(auth.refunded) == paid


async def set_conditions(system: Any, conditions: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=system.settings.sim_base_url, timeout=10) as sim:
        response = await sim.put("/sim/wms/return-conditions", json=conditions, headers=ADMIN)
        assert response.status_code == 200, response.text


# --- returns, one per resolution -----------------------------------------------------------


async def test_a_refund_return_inside_the_window_restocks_refunds_and_shows_everywhere(
    system, admin
):
    wh, sku = await stocked(admin, 10)
    order = await delivered_order(admin, [(sku, 3, "10.00")])
    assert await on_hand(admin, wh, sku) == 7

    opened = await open_return(admin, order["id"], [(sku, 1)])
    assert opened["id"] == f"{order['id']}-r1"
    assert opened["warehouse_id"] == wh
    closed = await wait_for_return(admin, opened["id"], {"closed"})
    assert closed["decided_by"] == "return window"
    assert closed["tracking_number"].startswith("RET")
    [line] = closed["lines"]
    assert (line["restockable"], line["damaged"], line["missing"]) == (1, 0, 0)
    assert line["restocked"] is True
    assert await on_hand(admin, wh, sku) == 8

    refund = await wait_for_refund(admin, order["id"], closed["refund_id"])
    assert (refund["status"], refund["amount"], refund["refunded"]) == (
        "succeeded",
        "10.00",
        "10.00",
    )
    assert refund["return_id"] == opened["id"]
    view = (await admin.get(f"/v1/orders/{order['id']}")).json()
    assert view["refunded"] == "10.00"
    assert view["returns"] == [
        {
            "id": opened["id"],
            "status": "closed",
            "resolution": "refund",
            "lines": [{"sku": sku, "quantity": 1}],
        }
    ]
    types = [e["type"] for e in await timeline(admin, order["id"])]
    after = types[types.index("order_delivered") :]
    assert after == [
        "order_delivered",
        "return_opened",
        "return_approved",
        "return_received",
        "refund_issued",
        "return_closed",
    ]
    listed = (await admin.get(f"/v1/orders/{order['id']}/returns")).json()["items"]
    assert [r["id"] for r in listed] == [opened["id"]]
    await assert_books(system.engine, order["id"], D("20.00"))


async def test_partial_and_repeated_returns_never_take_back_more_than_was_delivered(system, admin):
    _wh, sku = await stocked(admin, 10)
    _wh2, other = await stocked(admin, 10)
    order = await delivered_order(admin, [(sku, 3, "5.00"), (other, 1, "7.00")])
    first = await open_return(admin, order["id"], [(sku, 2)], resolution="none")
    second = await open_return(admin, order["id"], [(sku, 1), (other, 1)], resolution="none")
    assert second["id"] == f"{order['id']}-r2"
    refused = await open_return(admin, order["id"], [(sku, 1)], expect=409)
    assert refused["type"].endswith("return-exceeds-delivered")
    assert "0 left to return" in refused["errors"][0]["message"]
    unknown = await open_return(admin, order["id"], [("NOT-IN-ORDER", 1)], expect=422)
    assert unknown["errors"][0]["field"] == "lines.NOT-IN-ORDER"
    for r in (first, second):
        done = await wait_for_return(admin, r["id"], {"closed"})
        assert done["refund_id"] is None  # resolution none: nothing paid back
    assert len((await admin.get(f"/v1/orders/{order['id']}/returns")).json()["items"]) == 2
    await assert_books(system.engine, order["id"], D("22.00"))


async def test_two_returns_racing_for_the_same_units_cannot_both_win(system, admin):
    _wh, sku = await stocked(admin, 10)
    order = await delivered_order(admin, [(sku, 3, "5.00")])
    answers = await asyncio.gather(
        *(
            admin.post(
                f"/v1/orders/{order['id']}/returns",
                json={
                    "lines": [{"sku": sku, "quantity": 2}],
                    "reason": "race",
                    "resolution": "none",
                },
            )
            for _ in range(2)
        )
    )
    assert sorted(a.status_code for a in answers) == [201, 409]
    async with system.engine.connect() as conn:
        total = (
            await conn.execute(
                text(
                    "SELECT sum(l.quantity) FROM return_lines l JOIN returns r "
                    "ON r.id = l.return_id WHERE r.order_id = :id"
                ),
                {"id": order["id"]},
            )
        ).scalar_one()
    assert total == 2
    await assert_books(system.engine, order["id"], D("15.00"))


async def test_an_order_not_delivered_cannot_be_returned_and_bad_bodies_change_nothing(
    system, admin
):
    _wh, sku = await stocked(admin, 1)
    failed = await submit(admin, order_body([(sku, 1)], token="tok_declined"))
    await wait_for_status(admin, failed["id"], {"failed"})
    refused = await open_return(admin, failed["id"], [(sku, 1)], expect=409)
    assert refused["order_status"] == "failed"
    _wh2, sku2 = await stocked(admin, 2)
    done = await delivered_order(admin, [(sku2, 1, "3.00")])
    for bad in (
        {"lines": [], "reason": "x", "resolution": "refund"},
        {"lines": [{"sku": sku2, "quantity": 0}], "reason": "x", "resolution": "refund"},
        {"lines": [{"sku": sku2, "quantity": 1}], "reason": "x", "resolution": "cash"},
        {"lines": [{"sku": sku2, "quantity": 1}], "resolution": "refund"},
    ):
        response = await admin.post(f"/v1/orders/{done['id']}/returns", json=bad)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await admin.get(f"/v1/orders/{done['id']}/returns")).json()["items"] == []
    await assert_books(system.engine, done["id"], D("3.00"))
    assert (await admin.get("/v1/returns/0123456789abcdef0123-r9")).status_code == 404


async def test_damaged_units_are_refunded_not_restocked_and_missing_ones_neither(system, admin):
    wh, sku = await stocked(admin, 10)
    await set_conditions(system, {sku: {"damaged": 1, "missing": 1}})
    try:
        order = await delivered_order(admin, [(sku, 4, "12.50")])
        opened = await open_return(admin, order["id"], [(sku, 3)])
        closed = await wait_for_return(admin, opened["id"], {"closed"})
    finally:
        await set_conditions(system, {sku: None})
    [line] = closed["lines"]
    assert (line["restockable"], line["damaged"], line["missing"]) == (1, 1, 1)
    assert await on_hand(admin, wh, sku) == 6 + 1  # only the restockable unit came back
    refund = await wait_for_refund(admin, order["id"], closed["refund_id"])
    assert refund["refunded"] == "25.00"  # restockable and damaged: two units
    async with system.engine.connect() as conn:
        moves = (
            await conn.execute(
                text(
                    "SELECT kind, on_hand_delta FROM stock_movements "
                    "WHERE sku = :sku AND kind = 'return'"
                ),
                {"sku": sku},
            )
        ).all()
    assert [(m.kind, m.on_hand_delta) for m in moves] == [("return", 1)]
    await assert_books(system.engine, order["id"], D("25.00"))


async def test_an_exchange_starts_a_paid_order_for_the_replacement_units(system, admin):
    wh, sku = await stocked(admin, 10)
    order = await delivered_order(admin, [(sku, 2, "8.00")])
    opened = await open_return(admin, order["id"], [(sku, 1)], resolution="exchange")
    closed = await wait_for_return(admin, opened["id"], {"closed"})
    expected = order_id_for("webshop", f"exchange-{opened['id']}")
    assert closed["exchange_order_id"] == expected
    assert closed["refund_id"] is None
    exchange = await wait_for_status(admin, expected, {"delivered"})
    assert exchange["external_id"] == f"exchange-{opened['id']}"
    assert [(x["sku"], x["quantity"]) for x in exchange["lines"]] == [(sku, 1)]
    assert exchange["customer"] == order["customer"]
    async with system.engine.connect() as conn:
        kinds = (
            await conn.execute(
                text("SELECT kind, status, gateway_reference FROM payments WHERE order_id = :id"),
                {"id": expected},
            )
        ).all()
    # Paid by the return: recorded, never authorized nor captured at the gateway.
    assert [(k.kind, k.status, k.gateway_reference) for k in kinds] == [
        ("platform", "succeeded", f"exchange:{opened['id']}")
    ]
    # 10 - 2 sold + 1 returned - 1 sent again
    assert await on_hand(admin, wh, sku) == 8
    await assert_books(system.engine, order["id"], D("16.00"))


async def test_store_credit_is_written_once_with_no_money_moving(system, admin):
    _wh, sku = await stocked(admin, 10)
    order = await delivered_order(admin, [(sku, 2, "9.99")])
    opened = await open_return(admin, order["id"], [(sku, 2)], resolution="store_credit")
    await wait_for_return(admin, opened["id"], {"closed"})
    async with system.engine.connect() as conn:
        credit = (
            await conn.execute(
                text("SELECT customer_id, amount FROM store_credits WHERE return_id = :id"),
                {"id": opened["id"]},
            )
        ).one()
    assert (credit.customer_id, D(credit.amount)) == ("cust-1", D("19.98"))
    types = [e["type"] for e in await timeline(admin, order["id"])]
    assert "store_credit_granted" in types and "refund_issued" not in types
    await assert_books(system.engine, order["id"], D("19.98"))


# --- the operator's decision outside the window -----------------------------------------


async def test_outside_the_window_an_operator_approves_or_rejects_once(system, admin):
    settings = system.settings.model_copy(
        update={"api_port": free_port(), "return_windows": "rma-manual:0"}
    )
    _wh, sku = await stocked(admin, 10)
    order = await delivered_order(admin, [(sku, 2, "4.00")], channel="rma-manual")
    async with api_of(system, settings) as manual:
        waiting = await open_return(manual, order["id"], [(sku, 1)])
        rejected = await open_return(manual, order["id"], [(sku, 1)])
        await asyncio.sleep(0.3)
        assert (await manual.get(f"/v1/returns/{waiting['id']}")).json()["status"] == "requested"
        queue = (await manual.get("/v1/returns", params={"status": "requested"})).json()
        assert {waiting["id"], rejected["id"]} <= {r["id"] for r in queue["items"]}
        assert all(r["status"] == "requested" for r in queue["items"])
        approve = await manual.post(
            f"/v1/returns/{waiting['id']}/approve", json={"note": "receipt checked", "by": "ann"}
        )
        assert approve.status_code == 202, approve.text
        again = await manual.post(f"/v1/returns/{waiting['id']}/reject", json={})
        assert again.status_code == 409, again.text
        assert "approved already" in again.json()["detail"]
        no = await manual.post(f"/v1/returns/{rejected['id']}/reject", json={"note": "worn"})
        assert no.status_code == 202, no.text
    done = await wait_for_return(admin, waiting["id"], {"closed"})
    assert done["decided_by"].startswith("ann") and done["decision_note"] == "receipt checked"
    gone = await wait_for_return(admin, rejected["id"], {"rejected"})
    assert gone["decision_note"] == "worn"
    # A rejected return gives its units back to what may be returned.
    again = await open_return(admin, order["id"], [(sku, 1)], resolution="none")
    await wait_for_return(admin, again["id"], {"closed"})
    await assert_books(system.engine, order["id"], D("4.00"))


async def test_a_sku_the_warehouse_never_counts_is_missing_once_the_wait_is_over(system, admin):
    settings = system.settings.model_copy(
        update={"api_port": free_port(), "return_receive_timeout_s": 1.5}
    )
    wh, lost = await stocked(admin, 5)
    await set_stock(admin, wh, kept := unique("SKU"), 5)
    await set_conditions(system, {lost: {"lost": 1}})
    try:
        order = await delivered_order(admin, [(lost, 1, "7.00"), (kept, 1, "3.00")])
        async with api_of(system, settings) as short:
            opened = await open_return(short, order["id"], [(lost, 1), (kept, 1)])
        closed = await wait_for_return(admin, opened["id"], {"closed"})
    finally:
        await set_conditions(system, {lost: None})
    counts = {x["sku"]: (x["restockable"], x["damaged"], x["missing"]) for x in closed["lines"]}
    assert counts == {lost: (0, 0, 1), kept: (1, 0, 0)}
    refund = await wait_for_refund(admin, order["id"], closed["refund_id"])
    assert refund["refunded"] == "3.00"  # the lost unit is neither refunded nor restocked
    assert await on_hand(admin, wh, lost) == 4
    assert await on_hand(admin, wh, kept) == 5
    await assert_books(system.engine, order["id"], D("7.00"))


async def test_return_events_are_signed_and_name_a_known_return(system, admin):
    body = b'{"event_id": "e1", "type": "return_line_received", "return_id": "x-r1", "sku": "A"}'
    bad = {"X-OMS-Timestamp": str(int(time.time())), "X-OMS-Signature": "sha256=00"}
    async with httpx.AsyncClient(base_url=system.api_url, timeout=10) as http:
        response = await http.post("/v1/return-events", content=body, headers=bad)
        assert response.status_code == 401
        signed = signed_headers(system.settings.wms_webhook_secret, body)
        response = await http.post("/v1/return-events", content=body, headers=signed)
        assert response.status_code == 404, response.text


# --- refunds without a return ------------------------------------------------------------


async def refund(
    admin: httpx.AsyncClient, order_id: str, body: dict[str, Any], expect: int = 202
) -> dict[str, Any]:
    response = await admin.post(f"/v1/orders/{order_id}/refunds", json=body)
    assert response.status_code == expect, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_a_goodwill_refund_by_amount_or_lines_and_never_above_the_captures(system, admin):
    _wa, sku_a = await stocked(admin, 5)
    _wb, sku_b = await stocked(admin, 5)
    # Two warehouses: two shipments, two captures (20.00 and 9.00).
    order = await delivered_order(admin, [(sku_a, 2, "10.00"), (sku_b, 1, "9.00")])
    assert len(order["shipments"]) == 2
    note = {"reason": "goodwill", "note": "late parcel"}
    first = await refund(admin, order["id"], {"amount": "5.50", **note})
    assert (first["status"], first["amount"]) == ("pending", "5.50")
    assert (await wait_for_refund(admin, order["id"], first["id"]))["status"] == "succeeded"
    by_lines = await refund(admin, order["id"], {"lines": [{"sku": sku_b, "quantity": 1}], **note})
    assert by_lines["amount"] == "9.00"
    await wait_for_refund(admin, order["id"], by_lines["id"])
    over = await refund(admin, order["id"], {"amount": "14.51", **note}, expect=409)
    assert over["refundable"] == "14.50"
    rest = await refund(admin, order["id"], {"amount": "14.50", **note})
    done = await wait_for_refund(admin, order["id"], rest["id"])
    assert done["status"] == "succeeded"
    async with system.engine.connect() as conn:
        per_capture = (
            await conn.execute(
                text(
                    "SELECT c.amount AS captured, sum(p.amount) AS refunded "
                    "FROM payments c JOIN refund_parts p ON p.capture_key = c.idempotency_key "
                    "WHERE c.order_id = :id AND c.kind = 'capture' "
                    "GROUP BY c.idempotency_key, c.amount"
                ),
                {"id": order["id"]},
            )
        ).all()
    assert len(per_capture) == 2
    assert all(D(r.refunded) == D(r.captured) for r in per_capture)  # each in full, no more
    nothing_left = await refund(admin, order["id"], {"amount": "0.01", **note}, expect=409)
    assert nothing_left["refundable"] == "0.00"
    assert (await admin.get(f"/v1/orders/{order['id']}")).json()["refunded"] == "29.00"
    await assert_books(system.engine, order["id"], D("0.00"))


@pytest.mark.parametrize(
    "body",
    [
        {"amount": "1.001", "reason": "x", "note": "y"},
        {"amount": "1.00", "lines": [], "reason": "x", "note": "y"},
        {"reason": "x", "note": "y"},
        {"amount": "0", "reason": "x", "note": "y"},
        {"amount": "1.00", "reason": "x"},
        {"lines": [{"sku": "NOPE", "quantity": 1}], "reason": "x", "note": "y"},
    ],
)
async def test_a_bad_refund_is_refused_and_changes_nothing(system, admin, body):
    order = await _shared_order(admin)
    response = await admin.post(f"/v1/orders/{order}/refunds", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await admin.get(f"/v1/orders/{order}/refunds")).json()["items"] == []
    await assert_books(system.engine, order, D("2.00"))


_SHARED: dict[str, str] = {}


async def _shared_order(admin: httpx.AsyncClient) -> str:
    if "order" not in _SHARED:
        _wh, sku = await stocked(admin, 2)
        _SHARED["order"] = (await delivered_order(admin, [(sku, 1, "2.00")]))["id"]
    return _SHARED["order"]


async def test_a_refund_the_gateway_refuses_fails_once_and_raises_an_alert(system, admin):
    _wh, sku = await stocked(admin, 5)
    order = await delivered_order(admin, [(sku, 1, "30.00")], token="tok_refund_refused")
    asked = await refund(admin, order["id"], {"amount": "10.00", "reason": "price", "note": "n"})
    failed = await wait_for_refund(admin, order["id"], asked["id"])
    assert (failed["status"], failed["refunded"]) == ("failed", "0.00")
    assert "declined" in failed["error"]
    async with system.engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT status FROM payments WHERE order_id = :id AND kind = 'refund'"),
                {"id": order["id"]},
            )
        ).all()
    assert [r.status for r in rows] == ["declined"]
    # The alert follows the refund's record, as the workflow's next step.
    deadline = time.monotonic() + 30
    kinds: list[str] = []
    while "refund_failed" not in kinds and time.monotonic() < deadline:
        await asyncio.sleep(POLL_S)
        async with system.engine.connect() as conn:
            alerts = await conn.execute(
                text("SELECT kind FROM alerts WHERE order_id = :id"), {"id": order["id"]}
            )
            kinds = [a.kind for a in alerts]
    assert "refund_failed" in kinds
    types = [e["type"] for e in await timeline(admin, order["id"])]
    assert types.count("refund_failed") == 1
    # What it held is free again: the whole capture may still be refunded.
    again = await refund(admin, order["id"], {"amount": "30.00", "reason": "p", "note": "n"})
    assert again["amount"] == "30.00"
    await wait_for_refund(admin, order["id"], again["id"])
    await assert_books(system.engine, order["id"], D("30.00"))


async def test_a_refund_through_gateway_outages_is_retried_and_paid_once(system, admin):
    _wh, sku = await stocked(admin, 5)
    order = await delivered_order(admin, [(sku, 2, "15.00")], token="tok_refund_flaky")
    asked = await refund(admin, order["id"], {"amount": "12.00", "reason": "price", "note": "n"})
    done = await wait_for_refund(admin, order["id"], asked["id"])
    assert (done["status"], done["refunded"]) == ("succeeded", "12.00")
    async with system.engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT status, idempotency_key FROM payments "
                    "WHERE order_id = :id AND kind = 'refund' ORDER BY id"
                ),
                {"id": order["id"]},
            )
        ).all()
    # Two outages answered 503 (each a failed attempt in the ledger), then one refund.
    assert [r.status for r in rows] == ["failed", "failed", "succeeded"]
    assert len({r.idempotency_key for r in rows}) == 1
    await assert_books(system.engine, order["id"], D("18.00"))


async def test_a_channel_key_reads_but_cannot_open_returns_or_refunds(system, admin):
    order = await _shared_order(admin)
    name = unique("shop")
    created = await admin.post(
        "/v1/keys", json={"role": "channel", "name": name, "channel": "webshop"}
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    async with httpx.AsyncClient(
        base_url=system.api_url, timeout=10, headers={"Authorization": f"Bearer {key}"}
    ) as shop:
        assert (await shop.get(f"/v1/orders/{order}/returns")).status_code == 200
        body = {"amount": "1.00", "reason": "x", "note": "y"}
        assert (await shop.post(f"/v1/orders/{order}/refunds", json=body)).status_code == 403


async def test_returns_and_refunds_are_events_out_for_subscribers(
    system,
    admin,
    receiver: Receiver,  # noqa: F811 (the fixture of test_events_out)
    endpoints: list[str],  # noqa: F811
):
    types = [
        "return.opened",
        "return.approved",
        "return.rejected",
        "return.received",
        "return.closed",
        "refund.succeeded",
        "refund.failed",
    ]
    await _subscribe(admin, receiver, endpoints, types)
    _wh, sku = await stocked(admin, 5)
    order = await delivered_order(admin, [(sku, 2, "6.00")])
    opened = await open_return(admin, order["id"], [(sku, 1)])
    await wait_for_return(admin, opened["id"], {"closed"})
    await receiver.wait_for(
        lambda: any(r.body["type"] == "return.closed" for r in receiver.of_order(order["id"]))
    )
    events = [r.body for r in receiver.of_order(order["id"])]
    assert [e["type"] for e in events] == [
        "return.opened",
        "return.approved",
        "return.received",
        "refund.succeeded",
        "return.closed",
    ]
    assert all(e["data"]["return_id"] == opened["id"] for e in events)
    assert events[3]["data"]["refunded"] == "6.00"
    assert "Ada" not in str(events)


async def test_two_refunds_racing_for_the_same_money_cannot_both_win(system, admin):
    _wh, sku = await stocked(admin, 5)
    order = await delivered_order(admin, [(sku, 1, "11.00")])
    body = {"amount": "8.00", "reason": "race", "note": "n"}
    answers = await asyncio.gather(
        *(admin.post(f"/v1/orders/{order['id']}/refunds", json=body) for _ in range(2))
    )
    assert sorted(a.status_code for a in answers) == [202, 409]
    [won] = [a.json() for a in answers if a.status_code == 202]
    await wait_for_refund(admin, order["id"], won["id"])
    await assert_books(system.engine, order["id"], D("3.00"))


async def test_an_idempotency_key_makes_a_resent_return_or_refund_the_same_one(system, admin):
    _wh, sku = await stocked(admin, 5)
    order = await delivered_order(admin, [(sku, 2, "6.00")])
    body = {"lines": [{"sku": sku, "quantity": 1}], "reason": "r", "resolution": "none"}
    url = f"/v1/orders/{order['id']}/returns"
    first = await admin.post(url, json=body, headers={"Idempotency-Key": "ticket-1"})
    again = await admin.post(url, json=body, headers={"Idempotency-Key": "ticket-1"})
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == again.json()["id"] and "-rk" in first.json()["id"]
    other = {**body, "reason": "another"}
    conflict = await admin.post(url, json=other, headers={"Idempotency-Key": "ticket-1"})
    assert conflict.status_code == 409 and conflict.json()["type"].endswith("idempotency-conflict")
    assert len((await admin.get(url)).json()["items"]) == 1
    await wait_for_return(admin, first.json()["id"], {"closed"})

    money = {"amount": "4.00", "reason": "goodwill", "note": "n"}
    url = f"/v1/orders/{order['id']}/refunds"
    paid = await admin.post(url, json=money, headers={"Idempotency-Key": "call-7"})
    resent = await admin.post(url, json=money, headers={"Idempotency-Key": "call-7"})
    assert (paid.status_code, resent.status_code) == (202, 202), resent.text
    assert resent.headers["Idempotent-Replayed"] == "true"
    assert paid.json()["id"] == resent.json()["id"]
    changed = {**money, "amount": "5.00"}
    refused = await admin.post(url, json=changed, headers={"Idempotency-Key": "call-7"})
    assert refused.status_code == 409, refused.text
    await wait_for_refund(admin, order["id"], paid.json()["id"])
    assert len((await admin.get(url)).json()["items"]) == 1
    await assert_books(system.engine, order["id"], D("8.00"))
