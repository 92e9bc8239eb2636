"""Pushed channel orders on the real stack: a platform's own webhook, signed its own way,
becomes an order that runs to the end and is reported back to the platform; bad
signatures and redeliveries change nothing; an unpaid order waits for its payment; a
refund asked before dispatch holds the order and the platform's cancel ends it; a shadow
channel decides without acting."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from typing import Any

import httpx
from sqlalchemy import text

from oms.channels.signatures import sign
from tests.channels.conftest import load
from tests.conftest import ADMIN_KEY, custom_stack
from tests.integration.helpers import stocked, unique, wait_for_status

SECRET = "shpss_test_secret"


def shopify_order(sku: str, *, state: str = "paid", updated: str = "10:31:12") -> dict[str, Any]:
    """The Shopify sample with its own id, our SKU on every line, and ``state``."""
    order = copy.deepcopy(load("shopify/paid_multi_line"))
    order["id"] = uuid.uuid4().int % 10**13
    for line in order["line_items"]:
        line["sku"] = sku
    order["updated_at"] = f"2026-11-10T{updated}-05:00"
    if state == "unpaid":
        order["financial_status"] = "pending"
    elif state == "refund_requested":
        order["financial_status"] = "partially_refunded"
    elif state == "cancelled":
        order["cancelled_at"] = order["updated_at"]
        order["financial_status"] = "voided"
    return order


async def add_channel(http: httpx.AsyncClient, system: Any, **extra: Any) -> str:
    name = unique("shop").lower()
    body = {
        "name": name,
        "platform": "shopify",
        "intake": "push",
        "mode": "live",
        "secret": SECRET,
        "credentials": {"base_url": f"http://127.0.0.1:{system.settings.sim_port}/shopify"},
        **extra,
    }
    response = await http.post("/v1/channels", json=body)
    assert response.status_code == 201, response.text
    return name


async def push(
    http: httpx.AsyncClient, channel: str, order: dict[str, Any], **kw: Any
) -> httpx.Response:
    raw = json.dumps(order).encode()
    headers = sign("shopify", raw, kw.pop("secret", SECRET), **kw)
    # No API key: the platform's signature is the authentication.
    return await http.post(
        f"/v1/channels/{channel}/webhooks",
        content=raw,
        headers={**headers, "Authorization": ""},
    )


async def count_orders(system: Any, channel: str) -> int:
    async with system.engine.connect() as conn:
        query = text("SELECT count(*) FROM orders WHERE channel = :c")
        return int((await conn.execute(query, {"c": channel})).scalar_one())


async def feedback(system: Any, external_id: str, within: float = 20.0) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{system.settings.sim_port}/sim/market/feedback"
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as sim:
        for _ in range(int(within / 0.2)):
            items = (await sim.get(url)).json()["feedback"]
            found = [f for f in items if str(f["order_id"]) == external_id and f["accepted"]]
            if found:
                return found
            await asyncio.sleep(0.2)
    return []


async def test_the_shopify_simulator_pushes_signed_orders_that_run_to_delivery_and_are_reported(
    admin, system
):
    """End to end with the marketplace simulator: it generates Shopify orders, pushes them
    signed to the channel's webhook URL; each becomes one order, delivered, with the
    platform's payment recorded and its shipment reported back to the platform."""
    _wh, sku = await stocked(admin, 50)
    channel = await add_channel(admin, system)
    sim_url = f"http://127.0.0.1:{system.settings.sim_port}/sim/market"
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as sim:
        target = {
            "platform": "shopify",
            "url": f"{system.api_url}/v1/channels/{channel}/webhooks",
            "secret": SECRET,
            "channel": channel,
        }
        made = await sim.post(f"{sim_url}/push-targets", json=target)
        assert made.status_code in (200, 201), made.text
        body = {
            "platform": "shopify",
            "count": 3,
            "seed": 7,
            "skus": [sku],
            "paid_ratio": 1.0,
            "unpaid_then_paid_ratio": 0.0,
            "closed_ratio": 0.0,
        }
        created = await sim.post(f"{sim_url}/orders", json=body)
        assert created.status_code == 201, created.text
        ids = [str(i) for i in created.json()["ids"]]
        try:
            orders = await _orders_of(admin, channel, len(ids))
            assert sorted(o["external_id"] for o in orders) == sorted(ids)
            for order in orders:
                done = await wait_for_status(admin, order["id"], {"delivered"})
                assert done["platform"]["platform"] == "shopify"
                assert done["platform"]["prepaid"] is True
                ledger = (await admin.get("/v1/payments", params={"order_id": done["id"]})).json()
                assert [(p["kind"], p["status"], p["amount"]) for p in ledger["items"]] == [
                    ("platform", "succeeded", done["totals"]["total"])
                ]
                assert await feedback(system, done["external_id"]), "not reported back"
        finally:
            await sim.delete(f"{sim_url}/push-targets/{made.json()['id']}")


