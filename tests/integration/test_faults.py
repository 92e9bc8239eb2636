"""Faults the API and the worker must ride through: a stalled worker, an order whose
workflow never started, PostgreSQL or Temporal down, a gateway whose answer is lost."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import text
from temporalio.testing import WorkflowEnvironment

from activities.payments import PaymentActivities
from devtools.embedded_temporal import temporal_binary
from devtools.ports import free_port
from oms.adapters.payment_gateway import GatewayResult, GatewayUnavailable, HttpPaymentGateway
from oms.domain.ids import idempotency_key
from oms.order_start import start_order
from tests.conftest import ADMIN_KEY, System, custom_stack
from tests.integration.helpers import (
    TERMINAL,
    has_workflow,
    order_body,
    recorded_without_workflow,
    stocked,
    submit,
    unique,
    wait_for_status,
)

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


@asynccontextmanager
async def _api(system: System, client: Any = None, **overrides: Any) -> AsyncIterator[Any]:
    """An API of its own, in process, with some settings changed (say, a database URL that
    nothing answers on)."""
    from api.app import create_app
    from oms.db.engine import make_engine

    settings = system.settings.model_copy(update=overrides)
    engine = make_engine(settings, pool_size=1) if "database_url" in overrides else system.engine
    app = create_app(settings, engine, client or system.client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://api", headers=AUTH, timeout=30
    ) as http:
        yield http
    if engine is not system.engine:
        await engine.dispose()


async def _ledger(system: System, order_id: str) -> list[tuple[str, str]]:
    async with system.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT kind, status FROM payments WHERE order_id = :o ORDER BY id"),
            {"o": order_id},
        )
        return [(r.kind, r.status) for r in rows]


async def test_a_cancel_no_worker_answers_is_accepted_as_pending_and_then_applied(admin, system):
    from worker.main import build_worker

    _, sku = await stocked(admin, 1)
    body = order_body([(sku, 1)])
    order_id = await recorded_without_workflow(system, body, "received", 0)
    stalled = system.settings.model_copy(update={"task_queue": unique("stalled")})
    view = (await admin.get(f"/v1/orders/{order_id}")).json()
    from temporalio.converter import value_to_type

    from oms.domain.messages import OrderView

    await start_order(system.client, stalled, value_to_type(OrderView, view, []), "tok_ok")

    started = time.monotonic()
    response = await admin.post(f"/v1/orders/{order_id}/cancel", json={"reason": "stalled"})
    waited = time.monotonic() - started

    assert response.status_code == 202, response.text
    assert response.json()["pending_action"]["action"] == "cancel"
    assert "accepted_action" not in response.json()  # not accepted by the workflow yet
    assert response.headers["retry-after"]
    assert waited < 15  # 5 s for the update, then the signal; not the 10 s + 500 of before
    # The worker comes back: the cancel it finds takes effect before any payment step.
    worker = build_worker(system.client, system.engine, stalled)
    task = asyncio.create_task(worker.run())
    try:
        done = await wait_for_status(admin, order_id, TERMINAL)
    finally:
        await worker.shutdown()
        await asyncio.gather(task, return_exceptions=True)
    assert done["status"] == "cancelled"
    assert await _ledger(system, order_id) == []


async def test_a_cancel_wins_over_a_start_that_has_not_happened_yet(admin, system):
    from worker.recovery import start_unstarted_orders

    _, sku = await stocked(admin, 1)
    order_id = await recorded_without_workflow(system, order_body([(sku, 1)]), "received", 0)
    assert not await has_workflow(system, order_id)

    response = await admin.post(f"/v1/orders/{order_id}/cancel", json={"reason": "changed mind"})

    assert response.status_code == 202, response.text
    done = await wait_for_status(admin, order_id, TERMINAL)
    assert done["status"] == "cancelled"
    assert done["cancellation"]["reason"] == "changed mind"
    # The recovery sweep comes later: the order stays cancelled, nothing is authorized.
    await start_unstarted_orders(system.client, system.engine, system.settings, older_than_s=0)
    assert (await admin.get(f"/v1/orders/{order_id}")).json()["status"] == "cancelled"
    assert await _ledger(system, order_id) == []


async def test_an_empty_idempotency_key_is_no_key(admin, system):
    _, sku = await stocked(admin, 2)
    first = await admin.post(
        "/v1/orders", json=order_body([(sku, 1)]), headers={"Idempotency-Key": ""}
    )
    second = await admin.post(
        "/v1/orders", json=order_body([(sku, 1)]), headers={"Idempotency-Key": ""}
    )

    assert first.status_code == second.status_code == 202, second.text
    assert first.json()["id"] != second.json()["id"]


async def test_a_database_that_refuses_connections_is_503_with_retry_after(system):
    nowhere = f"postgresql://oms@127.0.0.1:{free_port()}/oms"
    async with _api(system, database_url=nowhere) as http:
        answers = [
            await http.post("/v1/orders", json=order_body([("SKU-X", 1)])),
            await http.get("/v1/orders"),
            await http.get("/v1/orders/0123456789abcdef0123"),
            await http.get("/v1/insights/replenishment"),
            await http.get("/v1/insights/replenishment", params={"format": "csv"}),
            await http.get("/v1/insights/hot-products"),
        ]
        health = await http.get("/health")

    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["retry-after"] == "5"
        assert answer.json()["dependency"] == "database"
    assert health.status_code == 503
    assert health.json()["checks"]["database"].startswith("error")
    assert health.json()["checks"]["temporal"] == "ok"


async def test_temporal_down_is_503_for_partners_and_orders_within_seconds(admin, system):
    from tests.integration.test_partner_events import _shipped, _unworked_shipment

    shipment_id, handle = await _unworked_shipment(system)
    await handle.terminate("not needed")
    _, sku = await stocked(admin, 1)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(), dev_server_log_level="error"
    )
    client = env.client
    await env.shutdown()  # the server goes away; the API keeps its client

    async with _api(system, client=client) as http:
        event = _shipped(shipment_id)
        webhook = await http.post("/v1/warehouse-events", json=event)
        started = time.monotonic()
        submitted = await http.post("/v1/orders", json=order_body([(sku, 1)]))
        waited = time.monotonic() - started
        health = await http.get("/health")

    assert webhook.status_code == 503, webhook.text
    assert webhook.headers["retry-after"]
    assert webhook.json()["dependency"] == "temporal"
    assert submitted.status_code == 503, submitted.text
    assert submitted.headers["retry-after"]
    assert waited < 12  # about 6 s (START_TIMEOUT_S), not the 30 s of before
    assert health.json()["checks"]["temporal"].startswith("error")
    # The event was not remembered as answered: the partner's retry will be processed.
    async with system.engine.connect() as conn:
        stored = await conn.execute(
            text("SELECT count(*) FROM partner_events WHERE event_id = :e"),
            {"e": event["event_id"]},
        )
        assert stored.scalar_one() == 0


class _LostAnswers(HttpPaymentGateway):
    """The gateway authorizes, but its answer never reaches the OMS."""

    async def authorize(self, *, key: str, amount: str, currency: str, token: str) -> GatewayResult:
        await super().authorize(key=key, amount=amount, currency=currency, token=token)
        raise GatewayUnavailable("ReadTimeout: the answer was lost")


async def test_an_authorization_whose_answer_was_lost_is_voided_when_the_order_fails(system):
    settings = system.settings
    lossy = PaymentActivities(
        system.engine, _LostAnswers(settings.gateway_base_url, settings.payment_gateway_key)
    )
    replace = {"authorize_payment": lossy.authorize_payment}
    # The shortest limit there is (1 s): the workflow's side, with longer limits and every
    # outcome of the void, is tests/workflows/test_deadlines.py; this is the gateway's.
    async with custom_stack(system, "lost-answers", replace, authorize_limit_s=1) as http:
        _, sku = await stocked(http, 1)
        order = await submit(http, order_body([(sku, 1)]))
        done = await wait_for_status(http, order["id"], TERMINAL)

    assert done["status"] == "failed"
    assert done["failure_reason"] == "payment_unavailable"
    assert done["payment"]["status"] == "voided"
    ledger = await _ledger(system, order["id"])
    assert ("void", "succeeded") in ledger
    assert ("authorize", "succeeded") not in ledger
    key = idempotency_key(order["id"], "authorize")
    auth_id = "auth_" + hashlib.sha256(key.encode()).hexdigest()[:16]
    async with system.engine.connect() as conn:
        voided = await conn.execute(
            text("SELECT voided FROM sim_gateway_authorizations WHERE id = :id"), {"id": auth_id}
        )
        assert voided.scalar_one() is True


async def test_the_worker_waits_for_a_temporal_server_that_is_not_up_yet(system):
    from worker.main import connect_with_retry

    port = free_port()
    settings = system.settings.model_copy(update={"temporal_address": f"127.0.0.1:{port}"})
    connecting = asyncio.create_task(connect_with_retry(settings, max_delay_s=0.5))
    await asyncio.sleep(2)
    assert not connecting.done()  # still trying, not crashed
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(), port=port, dev_server_log_level="error"
    )
    try:
        client = await asyncio.wait_for(connecting, timeout=20)
        assert (await client.service_client.check_health()) is not None
    finally:
        await env.shutdown()


async def test_an_order_sent_while_temporal_never_answered_is_recorded_and_503(admin, system):
    from sqlalchemy import text as sql

    _, sku = await stocked(admin, 1)
    nowhere = f"127.0.0.1:{free_port()}"
    from api.app import create_app

    settings = system.settings.model_copy(update={"temporal_address": nowhere})
    app = create_app(settings, system.engine, None)  # never connected to Temporal
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=AUTH) as http:
        body = order_body([(sku, 1)])
        first = await http.post("/v1/orders", json=body)
        started = time.monotonic()
        second = await http.post("/v1/orders", json=order_body([(sku, 1)]))
        quick = time.monotonic() - started

    assert first.status_code == second.status_code == 503
    assert first.json()["dependency"] == "temporal"
    assert quick < 2  # no second 5 s connection attempt right after a failed one
    async with system.engine.connect() as conn:
        recorded = await conn.execute(
            sql("SELECT status FROM orders WHERE external_id = :e"), {"e": body["external_id"]}
        )
        assert recorded.scalar_one() == "received"  # the recovery sweep starts it later


async def _retrying(handle: Any, within: float) -> Any:
    """The workflow's pending activities once the first of them is on its second attempt
    (the Web UI's view of a step that is being retried)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        pending = (await handle.describe()).raw_description.pending_activities
        if pending and pending[0].attempt > 1 and pending[0].HasField("last_failure"):
            return pending
        await asyncio.sleep(0.2)
    raise AssertionError("the step was never retried")


async def test_an_order_waits_out_a_gateway_outage_and_goes_on_by_itself(admin, system):
    sim = httpx.AsyncClient(base_url=system.settings.sim_base_url, headers=AUTH, timeout=10)
    _, sku = await stocked(admin, 1)
    try:
        down = await sim.put("/sim/faults", json={"gateway": {"outage_s": 5}})
        assert down.status_code == 200, down.text
        order = await submit(admin, order_body([(sku, 1)]))
        handle = system.client.get_workflow_handle(f"order-{order['id']}")
        pending = await _retrying(handle, within=20)
        waiting = (await admin.get(f"/v1/orders/{order['id']}")).json()
    finally:
        await sim.put("/sim/faults", json={"gateway": {"outage_s": 0}})
        await sim.aclose()
    # Visibly retrying, as an operator sees it in the Web UI: attempts and the last error.
    assert waiting["status"] == "received"
    assert pending[0].activity_type.name == "authorize_payment"
    assert pending[0].attempt > 1
    # Failure messages are sealed like payloads; the Web UI opens them through the codec.
    last_error = await system.client.data_converter.decode_failure(pending[0].last_failure)
    assert "503" in str(last_error)
    done = await wait_for_status(admin, order["id"], TERMINAL)
    assert done["status"] == "delivered"
