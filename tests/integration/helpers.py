"""Helpers for integration tests: unique warehouses and SKUs, orders, waiting on status."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import text

TERMINAL = {"delivered", "cancelled", "failed"}
# How often a test asks the API again while it waits for an order: often enough that a
# test ends within a few hundredths of a second of its order (some 120 waits a session).
POLL_S = 0.05


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def add_warehouse(http: httpx.AsyncClient, priority: int = 100, country: str = "DE") -> str:
    wid = unique("wh")
    response = await http.post(
        "/v1/warehouses",
        json={
            "id": wid,
            "name": f"Warehouse {wid}",
            "country": country,
            "lat": 52.5,
            "lon": 13.4,
            "priority": priority,
        },
    )
    assert response.status_code == 201, response.text
    return wid


async def set_stock(http: httpx.AsyncClient, warehouse_id: str, sku: str, on_hand: int) -> None:
    response = await http.put(f"/v1/stock/{warehouse_id}/{sku}", json={"on_hand": on_hand})
    assert response.status_code == 200, response.text


async def stocked(
    http: httpx.AsyncClient, on_hand: int, priority: int = 100, prefix: str = "SKU"
) -> tuple[str, str]:
    """A new warehouse holding ``on_hand`` units of a new SKU: (warehouse id, sku)."""
    warehouse_id = await add_warehouse(http, priority=priority)
    sku = unique(prefix)
    await set_stock(http, warehouse_id, sku, on_hand)
    return warehouse_id, sku


def order_body(
    lines: list[tuple[str, int]] | list[tuple[str, int, str]],
    *,
    channel: str = "webshop",
    token: str = "tok_ok",
    currency: str = "EUR",
    external_id: str | None = None,
    customer_id: str = "cust-1",
) -> dict[str, Any]:
    return {
        "channel": channel,
        "external_id": external_id or unique("ext"),
        "customer": {"id": customer_id, "email": "ada@example.com", "name": "Ada Lovelace"},
        "shipping_address": {
            "name": "Ada Lovelace",
            "line1": "1 Analytical St",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
        },
        "currency": currency,
        "lines": [
            {
                "sku": line[0],
                "quantity": line[1],
                "unit_price": line[2] if len(line) > 2 else "9.99",
            }  # type: ignore[misc]
            for line in lines
        ],
        "payment": {"method": "card", "token": token},
    }


async def submit(http: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = await http.post("/v1/orders", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()  # type: ignore[no-any-return]


async def wait_for_status(
    http: httpx.AsyncClient, order_id: str, statuses: set[str], within: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    order: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await http.get(f"/v1/orders/{order_id}")
        assert response.status_code == 200, response.text
        order = response.json()
        if order["status"] in statuses:
            return order
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"order {order_id} stayed {order.get('status')}, wanted {statuses}")


async def wait_for_read_model(
    http: httpx.AsyncClient, order_id: str, status: str, within: float = 30
) -> None:
    """Wait until the list endpoint (the read model) shows ``status`` for the order."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        response = await http.get("/v1/orders", params={"status": status, "limit": 200})
        if any(o["id"] == order_id for o in response.json()["items"]):
            return
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"read model never showed {order_id} as {status}")


async def recorded_without_workflow(
    system: Any, body: dict[str, Any], status: str, last_seq: int
) -> str:
    """An order row as if its workflow had never started (an API crash right after the
    insert) or had been dropped by Temporal's retention after it finished."""
    import json
    from dataclasses import asdict
    from datetime import UTC, datetime

    from api.intake import build_view, request_hash
    from api.schemas import OrderCreate
    from oms.domain.ids import order_id_for

    parsed = OrderCreate.model_validate(body)
    view = build_view(parsed, order_id_for(parsed.channel, parsed.external_id), datetime.now(UTC))
    view.status = status
    async with system.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO orders (id, channel, external_id, request_hash, customer_id, status, "
                "last_seq, view, payment_token, created_at, updated_at) VALUES (:id, :c, :e, :h, "
                ":cu, :s, :seq, CAST(:v AS jsonb), :token, now(), now())"
            ),
            {
                "id": view.id,
                "c": parsed.channel,
                "e": parsed.external_id,
                "h": request_hash(parsed),
                "cu": parsed.customer.id,
                "s": status,
                "seq": last_seq,
                "v": json.dumps(asdict(view)),
                "token": parsed.payment.token,
            },
        )
    return view.id


async def has_workflow(system: Any, order_id: str) -> bool:
    from temporalio.service import RPCError

    try:
        await system.client.get_workflow_handle(f"order-{order_id}").describe()
    except RPCError:
        return False
    return True


async def stock_rows(engine: Any, on_hand: int, extra_skus: int = 0) -> tuple[str, list[str]]:
    """A new warehouse and stock rows for new SKUs, written straight to the database (for
    tests that call activities without the API): (warehouse id, skus)."""
    from sqlalchemy import text

    warehouse_id = unique("wh")
    skus = [unique("SKU") for _ in range(1 + extra_skus)]
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO warehouses (id, name, country, lat, lon, priority, created_at) "
                "VALUES (:w, 'Direct', 'DE', 52.5, 13.4, 1, now())"
            ),
            {"w": warehouse_id},
        )
        await conn.execute(
            text(
                "INSERT INTO stock (warehouse_id, sku, on_hand, reserved, updated_at) "
                "VALUES (:w, :sku, :n, 0, now())"
            ),
            [{"w": warehouse_id, "sku": sku, "n": on_hand} for sku in skus],
        )
    return warehouse_id, skus


def real_activity(system: Any, name: str) -> Any:
    """The worker's own activity named ``name``, for a test that wraps it."""
    from worker.main import build_activities

    found = build_activities(system.engine, system.settings)
    return next(fn for fn in found if fn.__name__ == name)
