"""Order edits over HTTP, on PostgreSQL, Temporal and the sandbox gateway: the stock moves
in one transaction, the authorization follows the total, refusals change nothing, an edit
racing the dispatch, and the API's answers (docs/edits.md)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.routing import Route
from temporalio import activity

from devtools.ports import free_port
from oms.domain.messages import ReserveResult, StockEdit
from tests.conftest import System, _serve, custom_stack
from tests.integration.helpers import (
    TERMINAL,
    order_body,
    real_activity,
    set_stock,
    stocked,
    submit,
    wait_for_status,
)
from tests.integration.imports_open_rows import keep_history
from tests.integration.test_console_order import audit_rows, console_on, timeline
from tests.integration.test_events_out import Receiver, _subscribe

# Reserved orders wait this long before dispatch: the tests edit them meanwhile, then
# cancel them (nothing waits for the window to end).
WINDOW_S = 120.0
RESERVED = {"reserved"}


@pytest.fixture(scope="module")
async def window_api(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with custom_stack(system, "edits-window", {}, release_delay_s=WINDOW_S) as http:
        yield http


async def _held(system: System, order_id: str) -> dict[str, int]:
    """SKU -> units held for the order."""
    async with system.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT sku, sum(quantity) FROM reservations "
                "WHERE order_id = :o AND status = 'held' GROUP BY sku"
            ),
            {"o": order_id},
        )
        return {sku: int(units) for sku, units in rows}


async def _available(http: httpx.AsyncClient, sku: str) -> int:
    response = await http.get(f"/v1/stock/{sku}")
    assert response.status_code == 200, response.text
    return sum(int(w["available"]) for w in response.json()["warehouses"])


async def _ledger(http: httpx.AsyncClient, order_id: str) -> list[tuple[str, str, str]]:
    response = await http.get("/v1/payments", params={"order_id": order_id})
    assert response.status_code == 200, response.text
    return [(p["kind"], p["status"], p["amount"]) for p in response.json()["items"]]


async def _authorized_at_gateway(system: System, order_id: str) -> tuple[Decimal, Decimal]:
    """The sandbox gateway's authorization of the order: (amount, captured)."""
    async with system.engine.connect() as conn:
        ref = (
            await conn.execute(
                text(
                    "SELECT gateway_reference FROM payments WHERE order_id = :o "
                    "AND kind = 'authorize' AND status = 'succeeded'"
                ),
                {"o": order_id},
            )
        ).scalar_one()
        row = (
            await conn.execute(
                text("SELECT amount, captured FROM sim_gateway_authorizations WHERE id = :id"),
                {"id": ref},
            )
        ).one()
    return Decimal(row.amount), Decimal(row.captured)


def _lines(*lines: tuple[str, int, str]) -> dict[str, Any]:
    return {"lines": [{"sku": s, "quantity": q, "unit_price": p} for s, q, p in lines]}


async def _events(http: httpx.AsyncClient, order_id: str) -> list[dict[str, Any]]:
    return list((await http.get(f"/v1/orders/{order_id}/events")).json()["items"])


async def test_an_edit_adding_a_line_reserves_it_and_raises_the_authorization(system, window_api):
    http = window_api
    warehouse, sku_a = await stocked(http, 10)
    sku_b = sku_a + "-B"
    await set_stock(http, warehouse, sku_b, 5)
    order = await submit(http, order_body([(sku_a, 2, "10.00")]))
    await wait_for_status(http, order["id"], RESERVED)

    body = {**_lines((sku_a, 3, "10.00"), (sku_b, 2, "2.50")), "reason": "customer called"}
    answer = await http.post(f"/v1/orders/{order['id']}/edit", json=body)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["accepted_action"]["action"] == "edit"
    assert [(x["sku"], x["quantity"]) for x in body["lines"]] == [(sku_a, 3), (sku_b, 2)]
    assert body["totals"]["total"] == "35.00" and body["edits"] == 1
    assert body["payment"]["authorized"] == "35.00"
    assert await _held(system, order["id"]) == {sku_a: 3, sku_b: 2}
    assert (await _available(http, sku_a), await _available(http, sku_b)) == (7, 3)
    assert await _authorized_at_gateway(system, order["id"]) == (Decimal("35"), Decimal(0))
    ledger = await _ledger(http, order["id"])
    assert [(k, s, Decimal(a)) for k, s, a in ledger if k == "adjust"] == [
        ("adjust", "succeeded", Decimal(35))
    ]
    edited = [e for e in await _events(http, order["id"]) if e["type"] == "order_edited"]
    assert len(edited) == 1
    assert edited[0]["data"]["by"] == "admin"
    assert [x["sku"] for x in edited[0]["data"]["after"]] == [sku_a, sku_b]
    assert edited[0]["data"]["units"] == {sku_a: 1, sku_b: 2}
    assert edited[0]["data"]["reason"] == "customer called"

    cancelled = await http.post(f"/v1/orders/{order['id']}/cancel", json={})
    assert cancelled.status_code == 202, cancelled.text
    done = await wait_for_status(http, order["id"], TERMINAL)
    assert done["status"] == "cancelled"
    assert (await _available(http, sku_a), await _available(http, sku_b)) == (10, 5)
    await keep_history(system, order["id"], "v10-edited-order-line-added-cancelled")


