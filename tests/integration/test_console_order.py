"""The console's Order page: every part of a real order (delivered, held, cancelled),
personal data only for the roles that see it, each action taken from the page with its
note (on the timeline under the person's name, and in the console's audit), refused with
a message and nothing changed when the order's state does not allow it, when the form's
CSRF token is missing or when Temporal is down, and "retry now" on a step that keeps
failing."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import text

from activities.payments import PaymentActivities
from devtools.ports import free_port
from oms.adapters.payment_gateway import GatewayResult, GatewayUnavailable, HttpPaymentGateway
from oms.store import users as user_store
from tests.conftest import System, custom_stack
from tests.integration.console_helpers import Console, console_as, create_user, csrf_of, sign_in
from tests.integration.helpers import order_body, stocked, submit, wait_for_status

HELD = {"on_hold"}
# Over the high-value threshold of the shared system (EUR 1000): held for a decision.
HELD_PRICE = "1500.00"


@asynccontextmanager
async def console_on(
    system: System, base_url: str, role: str = "operator", **client: Any
) -> AsyncIterator[Console]:
    """A signed-in console client on another API of the system (a custom stack's)."""
    user = await create_user(system.engine, role)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, **client) as http:
        answer = await sign_in(http, user.name, user.password)
        assert answer.status_code == 303, answer.text
        page = await http.get("/console/alerts")
        yield Console(http, user.name, role, csrf_of(page.text))


def status_of(html: str) -> str:
    found = re.search(r'id="order-status"[^>]*data-status="([a-z_]+)"', html)
    assert found, "no order status on the page"
    return found.group(1)


def timeline(html: str) -> list[tuple[str, str]]:
    """(type, by) of each timeline row."""
    part = html[html.index('id="timeline"') :]
    part = part[: part.index("</table>")]
    return re.findall(r'<tr data-seq="\d+" data-type="([a-z_]+)" data-by="([^"]*)"', part)


async def audit_rows(system: System, order_id: str) -> list[Any]:
    return await user_store.audit_for(system.engine, f"order:{order_id}")


async def held_order(http: httpx.AsyncClient) -> dict[str, Any]:
    _, sku = await stocked(http, 5)
    order = await submit(http, order_body([(sku, 1, HELD_PRICE)]))
    return await wait_for_status(http, order["id"], HELD)


async def test_a_delivered_order_shows_every_part(system, admin):
    _, sku = await stocked(admin, 5)
    order = await submit(admin, order_body([(sku, 2, "12.50")], customer_id="cust-page"))
    await wait_for_status(admin, order["id"], {"delivered"})
    async with console_as(system, "operator") as console:
        page = await console.http.get(f"/console/orders/{order['id']}")
    assert page.status_code == 200, page.text
    html = page.text
    assert status_of(html) == "delivered"
    assert 'data-sla="on_time"' in html
    assert f'id="order-external-id">{order["external_id"]}<' in html
    assert 'href="/console/customers/cust-page"' in html
    assert f'/workflows/order-{order["id"]}"' in html  # the Temporal Web UI
    assert f'data-sku="{sku}"' in html and "25.00 EUR" in html  # lines and total
    # Customer and address, for a role that sees personal data.
    assert 'data-personal="shown"' in html and "1 Analytical St" in html
    assert "ada@example.com" in html
    # The ledger: the authorization and the capture, with their keys.
    assert '<tr data-kind="authorize" data-status="succeeded">' in html
    assert '<tr data-kind="capture" data-status="succeeded">' in html
    assert f"{order['id']}-authorize" in html
    # The shipment with its carrier and tracking number.
    shipment = re.search(r'<tr data-shipment="([^"]+)" data-status="delivered">', html)
    assert shipment, "no delivered shipment"
    async with system.engine.connect() as conn:
        tracking = (
            await conn.execute(
                text("SELECT tracking_number, carrier FROM shipments WHERE id = :s"),
                {"s": shipment.group(1)},
            )
        ).one()
    assert tracking.tracking_number and tracking.tracking_number in html
    assert tracking.carrier in html
    kinds = [kind for kind, _ in timeline(html)]
    assert kinds[0] == "order_received" and kinds[-1] == "order_delivered"
    assert "payment_authorized" in kinds
    # A closed order: no actions, and Temporal is not asked about its steps.
    assert 'id="actions-none"' in html and 'id="action-' not in html
    assert 'id="retry-step"' not in html