async def _orders_of(
    http: httpx.AsyncClient, channel: str, count: int, within: float = 30.0
) -> list[dict[str, Any]]:
    for _ in range(int(within / 0.2)):
        items = (await http.get("/v1/orders", params={"channel": channel})).json()["items"]
        if len(items) >= count:
            return list(items)
        await asyncio.sleep(0.2)
    raise AssertionError(f"{channel}: fewer than {count} orders")


async def test_a_signed_shopify_order_keeps_the_platforms_money_to_the_cent(admin, system):
    _wh, sku = await stocked(admin, 20)
    channel = await add_channel(admin, system)
    order = shopify_order(sku)

    response = await push(admin, channel, order)

    assert response.status_code == 202, response.text
    taken = response.json()
    assert taken["outcome"] == "created"
    done = (await admin.get(f"/v1/orders/{taken['order_id']}")).json()
    assert done["external_id"] == str(order["id"])
    # 2 x 25.00 + 12.50, less 5.00, shipping 10.00, tax 4.99: the platform's own total.
    assert done["totals"] == {"subtotal": "62.50", "total": "72.49"}
    assert {a["kind"] for a in done["adjustments"]} == {"discount", "shipping", "tax"}
    # The platform does not know this made-up order: its refusal of the report is an
    # alert, and the order goes on to delivery.
    finished = await wait_for_status(admin, taken["order_id"], {"delivered"})
    events = (await admin.get(f"/v1/orders/{finished['id']}/events")).json()["items"]
    assert "platform_report_failed" in [e["type"] for e in events]


async def test_a_bad_signature_is_401_and_a_redelivery_is_taken_once(admin, system):
    _wh, sku = await stocked(admin, 20)
    channel = await add_channel(admin, system)
    order = shopify_order(sku)

    forged = await push(admin, channel, order, secret="not-the-secret")
    assert forged.status_code == 401
    assert forged.headers["content-type"] == "application/problem+json"
    assert await count_orders(system, channel) == 0

    first = await push(admin, channel, order, delivery_id="delivery-1")
    again = await push(admin, channel, order, delivery_id="delivery-1")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["duplicate"] is True
    assert again.json()["order_id"] == first.json()["order_id"]
    # The same order in another delivery (orders/updated with nothing new) is one order too.
    other = await push(admin, channel, order, delivery_id="delivery-2")
    assert other.status_code == 202 and other.json()["outcome"] == "unchanged"
    assert await count_orders(system, channel) == 1


async def test_an_order_the_oms_cannot_take_is_422_with_the_field_and_changes_nothing(
    admin, system
):
    channel = await add_channel(admin, system)
    order = shopify_order("NO-SUCH-SKU")

    response = await push(admin, channel, order)

    assert response.status_code == 422
    assert response.json()["type"].endswith("channel-order-invalid")
    assert response.json()["errors"][0]["field"] == "lines.0.sku"
    assert await count_orders(system, channel) == 0


async def test_an_unpaid_order_waits_in_received_until_the_platform_says_paid(admin, system):
    _wh, sku = await stocked(admin, 20)
    channel = await add_channel(admin, system)
    unpaid = shopify_order(sku, state="unpaid", updated="10:31:00")

    created = (await push(admin, channel, unpaid)).json()
    await asyncio.sleep(1.0)
    waiting = (await admin.get(f"/v1/orders/{created['order_id']}")).json()
    assert waiting["status"] == "received"
    events = (await admin.get(f"/v1/orders/{created['order_id']}/events")).json()["items"]
    assert "payment_awaited" in [e["type"] for e in events]

    paid = dict(unpaid, financial_status="paid", updated_at="2026-11-10T10:40:00-05:00")
    told = await push(admin, channel, paid, topic="orders/paid")
    assert told.json()["outcome"] == "updated"
    # A late copy of the unpaid state changes nothing.
    late = await push(admin, channel, unpaid, topic="orders/updated")
    assert late.json()["outcome"] == "unchanged"
    await wait_for_status(admin, created["order_id"], {"delivered"})


