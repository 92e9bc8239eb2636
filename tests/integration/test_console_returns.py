"""Returns and refunds in the console: the order page shows an order's returns (lines
asked and counted, refund) and refunds; an operator opens a return, approves or rejects
one (from the order or the Returns page), gives a refund, each through the API's own
checks, with a note, in the console's audit; a refusal or Temporal down changes nothing,
and the same form posted twice opens one return and pays one refund."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from devtools.ports import free_port
from oms.store import users as user_store
from tests.conftest import System, api_of
from tests.integration.helpers import stocked
from tests.integration.test_console_order import console_on
from tests.integration.test_returns import (
    delivered_order,
    wait_for_refund,
    wait_for_return,
)

CHANNEL = "rma-console"


def row_of(html: str, attribute: str, value: str) -> str:
    found = re.search(rf'<tr {attribute}="{re.escape(value)}"[^>]*>.*?</tr>', html, re.S)
    assert found, f"no row {attribute}={value}"
    return found.group(0)


async def audit(system: System, order_id: str) -> list[tuple[str, str]]:
    rows = await user_store.audit_for(system.engine, f"order:{order_id}")
    return [(r.action, r.outcome) for r in rows]


async def test_an_operator_opens_decides_and_refunds_from_the_console(system, admin):
    # Returns of this channel wait for an operator (no return window).
    settings = system.settings.model_copy(
        update={"api_port": free_port(), "return_windows": f"{CHANNEL}:0"}
    )
    _wh, sku = await stocked(admin, 10)
    customer = f"cust-{uuid.uuid4().hex[:8]}"
    order = await delivered_order(admin, [(sku, 3, "10.00")], channel=CHANNEL, customer_id=customer)
    oid = order["id"]
    async with api_of(system, settings) as manual:
        base = str(manual.base_url)
        async with console_on(system, base) as console:
            page = (await console.http.get(f"/console/orders/{oid}")).text
            assert 'id="order-returns"' in page and 'id="returns-none"' in page
            assert 'id="form-return"' in page and 'id="form-refund"' in page

            # Refused: more than delivered (409), a bad line (422), no note: nothing written.
            key = uuid.uuid4().hex
            over = await console.post(
                f"/console/orders/{oid}/return",
                {"lines": f"{sku} 4", "reason": "fit", "resolution": "refund", "note": "x"},
            )
            assert over.status_code == 409, over.text
            assert "more units asked back" in over.text and "3 delivered" in over.text
            bad = await console.post(
                f"/console/orders/{oid}/return",
                {"lines": f"{sku} many", "reason": "fit", "resolution": "refund", "note": "x"},
            )
            assert bad.status_code == 422 and "lines" in bad.text
            silent = await console.post(
                f"/console/orders/{oid}/return",
                {"lines": f"{sku} 1", "reason": "fit", "resolution": "refund"},
            )
            assert silent.status_code == 422
            assert (await manual.get(f"/v1/orders/{oid}/returns")).json()["items"] == []

            # Opened twice with the same form: one return, waiting for a decision.
            form = {
                "lines": f"{sku} 1",
                "reason": "does not fit",
                "resolution": "refund",
                "note": "customer phoned",
                "form_key": key,
            }
            first = await console.post(f"/console/orders/{oid}/return", form)
            again = await console.post(f"/console/orders/{oid}/return", form)
            assert first.status_code == again.status_code == 200, first.text
            assert "Return opened:" in first.text and 'data-polls-left="10"' in first.text
            items = (await manual.get(f"/v1/orders/{oid}/returns")).json()["items"]
            assert len(items) == 1
            waiting = items[0]["id"]
            assert 'data-status="requested"' in row_of(first.text, "data-return", waiting)
            second = await console.post(
                f"/console/orders/{oid}/return",
                {**form, "form_key": uuid.uuid4().hex, "resolution": "none"},
            )
            assert second.status_code == 200
            others = (await manual.get(f"/v1/orders/{oid}/returns")).json()["items"]
            [refused] = [r["id"] for r in others if r["id"] != waiting]

            # The Returns page: both waiting, newest first, with their forms.
            queue = (await console.http.get("/console/returns")).text
            assert queue.index(refused) < queue.index(waiting)
            assert f'id="return-approve-{waiting}"' in queue
            approved = await console.post(
                f"/console/returns/{waiting}/approve", {"note": "receipt seen", "back": "queue"}
            )
            assert approved.status_code == 200 and "Return approved:" in approved.text
            # The queue again, the decided return without its forms (marked decided while
            # its row still says requested).
            assert 'id="returns-queue"' in approved.text
            assert f'id="return-approve-{waiting}"' not in approved.text
            wordy = await console.post(f"/console/returns/{refused}/reject", {"note": "x" * 600})
            assert wordy.status_code == 422 and "note" in wordy.text  # the API's 500 at most
            rejected = await console.post(f"/console/returns/{refused}/reject", {"note": "worn"})
            assert rejected.status_code == 200 and "Return rejected:" in rejected.text
            twice = await console.post(f"/console/returns/{waiting}/reject", {"note": "no"})
            assert twice.status_code == 409 and "approved already" in twice.text

            closed = await wait_for_return(admin, waiting, {"closed"})
            refund = await wait_for_refund(admin, oid, closed["refund_id"])
            assert refund["amount"] == "10.00"

            # A goodwill refund, posted twice with the same form: paid once.
            give = {"amount": "2.50", "reason": "goodwill", "note": "late", "form_key": key}
            paid = await console.post(f"/console/orders/{oid}/refund", give)
            paid_again = await console.post(f"/console/orders/{oid}/refund", give)
            assert paid.status_code == paid_again.status_code == 200, paid.text
            assert "Refund recorded:" in paid.text
            too_much = await console.post(
                f"/console/orders/{oid}/refund",
                {"amount": "50.00", "reason": "goodwill", "note": "x"},
            )
            assert too_much.status_code == 409 and "left to refund" in too_much.text
            both = await console.post(
                f"/console/orders/{oid}/refund",
                {"amount": "1.00", "lines": f"{sku} 1", "reason": "goodwill", "note": "x"},
            )
            assert both.status_code == 422 and "either an amount or lines" in both.text
            refunds = (await manual.get(f"/v1/orders/{oid}/refunds")).json()["items"]
            goodwill = [r for r in refunds if r["return_id"] is None]
            assert [r["amount"] for r in goodwill] == ["2.50"]
            await wait_for_refund(admin, oid, goodwill[0]["id"])

            page = (await console.http.get(f"/console/orders/{oid}")).text
            closed_queue = await console.http.get("/console/returns?status=closed")
            # The customer's page counts their returns, the rejected one left out.
            customer_page = (await console.http.get(f"/console/customers/{customer}")).text
        assert 'id="customer-returns">1<' in customer_page
        assert closed_queue.status_code == 200 and waiting in closed_queue.text
        # The order page: each return with its counts, refund, decision; each refund.
        shown = row_of(page, "data-return", waiting)
        assert 'data-status="closed"' in shown and "receipt seen" in shown
        assert f'data-sku="{sku}" data-asked="1" data-restockable="1"' in shown
        assert "10.00 EUR" in shown
        assert 'data-status="rejected"' in row_of(page, "data-return", refused)
        assert 'data-status="succeeded"' in row_of(page, "data-refund", closed["refund_id"])
        goodwill_row = row_of(page, "data-refund", goodwill[0]["id"])
        assert "2.50 EUR" in goodwill_row and "goodwill" in goodwill_row
    actions = await audit(system, oid)
    # The API's refusal is audited; a form the console refuses itself (422) is not sent.
    assert actions.count(("order_return", "refused")) == 1
    assert ("order_return", "accepted") in actions
    assert ("return_approve", "accepted") in actions
    assert ("return_reject", "accepted") in actions
    assert ("return_reject", "refused") in actions
    assert ("order_refund", "accepted") in actions and ("order_refund", "refused") in actions


async def test_a_viewer_sees_returns_without_forms_and_temporal_down_writes_nothing(system, admin):
    from api.app import create_app

    _wh, sku = await stocked(admin, 5)
    order = await delivered_order(admin, [(sku, 1, "5.00")])
    async with console_on(system, system.api_url, role="viewer") as viewer:
        page = (await viewer.http.get(f"/console/orders/{order['id']}")).text
        assert 'id="order-returns"' in page
        assert 'id="form-return"' not in page and 'id="form-refund"' not in page
        refused = await viewer.post(
            f"/console/orders/{order['id']}/refund",
            {"amount": "1.00", "reason": "x", "note": "y"},
        )
        assert refused.status_code == 403
    nowhere = system.settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    app = create_app(nowhere, system.engine, None)  # never connected to Temporal
    transport = httpx.ASGITransport(app=app)
    async with console_on(system, "http://console", transport=transport) as console:
        answer = await console.post(
            f"/console/orders/{order['id']}/return",
            {"lines": f"{sku} 1", "reason": "fit", "resolution": "refund", "note": "x"},
        )
        assert answer.status_code == 503 and answer.headers["retry-after"]
        assert "nothing was done" in answer.text
        paid = await console.post(
            f"/console/orders/{order['id']}/refund", {"amount": "1.00", "reason": "x", "note": "y"}
        )
        assert paid.status_code == 503
    view: dict[str, Any] = (await admin.get(f"/v1/orders/{order['id']}")).json()
    assert view["returns"] == [] and view["refunded"] == "0.00"
    assert (await admin.get(f"/v1/orders/{order['id']}/refunds")).json()["items"] == []