async def test_removing_lines_releases_their_stock_and_lowers_the_authorization(system, window_api):
    http = window_api
    warehouse, sku_a = await stocked(http, 10)
    sku_b = sku_a + "-B"
    await set_stock(http, warehouse, sku_b, 5)
    order = await submit(http, order_body([(sku_a, 4, "10.00"), (sku_b, 5, "3.00")]))
    await wait_for_status(http, order["id"], RESERVED)
    assert (await _available(http, sku_a), await _available(http, sku_b)) == (6, 0)

    answer = await http.post(f"/v1/orders/{order['id']}/edit", json=_lines((sku_a, 1, "10.00")))

    assert answer.status_code == 200, answer.text
    assert answer.json()["totals"]["total"] == "10.00"
    assert await _held(system, order["id"]) == {sku_a: 1}
    assert (await _available(http, sku_a), await _available(http, sku_b)) == (9, 5)
    # A partial reversal: the gateway holds only the new total.
    assert await _authorized_at_gateway(system, order["id"]) == (Decimal("10"), Decimal(0))
    await http.post(f"/v1/orders/{order['id']}/cancel", json={})
    assert (await wait_for_status(http, order["id"], TERMINAL))["status"] == "cancelled"
    await keep_history(system, order["id"], "v10-edited-order-lines-removed-cancelled")


async def test_an_edit_short_of_stock_is_409_naming_the_skus_and_changes_nothing(
    system, window_api
):
    http = window_api
    _, sku = await stocked(http, 3)
    order = await submit(http, order_body([(sku, 2, "10.00")]))
    await wait_for_status(http, order["id"], RESERVED)
    before = (await http.get(f"/v1/orders/{order['id']}")).json()

    answer = await http.post(f"/v1/orders/{order['id']}/edit", json=_lines((sku, 5, "10.00")))

    assert answer.status_code == 409, answer.text
    problem = answer.json()
    assert (problem["reason"], problem["skus"]) == ("out_of_stock", [sku])
    assert problem["type"].endswith("out-of-stock")
    after = (await http.get(f"/v1/orders/{order['id']}")).json()
    for field in ("lines", "totals", "payment", "shipments", "edits"):
        assert after[field] == before[field], field
    assert await _held(system, order["id"]) == {sku: 2}
    assert await _available(http, sku) == 1
    assert [k for k, _, _ in await _ledger(http, order["id"])] == ["authorize"]
    assert await _authorized_at_gateway(system, order["id"]) == (Decimal("20"), Decimal(0))
    assert "order_edited" not in [e["type"] for e in await _events(http, order["id"])]
    await http.post(f"/v1/orders/{order['id']}/cancel", json={})
    await wait_for_status(http, order["id"], TERMINAL)
    await keep_history(system, order["id"], "v10-edit-out-of-stock-refused-cancelled")


async def test_a_declined_increase_is_409_and_changes_nothing(system, window_api):
    http = window_api
    _, sku = await stocked(http, 10)
    order = await submit(http, order_body([(sku, 2, "10.00")], token="tok_limit_50"))
    await wait_for_status(http, order["id"], RESERVED)

    answer = await http.post(f"/v1/orders/{order['id']}/edit", json=_lines((sku, 6, "10.00")))

    assert answer.status_code == 409, answer.text
    assert answer.json()["reason"] == "payment_declined"
    assert await _held(system, order["id"]) == {sku: 2}
    assert await _authorized_at_gateway(system, order["id"]) == (Decimal("20"), Decimal(0))
    view = (await http.get(f"/v1/orders/{order['id']}")).json()
    assert (view["totals"]["total"], view["edits"]) == ("20.00", 0)
    # Within the card's limit it goes through.
    answer = await http.post(f"/v1/orders/{order['id']}/edit", json=_lines((sku, 5, "10.00")))
    assert answer.status_code == 200, answer.text
    assert await _authorized_at_gateway(system, order["id"]) == (Decimal("50"), Decimal(0))
    await http.post(f"/v1/orders/{order['id']}/cancel", json={})
    await wait_for_status(http, order["id"], TERMINAL)
    await keep_history(system, order["id"], "v10-edit-declined-then-edited-cancelled")


