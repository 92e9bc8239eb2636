"""The Approvals page: the hold queue with each rule in words, single and bulk decisions
through the order workflows, recorded under the person's name and in the audit log."""

from __future__ import annotations

import asyncio
import re
from contextlib import asynccontextmanager
from typing import Any

import httpx

from oms.store import users as user_store
from tests.conftest import System, _serve
from tests.integration.console_helpers import console_as, create_user, csrf_of, sign_in
from tests.integration.helpers import order_body, stocked, submit, unique, wait_for_status

# The shared system holds an order of 1,000 EUR or more, and a new customer's of 500 or more.
HELD = {"on_hold"}


async def _held(admin: httpx.AsyncClient, channel: str, *prices: str) -> list[str]:
    """Orders of new customers on ``channel`` at these totals, each waiting on hold (held
    one after the other, in this order)."""
    _, sku = await stocked(admin, 10 * len(prices))
    ids = []
    for price in prices:
        body = order_body([(sku, 1, price)], channel=channel, customer_id=unique("cust"))
        ids.append((await submit(admin, body))["id"])
        await wait_for_status(admin, ids[-1], HELD)
    return ids


def _row(html: str, order_id: str) -> str:
    found = re.search(rf'<tr id="hold-{order_id}".*?</tr>', html, re.S)
    assert found, f"no queue row for {order_id}"
    return found.group(0)


def _result(html: str, order_id: str) -> str:
    found = re.search(rf'data-result-order="{order_id}" data-outcome="([a-z_]+)"', html)
    assert found, f"no result for {order_id}"
    return found.group(1)


async def _events(admin: httpx.AsyncClient, order_id: str) -> list[dict[str, Any]]:
    return list((await admin.get(f"/v1/orders/{order_id}/events")).json()["items"])


async def _audit(system: System, order_id: str) -> list[tuple[str, str, str, str | None]]:
    rows = await user_store.audit_for(system.engine, f"order:{order_id}")
    return [(r.user_name, r.action, r.outcome, r.note) for r in rows]


async def test_held_orders_are_listed_oldest_first_with_their_rules_in_words(system, admin):
    channel = unique("appr").lower()
    big, first = await _held(admin, channel, "1200.00", "600.00")
    async with console_as(system, "operator") as console:
        page = await console.http.get(f"/console/approvals?channel={channel}")
        assert page.status_code == 200
        html = page.text
        assert html.index(f'data-order="{big}"') < html.index(f'data-order="{first}"')
        row = _row(html, big)
        assert 'data-rules="high_value new_customer_high_value"' in row
        assert "order total 1,200.00 EUR over the 1,000.00 limit" in row
        assert "Ada Lovelace" in row and "1,200.00 EUR" in row and channel in row
        assert f'name="order_id" value="{big}"' in row
        assert (
            "the customer's first order, total 600.00 EUR over the 500.00 limit for new customers"
            in _row(html, first).replace("&#39;", "'")
        )
        assert 'id="bulk-approve"' in html and 'id="bulk-reject"' in html and 'name="note"' in html
        only_high = await console.http.get(f"/console/approvals?channel={channel}&rule=high_value")
        assert f'data-order="{big}"' in only_high.text
        assert f'data-order="{first}"' not in only_high.text
        other = await console.http.get(f"/console/approvals?channel={unique('none').lower()}")
        assert f'data-order="{big}"' not in other.text
    async with console_as(system, "viewer") as viewer:
        page = await viewer.http.get(f"/console/approvals?channel={channel}")
        row = _row(page.text, big)
        # A viewer reads the queue without personal data and without the actions.
        assert "Ada Lovelace" not in row and "ada@example.com" not in row
        assert 'name="order_id"' not in row and 'id="bulk-approve"' not in page.text


async def test_one_order_approved_from_its_row_goes_on_under_the_persons_name(system, admin):
    (order_id,) = await _held(admin, unique("appr").lower(), "1100.00")
    async with console_as(system, "operator") as console:
        empty = await console.post(
            "/console/approvals/decide", {"single": f"approve:{order_id}", "note": " "}
        )
        assert empty.status_code == 422 and "A note is required." in empty.text
        answer = await console.post(
            "/console/approvals/decide",
            {"single": f"approve:{order_id}", "note": "called the customer"},
        )
        assert answer.status_code == 200, answer.text
        assert _result(answer.text, order_id) == "accepted"
        # Its row stays until the read model moves on, marked approved, without a checkbox.
        if f'data-order="{order_id}"' in answer.text:
            assert 'data-decided="approve"' in _row(answer.text, order_id)
    done = await wait_for_status(admin, order_id, {"delivered"})
    assert done["hold"]["decision"]["by"] == console.name
    approved = [e for e in await _events(admin, order_id) if e["type"] == "hold_approved"]
    assert approved and approved[0]["data"]["by"] == console.name
    assert approved[0]["data"]["note"] == "called the customer"
    assert _audit_row(await _audit(system, order_id)) == (
        console.name,
        "order_approve",
        "accepted",
        "called the customer",
    )


def _audit_row(rows: list[tuple[str, str, str, str | None]]) -> tuple[str, str, str, str | None]:
    assert len(rows) == 1, rows
    return rows[0]