async def test_a_viewer_sees_neither_personal_data_nor_actions(system, admin):
    order = await held_order(admin)
    async with console_as(system, "viewer") as viewer:
        page = await viewer.http.get(f"/console/orders/{order['id']}")
        assert page.status_code == 200
        html = page.text
        assert 'data-personal="hidden"' in html
        assert "Ada Lovelace" not in html and "ada@example.com" not in html
        assert "Analytical" not in html
        assert 'id="actions-read-only"' in html and 'id="action-' not in html
        # Posting anyway is refused by role; nothing changes.
        refused = await viewer.post(f"/console/orders/{order['id']}/approve", {"note": "x"})
        assert refused.status_code == 403
    assert (await admin.get(f"/v1/orders/{order['id']}")).json()["status"] == "on_hold"
    assert await audit_rows(system, order["id"]) == []


async def test_a_held_order_approved_from_the_page_goes_on_with_the_note(system, admin):
    order = await held_order(admin)
    async with console_as(system, "operator") as console:
        page = await console.http.get(f"/console/orders/{order['id']}")
        html = page.text
        assert status_of(html) == "on_hold"
        assert 'id="order-hold"' in html and 'data-reason="high_value"' in html
        for action in ("approve", "reject", "cancel", "address"):
            assert f'id="action-{action}"' in html
        assert 'id="action-hold"' not in html  # on hold already
        assert 'hx-get="/console/orders/' + order["id"] + '/retrying"' in html

        # A note is required; nothing is sent without one.
        bare = await console.post(f"/console/orders/{order['id']}/approve", {"note": " "})
        assert bare.status_code == 422 and bare.headers["hx-retarget"] == "#flash"

        answer = await console.post(
            f"/console/orders/{order['id']}/approve", {"note": "called the customer"}
        )
        assert answer.status_code == 200, answer.text
        assert 'id="action-result"' in answer.text
        assert 'data-action="approve" data-outcome="accepted"' in answer.text
        # The order's part comes along, refreshing itself for a while.
        assert 'id="order-live"' in answer.text and 'hx-swap-oob="true"' in answer.text
        assert "/live?poll=9&shown=" in answer.text

        done = await wait_for_status(admin, order["id"], {"delivered"})
        assert done["hold"]["decision"]["by"] == console.name
        assert done["hold"]["decision"]["note"] == "called the customer"
        page = await console.http.get(f"/console/orders/{order['id']}")
    assert ("hold_approved", console.name) in timeline(page.text)
    (row,) = await audit_rows(system, order["id"])
    assert (row.user_name, row.action, row.outcome, row.note) == (
        console.name,
        "order_approve",
        "accepted",
        "called the customer",
    )
    assert 'data-action="order_approve" data-outcome="accepted"' in page.text


async def test_reject_and_cancel_from_the_page_cancel_with_the_persons_words(system, admin):
    rejected, cancelled = await held_order(admin), await held_order(admin)
    async with console_as(system, "admin") as console:
        answer = await console.post(
            f"/console/orders/{rejected['id']}/reject", {"note": "stolen card"}
        )
        assert 'data-action="reject" data-outcome="accepted"' in answer.text
        answer = await console.post(
            f"/console/orders/{cancelled['id']}/cancel", {"note": "customer asked"}
        )
        assert 'data-action="cancel" data-outcome="accepted"' in answer.text
        for order, code, words in (
            (rejected, "rejected", "stolen card"),
            (cancelled, "cancelled", "customer asked"),
        ):
            done = await wait_for_status(admin, order["id"], {"cancelled"})
            assert done["cancellation"]["by"] == console.name
            assert done["cancellation"]["reason"] == words
            page = (await console.http.get(f"/console/orders/{order['id']}")).text
            assert status_of(page) == "cancelled"
            assert f'id="order-cancellation" data-code="{code}"' in page and words in page
            assert '<tr data-kind="void" data-status="succeeded">' in page
            assert 'id="actions-none"' in page