async def test_bad_lines_are_422_and_an_unknown_order_404(window_api):
    http = window_api
    _, sku = await stocked(http, 10)
    order = await submit(http, order_body([(sku, 2, "10.00")]))
    await wait_for_status(http, order["id"], RESERVED)
    url = f"/v1/orders/{order['id']}/edit"

    for body, field in (
        ({"lines": []}, "lines"),
        (_lines((sku, 0, "10.00")), "lines.0.quantity"),
        (_lines((sku, 1, "10.001")), "lines.0.unit_price"),
        (_lines((sku, 1, "-1")), "lines.0.unit_price"),
        (_lines(("NO-SUCH-SKU-" + sku, 1, "1.00")), "lines.0.sku"),
        ({"lines": [{"sku": sku, "quantity": 1}]}, "lines.0.unit_price"),
    ):
        answer = await http.post(url, json=body)
        assert answer.status_code == 422, (body, answer.text)
        fields = [e["field"] for e in answer.json().get("errors", [])]
        assert any(f.startswith(field) for f in fields), (body, fields)
    same = await http.post(url, json=_lines((sku, 2, "10.00")))
    assert (same.status_code, same.json()["reason"]) == (409, "no_change")
    missing = await http.post("/v1/orders/0123456789abcdef0123/edit", json=_lines((sku, 1, "1")))
    assert missing.status_code == 404
    assert (await http.get(f"/v1/orders/{order['id']}")).json()["edits"] == 0
    await http.post(f"/v1/orders/{order['id']}/cancel", json={})
    await wait_for_status(http, order["id"], TERMINAL)


async def test_an_edit_after_dispatch_is_409(system, admin):
    _, sku = await stocked(admin, 10)
    order = await submit(admin, order_body([(sku, 2, "10.00")]))
    done = await wait_for_status(admin, order["id"], TERMINAL)
    assert done["status"] == "delivered"

    answer = await admin.post(f"/v1/orders/{order['id']}/edit", json=_lines((sku, 1, "10.00")))

    assert answer.status_code == 409, answer.text
    assert answer.json()["reason"] == "closed"
    assert await _available(admin, sku) == 8


async def test_the_console_edits_the_lines_with_a_note(system, window_api):
    http = window_api
    warehouse, sku = await stocked(http, 10)
    other = sku + "-B"
    await set_stock(http, warehouse, other, 3)
    order = await submit(http, order_body([(sku, 2, "10.00")]))
    await wait_for_status(http, order["id"], RESERVED)
    url = f"/console/orders/{order['id']}/edit"
    async with console_on(system, str(http.base_url)) as console:
        page = (await console.http.get(f"/console/orders/{order['id']}")).text
        assert 'id="action-edit"' in page and f"{sku} 2 10.00" in page

        bad = await console.post(url, {"note": "asked by phone", "lines": f"{sku} two 10.00"})
        assert bad.status_code == 422 and "Check the lines" in bad.text
        short = await console.post(url, {"note": "asked by phone", "lines": f"{other} 4 1.00"})
        assert short.status_code == 409 and other in short.text
        done = await console.post(
            url, {"note": "asked by phone", "lines": f"{sku} 1 10.00\n{other} 3 1.50\n"}
        )
        assert 'data-action="edit" data-outcome="accepted"' in done.text, done.text

        view = (await http.get(f"/v1/orders/{order['id']}")).json()
        assert [(x["sku"], x["quantity"]) for x in view["lines"]] == [(sku, 1), (other, 3)]
        assert (view["totals"]["total"], view["edits"]) == ("14.50", 1)
        assert await _held(system, order["id"]) == {sku: 1, other: 3}
        page = (await console.http.get(f"/console/orders/{order['id']}")).text
        assert ("order_edited", console.name) in timeline(page)
        [edited] = [e for e in await _events(http, order["id"]) if e["type"] == "order_edited"]
        assert edited["data"]["reason"] == "asked by phone"
        await console.post(f"/console/orders/{order['id']}/cancel", {"note": "test over"})
        await wait_for_status(http, order["id"], TERMINAL)
    outcomes = sorted((r.action, r.outcome) for r in await audit_rows(system, order["id"]))
    assert outcomes == [
        ("order_cancel", "accepted"),
        ("order_edit", "accepted"),
        ("order_edit", "refused"),
    ]