async def test_a_bulk_reject_decides_each_order_and_refuses_the_one_already_decided(system, admin):
    channel = unique("appr").lower()
    ids = await _held(admin, channel, "1300.00", "1400.00", "1500.00")
    decided_before = ids[1]
    answer = await admin.post(f"/v1/orders/{decided_before}/approve", json={"note": "by API"})
    assert answer.status_code == 202
    async with console_as(system, "operator") as console:
        result = await console.post(
            "/console/approvals/decide",
            {"action": "reject", "order_id": ids, "note": "fraud ring", "channel": channel},
        )
        assert result.status_code == 200, result.text
        outcomes = {order_id: _result(result.text, order_id) for order_id in ids}
    assert outcomes == {ids[0]: "accepted", ids[1]: "refused", ids[2]: "accepted"}
    for order_id in (ids[0], ids[2]):
        done = await wait_for_status(admin, order_id, {"cancelled"})
        assert done["hold"]["decision"]["by"] == console.name
        assert done["cancellation"]["reason"] == "fraud ring"
        assert _audit_row(await _audit(system, order_id))[:3] == (
            console.name,
            "order_reject",
            "accepted",
        )
    # The refused one went on as the API approved it, and its refusal is audited too.
    assert (await wait_for_status(admin, decided_before, {"delivered"}))["status"] == "delivered"
    assert _audit_row(await _audit(system, decided_before))[:3] == (
        console.name,
        "order_reject",
        "refused",
    )


async def test_a_bulk_is_bounded_and_needs_a_choice_and_a_selection(system):
    async with console_as(system, "operator") as console:
        none = await console.post("/console/approvals/decide", {"action": "approve", "note": "x"})
        assert none.status_code == 422 and "Select at least one order." in none.text
        too_many = await console.post(
            "/console/approvals/decide",
            {"action": "approve", "note": "x", "order_id": [f"{n:020x}" for n in range(101)]},
        )
        assert too_many.status_code == 422 and "At most 100 orders at a time." in too_many.text
        odd = await console.post(
            "/console/approvals/decide", {"action": "delete", "note": "x", "order_id": "a" * 20}
        )
        assert odd.status_code == 422


async def test_a_viewer_cannot_decide_and_a_post_without_the_token_changes_nothing(system, admin):
    (order_id,) = await _held(admin, unique("appr").lower(), "1600.00")
    async with console_as(system, "viewer") as viewer:
        refused = await viewer.post(
            "/console/approvals/decide", {"single": f"approve:{order_id}", "note": "x"}
        )
        assert refused.status_code == 403
    async with console_as(system, "operator") as console:
        forged = await console.http.post(
            "/console/approvals/decide", data={"single": f"approve:{order_id}", "note": "x"}
        )
        assert forged.status_code == 403
        wrong = await console.http.post(
            "/console/approvals/decide",
            data={"single": f"approve:{order_id}", "note": "x", "csrf_token": "nope"},
        )
        assert wrong.status_code == 403
    await asyncio.sleep(0.5)
    assert (await admin.get(f"/v1/orders/{order_id}")).json()["status"] == "on_hold"
    assert await _audit(system, order_id) == []
    # Left for another test run's queue otherwise: decided here.
    assert (await admin.post(f"/v1/orders/{order_id}/reject", json={})).status_code == 202


@asynccontextmanager
async def _console_without_temporal(system: System, role: str = "operator"):
    """A console on an API whose Temporal is unreachable (nothing listens there)."""
    from api.app import create_app
    from devtools.ports import free_port

    settings = system.settings.model_copy(
        update={"api_port": free_port(), "temporal_address": f"127.0.0.1:{free_port()}"}
    )
    server, task = await _serve(create_app(settings, system.engine, None), settings.api_port)
    try:
        user = await create_user(system.engine, role)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.api_port}") as http:
            assert (await sign_in(http, user.name, user.password)).status_code == 303
            page = await http.get("/console/approvals")
            yield http, user.name, csrf_of(page.text)
    finally:
        server.should_exit = True
        await task


async def test_temporal_down_each_order_says_nothing_was_done(system, admin):
    channel = unique("appr").lower()
    ids = await _held(admin, channel, "1700.00", "1800.00")
    async with _console_without_temporal(system) as (http, name, csrf):
        page = await http.get(f"/console/approvals?channel={channel}")
        assert page.status_code == 200 and f'data-order="{ids[0]}"' in page.text
        answer = await http.post(
            "/console/approvals/decide",
            data={"csrf_token": csrf, "action": "approve", "order_id": ids, "note": "ok"},
            headers={"HX-Request": "true"},
        )
        assert answer.status_code == 200
        assert [_result(answer.text, i) for i in ids] == ["unavailable", "unavailable"]
        assert "Temporal is not reachable" in answer.text
    for order_id in ids:
        assert (await admin.get(f"/v1/orders/{order_id}")).json()["status"] == "on_hold"
        assert _audit_row(await _audit(system, order_id))[:3] == (
            name,
            "order_approve",
            "unavailable",
        )
        assert (await admin.post(f"/v1/orders/{order_id}/reject", json={})).status_code == 202
