"""Events out on the real stack: endpoints over the API, the outbox written by PostgreSQL's
triggers, deliveries by the ``webhook.endpoint`` workflows to a receiver on 127.0.0.1 that
checks every signature with the ``standardwebhooks`` package (an independent verifier).

The session's settings compress the retry schedule (0, 0.2, 0.4, 0.6, 0.8 s) and allow
loopback receivers only. Each test deletes its endpoint at its end, so later tests' orders
make no deliveries for it.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devtools.ports import free_port
from tests.conftest import _serve, api_of
from tests.integration.helpers import order_body, stocked, submit, unique, wait_for_status

ORDER_TYPES = [
    "order.received",
    "order.payment_authorized",
    "order.reserved",
    "order.dispatched",
    "order.shipped",
    "order.delivered",
]


@dataclass
class Received:
    event_id: str
    body: dict[str, Any]
    at: float
    signatures: int


@dataclass
class Receiver:
    """A partner's endpoint: verifies, records, answers as ``answer`` says."""

    port: int
    secrets: list[str] = field(default_factory=list)
    acked: list[Received] = field(default_factory=list)  # answered 2xx
    refused: list[Received] = field(default_factory=list)  # answered otherwise
    bad_signatures: int = 0
    answer: Callable[[Received], tuple[int, dict[str, str]]] = lambda r: (200, {})
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def handle(self, request: Request) -> Response:
        raw = await request.body()
        headers = dict(request.headers)
        verified = None
        for secret in self.secrets:
            try:
                verified = Webhook(secret).verify(raw, headers)
                break
            except WebhookVerificationError:
                continue
        if verified is None:
            self.bad_signatures += 1
            return Response(status_code=400)
        got = Received(
            headers["webhook-id"],
            verified,
            time.monotonic(),
            len(headers["webhook-signature"].split()),
        )
        code, extra = self.answer(got)
        (self.acked if 200 <= code < 300 else self.refused).append(got)
        self.arrived.set()
        return Response(status_code=code, headers=extra)

    def of_order(self, order_id: str) -> list[Received]:
        return [r for r in self.acked if r.body["data"].get("order_id") == order_id]

    async def wait_for(self, done: Callable[[], bool], within_s: float = 20.0) -> None:
        deadline = time.monotonic() + within_s
        while not done():
            assert time.monotonic() < deadline, f"timed out; acked {len(self.acked)}"
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), 0.2)
            except TimeoutError:
                pass


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    recv = Receiver(free_port())
    app = Starlette(routes=[Route("/hook", recv.handle, methods=["POST"])])
    server, task = await _serve(app, recv.port)
    yield recv
    server.should_exit = True
    await task


@pytest.fixture
async def endpoints(admin: httpx.AsyncClient) -> AsyncIterator[list[str]]:
    """Endpoints a test made, deleted at its end."""
    made: list[str] = []
    yield made
    for endpoint_id in made:
        await admin.delete(f"/v1/webhook-endpoints/{endpoint_id}")


async def _subscribe(
    admin: httpx.AsyncClient, receiver: Receiver, endpoints: list[str], events: list[str]
) -> dict[str, Any]:
    response = await admin.post(
        "/v1/webhook-endpoints",
        json={"url": receiver.url, "events": events, "description": "test receiver"},
    )
    assert response.status_code == 201, response.text
    created = response.json()
    endpoints.append(created["id"])
    receiver.secrets.append(created["secret"])
    return created


async def _deliveries(admin: httpx.AsyncClient, endpoint_id: str, **params: Any) -> list[Any]:
    response = await admin.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


async def _settled(admin: httpx.AsyncClient, endpoint_id: str, status: str) -> list[Any]:
    """The endpoint's deliveries once all of them are in ``status`` (the receiver may have
    answered a moment before the attempt is recorded)."""
    deadline = time.monotonic() + 10
    while True:
        items = await _deliveries(admin, endpoint_id)
        if items and all(d["status"] == status for d in items):
            return items
        assert time.monotonic() < deadline, items
        await asyncio.sleep(0.05)


