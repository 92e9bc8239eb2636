"""Partner webhooks (signed), listing with cursors, health, ledger reads."""

from __future__ import annotations

import asyncio
import json
import time

from temporalio.client import WorkflowExecutionStatus

from oms.domain.ids import order_workflow_id
from oms.webhooks import signed_headers
from tests.integration.helpers import (
    TERMINAL,
    order_body,
    stocked,
    submit,
    unique,
    wait_for_status,
)


async def test_webhooks_without_a_valid_signature_are_401(system):
    import httpx

    body = json.dumps({"event_id": "e1", "tracking_number": "T1", "status": "delivered"}).encode()
    secret, wms_secret = system.settings.carrier_webhook_secret, system.settings.wms_webhook_secret
    attempts = [
        {"Content-Type": "application/json"},  # unsigned
        signed_headers("not-the-secret", body),
        signed_headers(secret, body, now=time.time() - 3600),  # stale
        signed_headers(wms_secret, body),  # a WMS secret does not sign carrier events
    ]
    async with httpx.AsyncClient(base_url=system.api_url, timeout=30) as partner:
        answers = [
            await partner.post("/v1/carrier-events", content=body, headers=headers)
            for headers in attempts
        ]
    assert [r.status_code for r in answers] == [401] * 4
    assert answers[0].headers["content-type"] == "application/problem+json"


async def test_a_carrier_event_for_an_unknown_parcel_is_404(admin, system):
    body = json.dumps(
        {"event_id": "e2", "tracking_number": unique("T"), "status": "in_transit"}
    ).encode()
    response = await admin.post(
        "/v1/carrier-events",
        content=body,
        headers=signed_headers(system.settings.carrier_webhook_secret, body),
    )
    assert response.status_code == 404


async def test_a_signed_event_with_a_bad_body_is_422(admin, system):
    body = json.dumps({"event_id": "e3", "tracking_number": "T", "status": "teleported"}).encode()
    response = await admin.post(
        "/v1/carrier-events",
        content=body,
        headers=signed_headers(system.settings.carrier_webhook_secret, body),
    )
    assert response.status_code == 422


async def test_duplicate_carrier_events_change_nothing(admin, system):
    _wh, sku = await stocked(admin, 1)
    order = await submit(admin, order_body([(sku, 1)]))
    done = await wait_for_status(admin, order["id"], TERMINAL)
    tracking = done["shipments"][0]["tracking_number"]
    # The read model says delivered as the workflow writes its last record; the event
    # below is a late one once the workflow itself has ended.
    await workflow_closed(system, order["id"])
    events_before = (await admin.get(f"/v1/orders/{order['id']}/events")).json()["items"]

    body = json.dumps(
        {"event_id": "again", "tracking_number": tracking, "status": "in_transit"}
    ).encode()
    response = await admin.post(
        "/v1/carrier-events",
        content=body,
        headers=signed_headers(system.settings.carrier_webhook_secret, body),
    )

    assert response.status_code == 202
    assert response.json()["accepted"] is False
    events_after = (await admin.get(f"/v1/orders/{order['id']}/events")).json()["items"]
    assert events_after == events_before
    assert (await admin.get(f"/v1/orders/{order['id']}")).json()["status"] == "delivered"


async def test_orders_list_filters_and_pages_with_a_cursor(admin):
    _wh, sku = await stocked(admin, 10)
    customer = unique("cust")
    ids = [
        (await submit(admin, order_body([(sku, 1)], customer_id=customer)))["id"] for _ in range(5)
    ]

    seen, cursor = [], None
    for _ in range(5):
        params = {"customer_id": customer, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await admin.get("/v1/orders", params=params)).json()
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)
    assert len(seen) == 5
    bad = await admin.get("/v1/orders", params={"cursor": "garbage!!"})
    assert bad.status_code == 422
    bad_status = await admin.get("/v1/orders", params={"status": "lost"})
    assert bad_status.status_code == 422


async def test_an_unknown_order_is_404_everywhere(admin):
    ghost = unique("ghost")
    for path in (f"/v1/orders/{ghost}", f"/v1/orders/{ghost}/events"):
        assert (await admin.get(path)).status_code == 404
    assert (await admin.post(f"/v1/orders/{ghost}/cancel")).status_code == 404
    assert (await admin.get("/v1/payments", params={"order_id": ghost})).status_code == 404


async def test_health_reports_database_and_temporal(admin):
    response = await admin.get("/health")
    assert response.status_code == 200
    assert response.json()["checks"] == {"api": "ok", "database": "ok", "temporal": "ok"}


async def test_the_timeline_pages_with_a_cursor(admin):
    _, sku = await stocked(admin, 1)
    order = await submit(admin, order_body([(sku, 1)]))
    await wait_for_status(admin, order["id"], TERMINAL)
    whole = (await admin.get(f"/v1/orders/{order['id']}/events")).json()
    assert whole["next_cursor"] is None

    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await admin.get(f"/v1/orders/{order['id']}/events", params=params)).json()
        assert len(page["items"]) <= 3
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == whole["items"]
    bad = await admin.get(f"/v1/orders/{order['id']}/events", params={"cursor": "nope"})
    assert bad.status_code == 422


async def test_an_admin_may_post_a_carrier_event_by_hand_but_no_one_else(admin, system):
    import httpx

    _, sku = await stocked(admin, 1)
    order = await submit(admin, order_body([(sku, 1)]))
    shipped = await wait_for_status(admin, order["id"], {"shipped", "delivered"})
    tracking = shipped["shipments"][0]["tracking_number"]
    body = {"event_id": "manual-1", "tracking_number": tracking, "status": "delivered"}
    ops_key = await admin.post("/v1/keys", json={"name": unique("ops"), "role": "operator"})
    async with httpx.AsyncClient(
        base_url=system.api_url,
        timeout=30,
        headers={"Authorization": f"Bearer {ops_key.json()['key']}"},
    ) as ops:
        refused = await ops.post("/v1/carrier-events", json=body)
    by_hand = await admin.post("/v1/carrier-events", json=body)

    assert refused.status_code == 403
    # Accepted; whether it or the simulated carrier's own scan delivered the parcel first,
    # the order ends delivered once.
    assert by_hand.status_code == 202
    done = await wait_for_status(admin, order["id"], TERMINAL)
    assert done["status"] == "delivered"
    events = (await admin.get(f"/v1/orders/{order['id']}/events")).json()["items"]
    assert [e["type"] for e in events].count("shipment_delivered") == 1


async def workflow_closed(system, order_id: str, within: float = 30) -> None:
    handle = system.client.get_workflow_handle(order_workflow_id(order_id))
    for _ in range(int(within / 0.05)):
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the workflow of {order_id} is still running")