async def test_an_action_the_state_does_not_allow_is_a_message_and_changes_nothing(system, admin):
    _, sku = await stocked(admin, 5)
    order = await submit(admin, order_body([(sku, 1)]))
    await wait_for_status(admin, order["id"], {"delivered"})
    events = len((await admin.get(f"/v1/orders/{order['id']}/events")).json()["items"])
    async with console_as(system, "operator") as console:
        for action in ("cancel", "approve", "hold"):
            answer = await console.post(
                f"/console/orders/{order['id']}/{action}", {"note": "too late"}
            )
            assert answer.status_code == 409, answer.text
            assert answer.headers["hx-retarget"] == "#flash"
            assert "the order&#39;s state does not allow this now" in answer.text
            assert "order is delivered" in answer.text  # the system's own words
        # The same in Chinese for a browser that asks for it.
        console.http.cookies.set("oms_lang", "zh-CN", path="/console")
        chinese = await console.post(f"/console/orders/{order['id']}/cancel", {"note": "x"})
        assert "订单当前状态不允许此操作" in chinese.text
        # Without htmx: an error page with the message.
        page = await console.post(
            f"/console/orders/{order['id']}/cancel", {"note": "x"}, htmx=False
        )
        assert page.status_code == 409 and "<html" in page.text
    after = (await admin.get(f"/v1/orders/{order['id']}/events")).json()["items"]
    assert len(after) == events
    assert (await admin.get(f"/v1/orders/{order['id']}")).json()["status"] == "delivered"
    rows = await audit_rows(system, order["id"])
    assert {r.outcome for r in rows} == {"refused"}
    assert {r.detail["http_status"] for r in rows} == {409}


async def test_hold_and_a_new_address_before_dispatch(system):
    # Orders wait 30 s as reserved (the cancel window): time to hold them by hand.
    async with custom_stack(system, "console-hold", {}, release_delay_s=30) as http:
        _, sku = await stocked(http, 5)
        order = await submit(http, order_body([(sku, 1)]))
        await wait_for_status(http, order["id"], {"reserved"})
        async with console_on(system, str(http.base_url)) as console:
            page = (await console.http.get(f"/console/orders/{order['id']}")).text
            assert 'id="action-hold"' in page and 'id="action-cancel"' in page
            assert 'id="action-approve"' not in page
            held = await console.post(
                f"/console/orders/{order['id']}/hold", {"note": "odd email address"}
            )
            assert 'data-action="hold" data-outcome="accepted"' in held.text
            view = await wait_for_status(http, order["id"], HELD)
            assert view["hold"]["reasons"] == ["manual"]
            assert view["hold"]["note"] == "odd email address"
            again = await console.post(f"/console/orders/{order['id']}/hold", {"note": "x"})
            assert again.status_code == 409 and "on hold already" in again.text

            # A bad address is refused before anything is sent.
            bad = await console.post(
                f"/console/orders/{order['id']}/address",
                {
                    "note": "moved",
                    "name": "Ada",
                    "line1": "2 Engine Rd",
                    "city": "Paris",
                    "postal_code": "75001",
                    "country": "France",
                },
            )
            assert bad.status_code == 422 and "country" in bad.text
            moved = await console.post(
                f"/console/orders/{order['id']}/address",
                {
                    "note": "moved",
                    "name": "Ada L.",
                    "line1": "2 Engine Rd",
                    "city": "Paris",
                    "postal_code": "75001",
                    "country": "FR",
                },
            )
            assert 'data-action="address" data-outcome="accepted"' in moved.text, moved.text
            view = (await http.get(f"/v1/orders/{order['id']}")).json()
            assert view["shipping_address"]["line1"] == "2 Engine Rd"
            page = (await console.http.get(f"/console/orders/{order['id']}")).text
            assert ("order_held", console.name) in timeline(page)
            assert ("address_changed", console.name) in timeline(page)
            assert "2 Engine Rd" in page
            async with console_on(system, str(http.base_url), "viewer") as viewer:
                refused = await viewer.post(
                    f"/console/orders/{order['id']}/address",
                    {
                        "note": "x",
                        "name": "A",
                        "line1": "B",
                        "city": "C",
                        "postal_code": "1",
                        "country": "DE",
                    },
                )
                assert refused.status_code == 403
            await console.post(f"/console/orders/{order['id']}/cancel", {"note": "test over"})
            await wait_for_status(http, order["id"], {"cancelled"})
    rows = await audit_rows(system, order["id"])
    outcomes = sorted((r.action, r.outcome) for r in rows)
    assert outcomes == [
        ("order_address", "accepted"),
        ("order_cancel", "accepted"),
        ("order_hold", "accepted"),
        ("order_hold", "refused"),
    ]


