"""The console's channels and webhooks page: each channel with its state (last order,
a pull channel's cursor and errors, open alerts, shadow decisions), each webhook endpoint
with its failing and last deliveries; "pull now" (operators) and "redeliver" (admins),
each with a note and audited; secrets never shown."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devtools.ports import free_port
from oms.alerts import AlertStore
from oms.domain.messages import AlertRequest
from oms.store import pull_cursors
from oms.store import users as user_store
from tests.conftest import _serve
from tests.integration.console_helpers import console_as
from tests.integration.helpers import order_body, stocked, submit, unique

SECRET = "whsec-console-test-secret-0123456789"


class Receiver:
    """A partner's endpoint answering ``code``; it counts what it got."""

    def __init__(self) -> None:
        self.port = free_port()
        self.code = 500
        self.got: list[int] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook?token=partner-token-in-the-query"

    async def handle(self, request: Request) -> Response:
        await request.body()
        self.got.append(self.code)
        return Response(status_code=self.code)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    recv = Receiver()
    app = Starlette(routes=[Route("/hook", recv.handle, methods=["POST"])])
    server, task = await _serve(app, recv.port)
    yield recv
    server.should_exit = True
    await task


async def until(check: Any, within: float = 30.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError("not reached in time")


def _row(html: str, attribute: str, value: str) -> str:
    found = re.search(rf'<tr[^>]*{attribute}="{re.escape(value)}".*?</tr>', html, re.S)
    assert found, f"no row {attribute}={value}"
    return found.group(0)


async def test_channels_are_listed_with_their_state_and_pull_now_runs_a_pull(admin, system):
    settings = system.settings
    pulled = unique("taobao").lower()
    pushed = unique("shop").lower()
    answer = await admin.post(
        "/v1/channels",
        json={
            "name": pulled,
            "platform": "taobao",
            "intake": "pull",
            "credentials": {
                "base_url": f"http://127.0.0.1:{settings.sim_port}/taobao",
                "app_key": settings.sim_market_app_key,
                "app_secret": settings.sim_market_app_secret,
            },
            # Only "pull now" pulls within the test.
            "pull_interval_s": 86400.0,
            "pull_lag_s": 1.0,
        },
    )
    assert answer.status_code == 201, answer.text
    answer = await admin.post(
        "/v1/channels",
        json={
            "name": pushed,
            "platform": "shopify",
            "intake": "push",
            "mode": "shadow",
            "secret": SECRET,
        },
    )
    assert answer.status_code == 201, answer.text
    _wh, sku = await stocked(admin, 5)
    await submit(admin, order_body([(sku, 1)], channel=pushed))
    store = AlertStore(system.engine, None, "")
    detail = {"subject": pulled, "channel": pulled, "error": "platform down"}
    await store.raise_alert(AlertRequest("", "channel_pull_failing", detail))

    async with console_as(system, "viewer") as console:
        page = await console.http.get("/console/channels")
        assert page.status_code == 200, page.text
        assert SECRET not in page.text and settings.sim_market_app_secret not in page.text
        push_row = _row(page.text, "data-channel", pushed)
        assert 'data-intake="push"' in push_row and 'data-mode="shadow"' in push_row
        assert 'data-enabled="true"' in push_row and "none yet" not in push_row
        assert "data-shadowed=" in push_row
        pull_row = _row(page.text, "data-channel", pulled)
        assert 'data-intake="pull"' in pull_row and 'data-alerts="1"' in pull_row
        assert "channel_pull_failing \u00d7 1" in pull_row and "not pulled yet" in pull_row
        # A viewer sees no action, and may not take one.
        assert 'data-action="pull-now"' not in pull_row
        refused = await console.post(f"/console/channels/{pulled}/pull", {"note": "now"})
        assert refused.status_code == 403

    async with console_as(system, "operator") as console:
        page = await console.http.get("/console/channels")
        assert 'data-action="pull-now"' in _row(page.text, "data-channel", pulled)
        assert 'data-action="pull-now"' not in _row(page.text, "data-channel", pushed)
        assert (
            await console.post(f"/console/channels/{pulled}/pull", {"note": ""})
        ).status_code == 422
        no_schedule = await console.post(f"/console/channels/{pushed}/pull", {"note": "try"})
        assert no_schedule.status_code == 409 and no_schedule.headers["HX-Retarget"] == "#flash"
        started = await console.post(f"/console/channels/{pulled}/pull", {"note": "catch up"})
        assert started.status_code == 200, started.text
        assert "The pull was started." in started.text

        async def pulled_once() -> bool:
            status = await pull_cursors.pull_status(system.engine, pulled)
            return status["cursor"] is not None

        await until(pulled_once)
        page = await console.http.get("/console/channels")
        pull_row = _row(page.text, "data-channel", pulled)
        assert "not pulled yet" not in pull_row and "data-lag-s=" in pull_row
    audit = await user_store.audit_for(system.engine, f"channel:{pulled}")
    assert [(r.action, r.outcome, r.note) for r in audit][:1] == [
        ("channel_pull_now", "ok", "catch up")
    ]
    await admin.delete(f"/v1/channels/{pulled}")


async def test_endpoints_show_failing_deliveries_and_an_admin_redelivers_one(
    admin, system, receiver
):
    created = await admin.post(
        "/v1/webhook-endpoints",
        json={"url": receiver.url, "events": ["webhook.test"], "description": "console test"},
    )
    assert created.status_code == 201, created.text
    endpoint = created.json()
    try:
        sent = (await admin.post(f"/v1/webhook-endpoints/{endpoint['id']}/test")).json()
        delivery_id = sent["delivery_id"]

        async def exhausted() -> bool:
            items = (await admin.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries")).json()[
                "items"
            ]
            return bool(items) and items[0]["status"] == "exhausted"

        await until(exhausted)
        async with console_as(system, "operator") as console:
            page = await console.http.get("/console/channels")
            assert endpoint["secret"] not in page.text
            assert "partner-token-in-the-query" not in page.text
            card = re.search(
                rf'<section class="card endpoint" id="endpoint-{endpoint["id"]}".*?</section>',
                page.text,
                re.S,
            )
            assert card and 'data-failing="1"' in card.group(0)
            row = _row(card.group(0), "data-delivery", str(delivery_id))
            assert 'data-status="exhausted"' in row and 'data-status-code="500"' in row
            assert 'data-attempts="5"' in row
            # Redelivery is for admins, as in the API.
            assert 'data-action="redeliver"' not in row
            path = f"/console/channels/webhooks/{endpoint['id']}/deliveries/{delivery_id}/redeliver"
            assert (await console.post(path, {"note": "fixed"})).status_code == 403

        receiver.code = 200
        async with console_as(system, "admin") as console:
            page = await console.http.get("/console/channels")
            assert 'data-action="redeliver"' in _row(page.text, "data-delivery", str(delivery_id))
            assert (await console.post(path, {"note": ""})).status_code == 422
            forged = await console.http.post(
                path, data={"csrf_token": "forged", "note": "x"}, headers={"HX-Request": "true"}
            )
            assert forged.status_code == 403
            answer = await console.post(path, {"note": "partner fixed their server"})
            assert answer.status_code == 200, answer.text
            assert f'id="delivery-{delivery_id}"' in answer.text
            assert 'data-status="pending"' in answer.text and 'data-attempts="0"' in answer.text

            async def delivered() -> bool:
                items = (
                    await admin.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries")
                ).json()["items"]
                return items[0]["status"] == "delivered"

            await until(delivered)
            assert receiver.got[-1] == 200
            missing = await console.post(
                f"/console/channels/webhooks/{endpoint['id']}/deliveries/999999999/redeliver",
                {"note": "x"},
            )
            assert missing.status_code == 404
        audit = await user_store.audit_for(system.engine, f"delivery:{delivery_id}")
        assert [(r.action, r.outcome, r.note) for r in audit] == [
            ("webhook_redeliver", "ok", "partner fixed their server")
        ]
    finally:
        await admin.delete(f"/v1/webhook-endpoints/{endpoint['id']}")
