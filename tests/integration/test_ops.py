"""What operators look at: stuck steps with their errors, alerts (one per step, not one per
attempt), acknowledging, the summary; none of it for a channel key."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from temporalio import activity

from activities.payments import PaymentActivities
from oms.adapters.payment_gateway import GatewayResult, GatewayUnavailable, HttpPaymentGateway
from oms.domain.messages import DispatchRequest, DispatchResult
from tests.conftest import System, custom_stack
from tests.integration.helpers import order_body, stocked, submit, unique
from worker import retry_alerts


class _Down(HttpPaymentGateway):
    async def authorize(self, *, key: str, amount: str, currency: str, token: str) -> GatewayResult:
        raise GatewayUnavailable("ConnectError: gateway down for maintenance")


async def _until(check: Any, within: float) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.5)
    raise AssertionError("never happened")


async def test_a_step_that_keeps_failing_is_listed_as_stuck_and_alerted_once(
    system: System, monkeypatch: pytest.MonkeyPatch
):
    # Alerted at the third attempt (3 s in) instead of the fifth (15 s in): the same rule.
    monkeypatch.setattr(retry_alerts, "ALERT_AT_ATTEMPT", 3)
    settings = system.settings
    down = PaymentActivities(system.engine, _Down(settings.gateway_base_url, "k"))
    replace = {"authorize_payment": down.authorize_payment}
    async with custom_stack(system, "stuck", replace) as http:
        _, sku = await stocked(http, 1)
        order = await submit(http, order_body([(sku, 1)]))

        async def stuck() -> list[dict[str, Any]]:
            items = (await http.get("/v1/ops/stuck")).json()["items"]
            return [i for i in items if i["order_id"] == order["id"]]

        (item,) = await _until(stuck, within=30)
        assert item["kind"] == "retrying"
        assert item["activity"] == "authorize_payment"
        assert item["attempt"] >= 3
        assert "gateway down for maintenance" in item["last_error"]
        assert item["web_ui"].endswith(f"/workflows/order-{order['id']}")

        async def alerts() -> list[dict[str, Any]]:
            items = (await http.get("/v1/alerts", params={"status": "open"})).json()["items"]
            return [a for a in items if a["order_id"] == order["id"]]

        # Attempt 3 comes about 3 s in and raises the alert; later attempts add none.
        (alert,) = await _until(alerts, within=40)
        assert alert["kind"] == "activity_retrying"
        assert alert["detail"]["activity"] == "authorize_payment"
        assert alert["detail"]["attempt"] == 3
        handle = system.client.get_workflow_handle(f"order-{order['id']}")
        await _until(lambda: _attempt_at_least(handle, 5), within=40)
        assert len(await alerts()) == 1

        summary = (await http.get("/v1/ops/summary")).json()
        assert summary["open_alerts"]["by_kind"]["activity_retrying"] >= 1
        assert summary["orders_by_status"]["received"] >= 1

        acked = await http.post(f"/v1/alerts/{alert['id']}/ack", json={"note": "gateway ticket"})
        assert acked.status_code == 200, acked.text
        assert acked.json()["status"] == "acknowledged"
        assert acked.json()["acknowledged_by"] == "admin"
        assert await alerts() == []
        await handle.terminate("test over")


async def _attempt_at_least(handle: Any, attempt: int) -> bool:
    pending = (await handle.describe()).raw_description.pending_activities
    return bool(pending) and pending[0].attempt >= attempt


async def test_raising_an_alert_that_is_open_already_adds_nothing(system: System):
    from oms.alerts import AlertStore
    from oms.domain.messages import AlertRequest

    store = AlertStore(system.engine)
    order_id = unique("order")
    request = AlertRequest(order_id, "activity_retrying", {"activity": "capture_payment"})
    first = await store.raise_alert(request)
    again = [await store.raise_alert(request) for _ in range(3)]
    other_step = await store.raise_alert(
        AlertRequest(order_id, "activity_retrying", {"activity": "void_payment"})
    )
    assert again == [first] * 3
    assert other_step != first


async def test_an_unknown_alert_is_404_and_a_bad_cursor_422(admin):
    assert (await admin.post("/v1/alerts/99999999/ack", json={})).status_code == 404
    assert (await admin.get("/v1/alerts", params={"cursor": "x"})).status_code == 422


async def test_a_channel_key_is_refused_on_every_operator_route(admin, system):
    made = await admin.post(
        "/v1/keys", json={"name": unique("shop"), "role": "channel", "channel": "webshop"}
    )
    key = made.json()["key"]
    async with httpx.AsyncClient(
        base_url=system.api_url, headers={"Authorization": f"Bearer {key}"}
    ) as shop:
        answers = [
            await shop.get("/v1/ops/stuck"),
            await shop.get("/v1/ops/summary"),
            await shop.get("/v1/alerts"),
            await shop.post("/v1/alerts/1/ack", json={}),
            await shop.post("/v1/orders/0123456789abcdef0123/hold", json={"reason": "x"}),
            await shop.post("/v1/orders/0123456789abcdef0123/approve", json={}),
            await shop.post("/v1/orders/0123456789abcdef0123/reject", json={}),
            await shop.post("/v1/orders/0123456789abcdef0123/cancel", json={}),
            await shop.get("/v1/payments", params={"order_id": "0123456789abcdef0123"}),
        ]
    assert [a.status_code for a in answers] == [403] * len(answers)


@pytest.mark.parametrize(
    ("workflow_type", "runs_dispatch"),
    [("order.batched", "order-{id}"), ("order", "shipment-{id}-1")],
)
async def test_a_dispatch_that_keeps_failing_is_listed_on_the_workflow_that_runs_it(
    system: System, workflow_type: str, runs_dispatch: str
):
    """Orders since ``order.lean`` dispatch from the order's own workflow; orders of the
    ``order`` type from a child per shipment. /v1/ops/stuck looks where the step runs, and
    only asks Temporal about child workflows for orders that have them."""

    @activity.defn(name="dispatch_shipment")
    async def wms_down(req: DispatchRequest) -> DispatchResult:
        raise RuntimeError("WMS down for maintenance")

    name = f"stuck-wms-{workflow_type}"
    replace = {"dispatch_shipment": wms_down}
    async with custom_stack(system, name, replace, order_workflow=workflow_type) as http:
        _, sku = await stocked(http, 1)
        order = await submit(http, order_body([(sku, 1)]))

        async def stuck() -> list[dict[str, Any]]:
            items = (await http.get("/v1/ops/stuck")).json()["items"]
            return [i for i in items if i["order_id"] == order["id"]]

        try:
            (item,) = await _until(stuck, within=40)
            assert item["kind"] == "retrying"
            assert item["activity"] == "dispatch_shipment"
            assert item["attempt"] >= 3
            assert "WMS down for maintenance" in item["last_error"]
            assert item["workflow_id"] == runs_dispatch.format(id=order["id"])
        finally:
            await system.client.get_workflow_handle(f"order-{order['id']}").terminate()