async def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(system, admin):
    order = await held_order(admin)
    async with console_as(system, "operator") as console:
        answer = await console.http.post(
            f"/console/orders/{order['id']}/approve",
            data={"note": "no token"},
            headers={"HX-Request": "true"},
        )
        assert answer.status_code == 403
        assert "reload the page" in answer.text
        wrong = await console.http.post(
            f"/console/orders/{order['id']}/cancel",
            data={"note": "forged", "csrf_token": "0" * 43},
        )
        assert wrong.status_code == 403
    await asyncio.sleep(0.5)
    assert (await admin.get(f"/v1/orders/{order['id']}")).json()["status"] == "on_hold"
    assert await audit_rows(system, order["id"]) == []


async def test_temporal_down_is_a_message_and_the_page_still_loads(system, admin):
    from api.app import create_app

    order = await held_order(admin)
    nowhere = system.settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    app = create_app(nowhere, system.engine, None)  # never connected to Temporal
    transport = httpx.ASGITransport(app=app)
    async with console_on(system, "http://console", transport=transport) as console:
        started = time.monotonic()
        page = await console.http.get(f"/console/orders/{order['id']}")
        assert page.status_code == 200 and status_of(page.text) == "on_hold"
        assert time.monotonic() - started < 2  # the page does not wait on Temporal
        part = await console.http.get(
            f"/console/orders/{order['id']}/retrying", headers={"HX-Request": "true"}
        )
        assert part.status_code == 200 and 'data-known="no"' in part.text
        answer = await console.post(f"/console/orders/{order['id']}/approve", {"note": "ok"})
        assert answer.status_code == 503
        assert answer.headers["retry-after"]
        assert "The workflow engine did not answer: nothing was done" in answer.text
    await asyncio.sleep(0.5)
    view = (await admin.get(f"/v1/orders/{order['id']}")).json()
    assert view["status"] == "on_hold" and view["hold"].get("decision") is None
    (row,) = await audit_rows(system, order["id"])
    assert (row.action, row.outcome, row.detail["http_status"]) == ("order_approve", "refused", 503)


async def test_an_unknown_order_is_a_404_page(system):
    async with console_as(system, "viewer") as console:
        for order_id in ("0123456789abcdef0123", "not-an-order"):
            page = await console.http.get(f"/console/orders/{order_id}")
            assert page.status_code == 404
            assert "No such order." in page.text and "<html" in page.text