async def _alerted(admin: httpx.AsyncClient, kind: str, endpoint_id: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        page = (await admin.get("/v1/alerts", params={"status": "open", "limit": 200})).json()
        if any(a["kind"] == kind and a["subject"] == endpoint_id for a in page["items"]):
            return
        assert time.monotonic() < deadline, page
        await asyncio.sleep(0.05)


async def test_an_order_produces_its_events_in_order_signed_and_without_personal_data(
    admin, receiver, endpoints
):
    created = await _subscribe(admin, receiver, endpoints, ORDER_TYPES)
    assert created["secret"].startswith("whsec_") and created["enabled"] is True
    shown = (await admin.get(f"/v1/webhook-endpoints/{created['id']}")).json()
    assert "secret" not in shown and shown["events"] == ORDER_TYPES

    _wh, sku = await stocked(admin, 5)
    order = await submit(admin, order_body([(sku, 1)]))
    await wait_for_status(admin, order["id"], {"delivered"})
    await receiver.wait_for(
        lambda: any(r.body["type"] == "order.delivered" for r in receiver.of_order(order["id"]))
    )

    events = receiver.of_order(order["id"])
    assert [e.body["type"] for e in events] == ORDER_TYPES
    seqs = [e.body["data"]["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert len({e.event_id for e in events}) == len(events)
    assert all(e.event_id.startswith("evt_") for e in events)
    first = events[0].body
    assert first["data"]["order_id"] == order["id"] and first["data"]["channel"] == "webshop"
    assert first["data"]["status"] == "received" and first["timestamp"]
    shipped = next(e.body["data"] for e in events if e.body["type"] == "order.shipped")
    assert shipped["shipment_id"] and shipped["tracking_number"]
    everything = json.dumps([e.body for e in events])
    assert "Ada" not in everything and "ada@example.com" not in everything
    assert "Analytical" not in everything and "tok_ok" not in everything
    assert receiver.bad_signatures == 0

    await _settled(admin, created["id"], "delivered")
    listed = await _deliveries(admin, created["id"], status="delivered")
    mine = [d for d in listed if d["order_id"] == order["id"]]
    assert len(mine) == len(ORDER_TYPES)
    assert all(len(d["attempts"]) == 1 and d["attempts"][0]["status_code"] == 200 for d in mine)


async def test_a_receiver_refusing_every_first_attempt_gets_every_event_once_and_in_order(
    admin, receiver, endpoints
):
    # Each event's first attempt is refused, every retry taken: half the attempts fail.
    # (Not every other call: with two events retried side by side, one of them could meet
    # only the refusals and rightly run out of its five attempts.)
    seen: set[str] = set()

    def flaky(r: Received) -> tuple[int, dict[str, str]]:
        if r.event_id in seen:
            return (200, {})
        seen.add(r.event_id)
        return (500, {})

    receiver.answer = flaky
    await _subscribe(admin, receiver, endpoints, ORDER_TYPES)
    _wh, sku = await stocked(admin, 10)
    orders = [await submit(admin, order_body([(sku, 1)])) for _ in range(3)]
    for order in orders:
        await wait_for_status(admin, order["id"], {"delivered"})
    for order in orders:
        await receiver.wait_for(lambda o=order: len(receiver.of_order(o["id"])) == 6, 30)

    ours = [e.event_id for order in orders for e in receiver.of_order(order["id"])]
    refused_ids = [r.event_id for r in receiver.refused]
    assert all(refused_ids.count(event_id) == 1 for event_id in ours)  # each refused once
    for order in orders:
        events = receiver.of_order(order["id"])
        assert [e.body["type"] for e in events] == ORDER_TYPES  # in order, each once
    acked_ids = [r.event_id for r in receiver.acked]
    assert len(acked_ids) == len(set(acked_ids))
    # Every refused attempt was retried with the same webhook-id.
    assert {r.event_id for r in receiver.refused} <= set(acked_ids)


async def test_410_gone_disables_the_endpoint_and_raises_an_alert(admin, receiver, endpoints):
    receiver.answer = lambda _r: (410, {})
    created = await _subscribe(admin, receiver, endpoints, ["webhook.test"])
    sent = await admin.post(f"/v1/webhook-endpoints/{created['id']}/test")
    assert sent.status_code == 202, sent.text

    deadline = time.monotonic() + 15
    while True:
        shown = (await admin.get(f"/v1/webhook-endpoints/{created['id']}")).json()
        if not shown["enabled"]:
            break
        assert time.monotonic() < deadline, shown
        await asyncio.sleep(0.1)
    assert "410" in shown["disabled_reason"]
    await _alerted(admin, "webhook_endpoint_gone", created["id"])
    assert len(receiver.refused) == 1  # nothing more once disabled


async def test_retry_after_is_honoured(admin, receiver, endpoints):
    answers = iter([(503, {"Retry-After": "2"})])
    receiver.answer = lambda _r: next(answers, (200, {}))
    created = await _subscribe(admin, receiver, endpoints, ["webhook.test"])
    await admin.post(f"/v1/webhook-endpoints/{created['id']}/test")
    await receiver.wait_for(lambda: len(receiver.acked) == 1)

    assert len(receiver.refused) == 1
    gap = receiver.acked[0].at - receiver.refused[0].at
    assert gap >= 1.9, gap  # the schedule alone would have waited 0.2 s (±20 %)
    assert receiver.acked[0].event_id == receiver.refused[0].event_id
    [delivery] = await _settled(admin, created["id"], "delivered")
    assert [a["status_code"] for a in delivery["attempts"]] == [503, 200]
    assert delivery["attempts"][0]["next_attempt_at"] is not None
    assert delivery["status"] == "delivered"


async def test_exhausted_deliveries_are_marked_and_alerted_and_redelivery_sends_again(
    admin, receiver, endpoints
):
    receiver.answer = lambda _r: (500, {})
    created = await _subscribe(admin, receiver, endpoints, ["webhook.test"])
    endpoint_id = created["id"]
    sent = (await admin.post(f"/v1/webhook-endpoints/{endpoint_id}/test")).json()
    await receiver.wait_for(lambda: len(receiver.refused) == 5)  # the compressed schedule
    [delivery] = await _settled(admin, endpoint_id, "exhausted")
    assert len(delivery["attempts"]) == 5 and delivery["last_error"] == "answered 500"
    assert delivery["id"] == sent["delivery_id"]
    await _alerted(admin, "webhook_delivery_exhausted", endpoint_id)

    # The receiver is fixed: one delivery again, then everything since a time.
    receiver.answer = lambda _r: (200, {})
    again = await admin.post(
        f"/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery['id']}/redeliver"
    )
    assert again.status_code == 200 and again.json() == {"redelivered": 1}
    await receiver.wait_for(lambda: len(receiver.acked) == 1)
    assert receiver.acked[0].event_id == sent["event_id"]
    since = datetime(2000, 1, 1, tzinfo=UTC).isoformat()
    bulk = await admin.post(f"/v1/webhook-endpoints/{endpoint_id}/redeliver", json={"since": since})
    assert bulk.json() == {"redelivered": 1}
    await receiver.wait_for(lambda: len(receiver.acked) == 2)
    assert receiver.acked[1].event_id == sent["event_id"]
    [delivery] = await _settled(admin, endpoint_id, "delivered")
    assert len(delivery["attempts"]) == 7

    missing = await admin.post(f"/v1/webhook-endpoints/{endpoint_id}/deliveries/999999/redeliver")
    assert missing.status_code == 404


async def test_a_rotated_secret_signs_beside_the_old_one(admin, receiver, endpoints):
    created = await _subscribe(admin, receiver, endpoints, ["webhook.test"])
    old = receiver.secrets[0]
    rotated = await admin.post(
        f"/v1/webhook-endpoints/{created['id']}/rotate-secret", json={"grace_s": 3600}
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old and rotated.json()["previous_secret_until"]
    receiver.secrets = [old]  # a receiver not yet told of the new secret
    await admin.post(f"/v1/webhook-endpoints/{created['id']}/test")
    await receiver.wait_for(lambda: len(receiver.acked) == 1)
    assert receiver.acked[0].signatures == 2
    receiver.secrets = [new]
    await admin.post(f"/v1/webhook-endpoints/{created['id']}/test")
    await receiver.wait_for(lambda: len(receiver.acked) == 2)
    assert receiver.bad_signatures == 0


async def test_stock_changes_are_events_with_levels(admin, receiver, endpoints):
    await _subscribe(admin, receiver, endpoints, ["stock.changed"])
    warehouse_id, sku = await stocked(admin, 7)
    await receiver.wait_for(lambda: any(r.body["data"]["sku"] == sku for r in receiver.acked))
    data = next(r.body["data"] for r in receiver.acked if r.body["data"]["sku"] == sku)
    assert data == {
        "warehouse_id": warehouse_id,
        "sku": sku,
        "on_hand": 7,
        "reserved": 0,
        "available": 7,
    }


async def test_an_event_is_written_with_its_fact_or_not_at_all(admin, receiver, endpoints, system):
    await _subscribe(admin, receiver, endpoints, ["order.received"])
    rolled_back, committed = unique("o"), unique("o")
    insert_order = text(
        "INSERT INTO orders (id, channel, external_id, request_hash, customer_id, status, "
        "last_seq, view, created_at, updated_at) VALUES (:id, 'webshop', :id, 'h', 'c', "
        "'received', 0, '{}', now(), now())"
    )
    insert_event = text(
        "INSERT INTO order_events (order_id, seq, type, status, data, created_at) "
        "VALUES (:id, 0, 'order_received', 'received', '{\"total\": \"1.00\"}', now())"
    )
    async with system.engine.connect() as conn:
        transaction = await conn.begin()
        await conn.execute(insert_order, {"id": rolled_back})
        await conn.execute(insert_event, {"id": rolled_back})
        await transaction.rollback()
    async with system.engine.begin() as conn:
        await conn.execute(insert_order, {"id": committed})
        await conn.execute(insert_event, {"id": committed})

    count = text("SELECT count(*) FROM outbox_events WHERE order_id = :id")
    try:
        async with system.engine.connect() as conn:
            assert (await conn.execute(count, {"id": rolled_back})).scalar() == 0
            assert (await conn.execute(count, {"id": committed})).scalar() == 1
        await receiver.wait_for(lambda: len(receiver.of_order(committed)) == 1)
        assert receiver.of_order(committed)[0].body["data"]["total"] == "1.00"
        assert receiver.of_order(rolled_back) == []
    finally:
        # A bare row with no view: not one the other tests' order lists should meet.
        async with system.engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM order_events WHERE order_id = :id"), {"id": committed}
            )
            await conn.execute(text("DELETE FROM orders WHERE id = :id"), {"id": committed})


async def test_no_outbox_row_without_a_subscriber(admin, system):
    listed = (await admin.get("/v1/webhook-endpoints")).json()["items"]
    assert not [e for e in listed if e["enabled"] and "stock.changed" in e["events"]]
    _wh, sku = await stocked(admin, 3)
    query = text("SELECT count(*) FROM outbox_events WHERE data->>'sku' = :sku")
    async with system.engine.connect() as conn:
        assert (await conn.execute(query, {"sku": sku})).scalar() == 0


async def test_bad_endpoints_are_refused_with_422_and_nothing_is_made(admin, system):
    before = len((await admin.get("/v1/webhook-endpoints")).json()["items"])
    unknown = await admin.post(
        "/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/h", "events": ["order.exploded"]}
    )
    assert unknown.status_code == 422
    assert unknown.headers["content-type"] == "application/problem+json"
    assert "order.shipped" in unknown.text  # the valid types are listed
    for url in ("ftp://127.0.0.1/x", "http://10.0.0.1/hook", "http://example.com/hook"):
        refused = await admin.post("/v1/webhook-endpoints", json={"url": url, "events": ["*"]})
        assert refused.status_code == 422, (url, refused.text)

    # A system that does not allow private addresses refuses loopback too.
    strict = system.settings.model_copy(
        update={
            "webhook_allow_private": False,
            "webhook_loopback_only": False,
            "api_port": free_port(),
        }
    )
    async with api_of(system, strict) as http:
        for url in ("http://127.0.0.1:9/h", "http://[::1]:9/h", "http://[::ffff:10.0.0.1]/h"):
            refused = await http.post("/v1/webhook-endpoints", json={"url": url, "events": ["*"]})
            assert refused.status_code == 422, refused.text
            assert refused.json()["type"].endswith("/address-not-allowed")
    assert len((await admin.get("/v1/webhook-endpoints")).json()["items"]) == before


async def test_endpoints_change_disable_and_delete(admin, receiver, endpoints):
    created = await _subscribe(admin, receiver, endpoints, ["webhook.test"])
    path = f"/v1/webhook-endpoints/{created['id']}"
    changed = await admin.patch(path, json={"enabled": False, "description": "paused"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["enabled"] is False and changed.json()["description"] == "paused"
    await admin.post(f"{path}/test")
    await asyncio.sleep(0.5)
    assert receiver.acked == []  # disabled: kept, not sent
    assert (await admin.patch(path, json={"enabled": True})).json()["enabled"] is True
    await receiver.wait_for(lambda: len(receiver.acked) == 1)

    assert (await admin.delete(path)).status_code == 204
    assert (await admin.get(path)).status_code == 404
    assert (await admin.delete(path)).status_code == 404
    assert (await admin.get(f"{path}/deliveries")).status_code == 404
    endpoints.clear()


async def test_an_anonymous_caller_cannot_see_endpoints(system):
    async with httpx.AsyncClient(base_url=system.api_url) as anonymous:
        assert (await anonymous.get("/v1/webhook-endpoints")).status_code == 401


async def test_a_partner_key_with_the_webhooks_scope_manages_endpoints_and_others_may_not(
    system, admin
):
    async def key(role: str, scopes: list[str]) -> str:
        body = {"name": f"k-{uuid.uuid4().hex[:8]}", "role": role, "scopes": scopes}
        made = await admin.post("/v1/keys", json=body)
        assert made.status_code == 201, made.text
        return str(made.json()["key"])

    manager = await key("partner", ["webhooks:manage"])
    reader = await key("partner", ["orders:read"])
    operator = await key("operator", [])
    for secret, expected in ((manager, 200), (reader, 403), (operator, 403)):
        async with httpx.AsyncClient(
            base_url=system.api_url, headers={"Authorization": f"Bearer {secret}"}
        ) as http:
            assert (await http.get("/v1/webhook-endpoints")).status_code == expected