@pytest.fixture
async def listener(admin: httpx.AsyncClient) -> AsyncIterator[tuple[Receiver, list[str]]]:
    """A webhook receiver (the events-out tests'), and the endpoints made for it, deleted
    at the end."""
    receiver = Receiver(free_port())
    app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
    server, task = await _serve(app, receiver.port)
    made: list[str] = []
    yield receiver, made
    for endpoint_id in made:
        await admin.delete(f"/v1/webhook-endpoints/{endpoint_id}")
    server.should_exit = True
    await task


async def test_an_edit_is_an_order_edited_event_for_subscribers(admin, window_api, listener):
    receiver, made = listener
    await _subscribe(admin, receiver, made, ["order.edited"])
    http = window_api
    _, sku = await stocked(http, 10)
    order = await submit(http, order_body([(sku, 2, "10.00")]))
    await wait_for_status(http, order["id"], RESERVED)

    answer = await http.post(f"/v1/orders/{order['id']}/edit", json=_lines((sku, 1, "10.00")))
    assert answer.status_code == 200, answer.text
    await receiver.wait_for(lambda: bool(receiver.of_order(order["id"])))

    [event] = [r.body for r in receiver.of_order(order["id"])]
    assert event["type"] == "order.edited"
    data = event["data"]
    assert (data["order_id"], data["status"], data["edit"]) == (order["id"], "reserved", 1)
    assert [(x["sku"], x["quantity"]) for x in data["before"]] == [(sku, 2)]
    assert [(x["sku"], x["quantity"]) for x in data["after"]] == [(sku, 1)]
    assert (data["total_before"], data["total_after"]) == ("20.00", "10.00")
    assert "Ada" not in str(event) and "Analytical" not in str(event)
    await http.post(f"/v1/orders/{order['id']}/cancel", json={})
    await wait_for_status(http, order["id"], TERMINAL)


# Set by the edit's stock step when it starts; it then waits until the test lets it go.
edit_started: asyncio.Event | None = None
edit_go: asyncio.Event | None = None
RACE_WINDOW_S = 3.0


@pytest.fixture(scope="module")
async def racing_api(system: System) -> AsyncIterator[httpx.AsyncClient]:
    """A short release window, and an edit's stock step that waits for the test: the
    window closes while an edit is in flight."""
    real = real_activity(system, "edit_stock")

    @activity.defn(name="edit_stock")
    async def gated_edit(req: StockEdit) -> ReserveResult:
        if edit_started is not None and edit_go is not None and not req.check_only:
            edit_started.set()
            await asyncio.wait_for(edit_go.wait(), 12)
        return await real(req)  # type: ignore[no-any-return]

    replace = {"edit_stock": gated_edit}
    async with custom_stack(system, "edits-race", replace, release_delay_s=RACE_WINDOW_S) as http:
        yield http


async def test_an_edit_racing_the_dispatch_goes_first_and_the_dispatch_ships_it(system, racing_api):
    global edit_started, edit_go
    edit_started, edit_go = asyncio.Event(), asyncio.Event()
    http = racing_api
    _, sku = await stocked(http, 10)
    order = await submit(http, order_body([(sku, 2, "10.00")]))
    await wait_for_status(http, order["id"], RESERVED)

    editing = asyncio.create_task(
        http.post(f"/v1/orders/{order['id']}/edit", json=_lines((sku, 1, "20.00")))
    )
    await asyncio.wait_for(edit_started.wait(), 10)
    await asyncio.sleep(RACE_WINDOW_S + 0.5)  # the window is over: the dispatch waits
    assert (await http.get(f"/v1/orders/{order['id']}")).json()["status"] == "reserved"
    edit_go.set()
    answer = await editing
    assert answer.status_code == 200, answer.text
    # The edit let the dispatch go in the same workflow task: the next edit is too late.
    late = await http.post(f"/v1/orders/{order['id']}/edit", json=_lines((sku, 2, "10.00")))
    assert (late.status_code, late.json()["reason"]) == (409, "dispatched"), late.text

    done = await wait_for_status(http, order["id"], TERMINAL)
    assert done["status"] == "delivered"
    assert [(x["sku"], x["quantity"]) for x in done["lines"]] == [(sku, 1)]
    assert [[(x["sku"], x["quantity"]) for x in s["lines"]] for s in done["shipments"]] == [
        [(sku, 1)]
    ]
    assert done["payment"]["captured"] == "20.00"
    assert await _authorized_at_gateway(system, order["id"]) == (Decimal("20"), Decimal("20"))
    assert await _available(http, sku) == 9  # one unit left, the other went back
    kinds = [e["type"] for e in await _events(http, order["id"])]
    assert kinds.index("order_edited") < kinds.index("shipment_dispatched")
    await keep_history(system, order["id"], "v10-edited-order-racing-dispatch-delivered")
    edit_started = edit_go = None