async def test_the_orders_part_polls_a_while_and_brings_the_panel_when_the_status_moved(
    system, admin
):
    _, sku = await stocked(admin, 5)
    order = await submit(admin, order_body([(sku, 1)]))
    await wait_for_status(admin, order["id"], {"delivered"})
    async with console_as(system, "operator") as console:
        base = f"/console/orders/{order['id']}/live"
        moved = await console.http.get(f"{base}?poll=3&shown=reserved")
        assert 'hx-trigger="load delay:2s"' in moved.text and "poll=2&shown=delivered" in moved.text
        assert '<section id="actions"' in moved.text and 'hx-swap-oob="true"' in moved.text
        last = await console.http.get(f"{base}?poll=0&shown=delivered")
        assert "hx-trigger=" not in last.text.split('id="order-refresh"')[0]
        assert '<section id="actions"' not in last.text


class _Down(HttpPaymentGateway):
    async def authorize(self, *, key: str, amount: str, currency: str, token: str) -> GatewayResult:
        raise GatewayUnavailable("ConnectError: gateway down for maintenance")


async def _pending(handle: Any) -> Any:
    pending = (await handle.describe()).raw_description.pending_activities
    return pending[0] if pending else None


async def test_retry_now_runs_the_next_attempt_of_a_failing_step_at_once(system):
    settings = system.settings
    down = PaymentActivities(system.engine, _Down(settings.gateway_base_url, "k"))
    async with custom_stack(
        system, "console-retry", {"authorize_payment": down.authorize_payment}
    ) as http:
        _, sku = await stocked(http, 1)
        order = await submit(http, order_body([(sku, 1)]))
        handle = system.client.get_workflow_handle(f"order-{order['id']}")
        try:
            # Attempt 4 or later, waiting for the next one at least 4 s away (the backoff
            # doubles from 1 s: attempt 5 comes 8 s after attempt 4).
            deadline = time.monotonic() + 40
            while True:
                assert time.monotonic() < deadline, "the step never reached attempt 4"
                pending = await _pending(handle)
                if (
                    pending is not None
                    and pending.attempt >= 4
                    and pending.HasField("next_attempt_schedule_time")
                ):
                    due = pending.next_attempt_schedule_time.ToDatetime(tzinfo=UTC)
                    if (due - datetime.now(UTC)).total_seconds() > 4:
                        break
                await asyncio.sleep(0.2)
            attempt = pending.attempt
            async with console_on(system, str(http.base_url)) as console:
                part = await console.http.get(
                    f"/console/orders/{order['id']}/retrying", headers={"HX-Request": "true"}
                )
                assert 'data-known="yes"' in part.text
                assert 'data-activity="authorize_payment"' in part.text
                assert 'id="action-retry"' in part.text
                assert "gateway down for maintenance" in part.text
                activity_id = re.search(r'name="activity_id" value="([^"]+)"', part.text)
                assert activity_id

                wrong = await console.post(
                    f"/console/orders/{order['id']}/retry", {"note": "x", "activity_id": "99"}
                )
                assert wrong.status_code == 409

                answer = await console.post(
                    f"/console/orders/{order['id']}/retry",
                    {"note": "gateway is back", "activity_id": activity_id.group(1)},
                )
                assert answer.status_code == 200, answer.text
                assert 'id="retry-result" role="status" data-activity="authorize_payment"' in (
                    answer.text
                )
                # The next attempt runs now, well before it was due; the count goes on.
                while True:
                    now = datetime.now(UTC)
                    assert (due - now).total_seconds() > 1, "the attempt waited for its time"
                    pending = await _pending(handle)
                    if pending is not None and pending.attempt > attempt:
                        break
                    await asyncio.sleep(0.1)
                assert pending.attempt == attempt + 1 and not pending.paused
        finally:
            await handle.terminate("test over")
    rows = await audit_rows(system, order["id"])
    outcomes = sorted((r.action, r.outcome, r.note) for r in rows)
    assert outcomes == [
        ("order_retry", "accepted", "gateway is back"),
        ("order_retry", "refused", "x"),
    ]
    accepted = next(r for r in rows if r.outcome == "accepted")
    assert accepted.detail["activity"] == "authorize_payment"
    assert accepted.detail["attempt"] == attempt