async def test_a_refund_before_dispatch_holds_the_order_and_the_platform_cancel_releases_its_stock(
    admin, system
):
    wh, sku = await stocked(admin, 20)
    async with custom_stack(system, unique("refund"), {}, release_delay_s=60.0) as http:
        channel = await add_channel(http, system)
        order = shopify_order(sku, updated="10:31:00")
        created = (await push(http, channel, order)).json()
        await wait_for_status(http, created["order_id"], {"reserved"})

        refund = shopify_order(sku, state="refund_requested", updated="10:35:00")
        refund["id"] = order["id"]
        await push(http, channel, refund, topic="orders/updated")
        held = await wait_for_status(http, created["order_id"], {"on_hold"})
        assert held["hold"]["reasons"] == ["refund_requested"]

        closed = shopify_order(sku, state="cancelled", updated="10:40:00")
        closed["id"] = order["id"]
        await push(http, channel, closed, topic="orders/cancelled")
        done = await wait_for_status(http, created["order_id"], {"cancelled"})
        assert done["cancellation"]["by"] == f"channel:{channel}"
        stock = (await http.get(f"/v1/stock/{sku}")).json()
        level = next(w for w in stock["warehouses"] if w["warehouse_id"] == wh)
        assert level["reserved"] == 0


async def test_a_shadow_channel_decides_without_charging_reserving_or_dispatching(admin, system):
    wh, sku = await stocked(admin, 20)
    channel = await add_channel(admin, system, mode="shadow")
    order = shopify_order(sku)

    created = (await push(admin, channel, order)).json()
    done = await wait_for_status(admin, created["order_id"], {"shadowed"})

    assert done["shadow"]["shipments"][0]["warehouse_id"] == wh
    assert done["shipments"] == []
    ledger = (await admin.get("/v1/payments", params={"order_id": done["id"]})).json()["items"]
    assert ledger == []
    stock = (await admin.get(f"/v1/stock/{sku}")).json()
    assert stock["available"] == 20
    listed = (await admin.get(f"/v1/channels/{channel}/shadow")).json()["items"]
    assert [i["external_id"] for i in listed] == [str(order["id"])]
    export = f"external_id,held,warehouses\n{order['id']},no,{wh}\n"
    compared = await admin.post(
        f"/v1/channels/{channel}/shadow/compare",
        content=export,
        headers={"Content-Type": "text/csv"},
    )
    assert compared.status_code == 200, compared.text
    assert compared.json()["agreement"]["warehouses"] == {
        "agreed": 1,
        "compared": 1,
        "rate": 1.0,
    }


async def test_the_raw_payload_is_kept_sealed_and_an_admin_can_read_it_back(admin, system):
    _wh, sku = await stocked(admin, 20)
    channel = await add_channel(admin, system)
    order = shopify_order(sku)
    taken = (await push(admin, channel, order)).json()

    async with system.engine.connect() as conn:
        query = text("SELECT payload FROM channel_orders WHERE order_id = :id")
        sealed = bytes((await conn.execute(query, {"id": taken["order_id"]})).scalar_one())
    # Sealed like the workflow histories' personal data: the buyer's email is not in it.
    assert order["email"].encode() not in sealed
    read = await admin.get(f"/v1/orders/{taken['order_id']}/platform")
    assert read.status_code == 200
    assert read.json()["payload"] == order
    assert read.json()["state"] == "paid"
    native = await submit_native(admin, sku)
    assert (await admin.get(f"/v1/orders/{native}/platform")).status_code == 404


async def submit_native(http: httpx.AsyncClient, sku: str) -> str:
    from tests.integration.helpers import order_body, submit

    return str((await submit(http, order_body([(sku, 1)])))["id"])


async def test_the_same_order_pushed_at_once_in_several_deliveries_is_one_order(admin, system):
    _wh, sku = await stocked(admin, 20)
    channel = await add_channel(admin, system)
    order = shopify_order(sku)

    answers = await asyncio.gather(
        *(push(admin, channel, order, delivery_id=f"burst-{n}") for n in range(6))
    )

    assert all(a.status_code == 202 for a in answers), [a.text for a in answers]
    assert len({a.json()["order_id"] for a in answers}) == 1
    assert await count_orders(system, channel) == 1
    await wait_for_status(admin, answers[0].json()["order_id"], {"delivered"})
