"""Partner events: the API looks up and forwards, the workflow alone writes the shipment,
and a redelivered event gets its first answer without reaching the workflow again."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from temporalio.api.enums.v1 import EventType

from oms.contract import ORDER_WORKFLOW
from oms.domain.ids import order_workflow_id
from tests.integration.helpers import TERMINAL, order_body, stocked, submit, unique, wait_for_status
from tests.integration.test_webhooks_and_reads import workflow_closed


async def _tracking_in_db(system: Any, shipment_id: str) -> str | None:
    async with system.engine.connect() as conn:
        return (
            await conn.execute(
                text("SELECT tracking_number FROM shipments WHERE id = :id"), {"id": shipment_id}
            )
        ).scalar_one()


async def _unworked_shipment(system: Any) -> tuple[str, Any]:
    """A shipment row and its order's workflow on a task queue no worker polls: the
    partner events the API forwards pile up in its history as signals, where a test can
    count them, and nothing records anything."""
    shipment_id, order_id = unique("shp"), unique("order")
    async with system.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO shipments (id, order_id, warehouse_id, status, created_at, "
                "updated_at) VALUES (:id, :o, 'wh', 'dispatched', now(), now())"
            ),
            {"id": shipment_id, "o": order_id},
        )
    handle = await system.client.start_workflow(
        ORDER_WORKFLOW,
        "never run",
        id=order_workflow_id(order_id),
        task_queue=unique("nobody"),
    )
    return shipment_id, handle


def _shipped(shipment_id: str) -> dict[str, Any]:
    """A warehouse's ``shipped`` event with a fresh event id and tracking number."""
    return {
        "event_id": unique("evt"),
        "type": "shipped",
        "shipment_id": shipment_id,
        "tracking_number": unique("TRK"),
    }


async def _signals(handle: Any) -> int:
    history = await handle.fetch_history()
    signalled = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    return sum(1 for e in history.events if e.event_type == signalled)


async def test_a_refused_shipped_event_leaves_the_shipment_as_the_workflow_recorded_it(
    admin, system
):
    _, sku = await stocked(admin, 1)
    order = await submit(admin, order_body([(sku, 1)]))
    done = await wait_for_status(admin, order["id"], TERMINAL)
    shipment = done["shipments"][0]
    real = shipment["tracking_number"]
    # Late once the workflow itself has ended (the read model says delivered first).
    await workflow_closed(system, order["id"])

    late = {
        "event_id": unique("late"),
        "type": "shipped",
        "shipment_id": shipment["id"],
        "tracking_number": unique("BOGUS"),
    }
    response = await admin.post("/v1/warehouse-events", json=late)

    assert response.status_code == 202
    assert response.json()["accepted"] is False
    assert await _tracking_in_db(system, shipment["id"]) == real
    # The real tracking number still finds its shipment: no 404 for the carrier.
    scan = {"event_id": unique("scan"), "tracking_number": real, "status": "delivered"}
    assert (await admin.post("/v1/carrier-events", json=scan)).status_code == 202


async def test_a_redelivered_event_gets_the_first_answer_and_reaches_the_workflow_once(
    admin, system
):
    shipment_id, handle = await _unworked_shipment(system)
    try:
        event = _shipped(shipment_id)
        first = await admin.post("/v1/warehouse-events", json=event)
        again = await admin.post("/v1/warehouse-events", json=event)

        assert first.status_code == again.status_code == 202
        assert again.json() == first.json() == {"accepted": True}
        assert again.headers["idempotent-replayed"] == "true"
        assert "idempotent-replayed" not in first.headers
        assert await _signals(handle) == 1
    finally:
        await handle.terminate("test over")


async def test_a_redelivery_stamped_anew_is_still_the_same_event(admin, system):
    shipment_id, handle = await _unworked_shipment(system)
    try:
        event = {**_shipped(shipment_id), "occurred_at": "2026-11-30T10:00:00+00:00"}
        assert (await admin.post("/v1/warehouse-events", json=event)).status_code == 202
        again = {**event, "occurred_at": "2026-11-30T10:00:07+00:00"}
        response = await admin.post("/v1/warehouse-events", json=again)

        assert response.status_code == 202
        assert response.headers["idempotent-replayed"] == "true"
        assert await _signals(handle) == 1
    finally:
        await handle.terminate("test over")


async def test_an_event_id_reused_with_another_body_is_a_conflict(admin, system):
    shipment_id, handle = await _unworked_shipment(system)
    try:
        event = _shipped(shipment_id)
        assert (await admin.post("/v1/warehouse-events", json=event)).status_code == 202
        changed = {**event, "tracking_number": unique("TRK")}
        response = await admin.post("/v1/warehouse-events", json=changed)

        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"
        assert await _signals(handle) == 1
    finally:
        await handle.terminate("test over")


async def test_a_carrier_scan_before_the_workflow_recorded_the_tracking_number_is_routed(
    admin, system
):
    shipment_id, handle = await _unworked_shipment(system)
    try:
        shipped = _shipped(shipment_id)
        tracking = shipped["tracking_number"]
        assert (await admin.post("/v1/warehouse-events", json=shipped)).status_code == 202
        scan = {"event_id": unique("scan"), "tracking_number": tracking, "status": "in_transit"}
        response = await admin.post("/v1/carrier-events", json=scan)

        assert response.status_code == 202
        assert response.json() == {"accepted": True}
        assert await _signals(handle) == 2
        # Only the workflow writes the shipment: no worker ran, so nothing was written.
        assert await _tracking_in_db(system, shipment_id) is None
    finally:
        await handle.terminate("test over")
