"""The books of an ``oms chaos`` run, read from the database and Temporal once every order
has ended: payments (one authorization, captures within the total and only after a shipment
left, voids for what failed), stock (on hand + shipped = the start, reserved = the open
reservations) and the read model against Temporal."""

from __future__ import annotations

import asyncio
import hashlib
import time
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

TERMINAL = ("delivered", "cancelled", "failed")
LEFT = ("shipped", "in_transit", "out_for_delivery", "delivered")


def say(message: str) -> None:
    print(f"[chaos] {message}", flush=True)


async def retrying(engine: AsyncEngine, sql: str, params: dict[str, Any]) -> list[Any]:
    for attempt in range(60):
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(text(sql), params)).all())
        except Exception:  # PostgreSQL restarting: wait, as any client would
            if attempt == 59:
                raise
            await asyncio.sleep(1)
    return []


async def settle(engine: AsyncEngine, ids: list[str], timeout_s: float) -> list[Any]:
    deadline = time.monotonic() + timeout_s
    last_report = 0.0
    while True:
        rows = await retrying(
            engine,
            "SELECT id, status FROM orders WHERE id = ANY(:ids) AND status <> ALL(:done)",
            {"ids": ids, "done": list(TERMINAL)},
        )
        if not rows or time.monotonic() > deadline:
            return rows
        if time.monotonic() - last_report > 15:
            say(f"waiting for {len(rows)} orders to end")
            last_report = time.monotonic()
        await asyncio.sleep(2)


def _auth_id(order_id: str) -> str:
    # The sandbox gateway names an authorization after its idempotency key.
    return "auth_" + hashlib.sha256(f"{order_id}-authorize".encode()).hexdigest()[:16]


async def check_payments(engine: AsyncEngine, ids: list[str]) -> list[str]:
    problems: list[str] = []
    orders = await retrying(
        engine,
        "SELECT id, status, (view->'totals'->>'total')::numeric AS total FROM orders "
        "WHERE id = ANY(:ids)",
        {"ids": ids},
    )
    ledger = await retrying(
        engine,
        "SELECT order_id, kind, status, amount FROM payments WHERE order_id = ANY(:ids)",
        {"ids": ids},
    )
    left = await retrying(
        engine,
        "SELECT DISTINCT order_id FROM shipments WHERE order_id = ANY(:ids) "
        "AND status = ANY(:left)",
        {"ids": ids, "left": list(LEFT)},
    )
    gateway = await retrying(
        engine,
        "SELECT id, amount, captured, voided FROM sim_gateway_authorizations WHERE id = ANY(:auth)",
        {"auth": [_auth_id(i) for i in ids]},
    )
    shipped = {r.order_id for r in left}
    at_gateway = {r.id: r for r in gateway}
    for order in orders:
        rows = [r for r in ledger if r.order_id == order.id]
        auths = [r for r in rows if r.kind == "authorize" and r.status == "succeeded"]
        captured = sum(
            (r.amount for r in rows if r.kind == "capture" and r.status == "succeeded"), Decimal(0)
        )
        auth = at_gateway.get(_auth_id(order.id))
        if len(auths) > 1:
            problems.append(f"{order.id}: {len(auths)} settled authorizations")
        if captured > order.total or (auth is not None and auth.captured > order.total):
            problems.append(f"{order.id}: captured {captured} of a {order.total} order")
        if (captured > 0 or (auth is not None and auth.captured > 0)) and order.id not in shipped:
            problems.append(f"{order.id}: payment captured without a shipment that left")
        if order.status in ("failed", "cancelled") and auth is not None and not auth.voided:
            problems.append(f"{order.id}: {order.status} but its authorization is not voided")
    return problems


async def snapshot_stock(engine: AsyncEngine, skus: list[str]) -> dict[tuple[str, str], int]:
    rows = await retrying(
        engine,
        "SELECT warehouse_id, sku, on_hand FROM stock WHERE sku = ANY(:skus)",
        {"skus": skus},
    )
    return {(r.warehouse_id, r.sku): r.on_hand for r in rows}


async def check_stock(
    engine: AsyncEngine, skus: list[str], initial: dict[tuple[str, str], int]
) -> list[str]:
    problems = []
    stock = await retrying(
        engine,
        "SELECT warehouse_id, sku, on_hand, reserved FROM stock WHERE sku = ANY(:skus)",
        {"skus": skus},
    )
    sums = await retrying(
        engine,
        "SELECT warehouse_id, sku, "
        "COALESCE(SUM(quantity) FILTER (WHERE status = 'committed'), 0) AS shipped, "
        "COALESCE(SUM(quantity) FILTER (WHERE status = 'held'), 0) AS held "
        "FROM reservations WHERE sku = ANY(:skus) GROUP BY warehouse_id, sku",
        {"skus": skus},
    )
    by_key = {(r.warehouse_id, r.sku): r for r in sums}
    for row in stock:
        key = (row.warehouse_id, row.sku)
        shipped = by_key[key].shipped if key in by_key else 0
        held = by_key[key].held if key in by_key else 0
        if initial.get(key, 0) != row.on_hand + shipped:
            problems.append(
                f"{row.sku}@{row.warehouse_id}: started with {initial.get(key)}, "
                f"now {row.on_hand} on hand + {shipped} shipped"
            )
        if row.reserved != held:
            problems.append(
                f"{row.sku}@{row.warehouse_id}: reserved {row.reserved}, open reservations {held}"
            )
    return problems


async def check_temporal(temporal_address: str, engine: AsyncEngine, ids: list[str]) -> list[str]:
    from temporalio.client import Client

    from oms.domain.search_attributes import ORDER_STATUS

    client = await Client.connect(temporal_address)
    rows = await retrying(
        engine, "SELECT id, status FROM orders WHERE id = ANY(:ids)", {"ids": ids}
    )
    problems = [f"{i}: accepted but not in the read model" for i in set(ids) - {r.id for r in rows}]
    for row in rows:
        try:
            described = await client.get_workflow_handle(f"order-{row.id}").describe()
        except Exception as exc:
            problems.append(f"{row.id}: no workflow in Temporal ({type(exc).__name__})")
            continue
        in_temporal = described.typed_search_attributes.get(ORDER_STATUS)
        if in_temporal != row.status:
            problems.append(f"{row.id}: read model says {row.status}, Temporal {in_temporal}")
    return problems
