"""Imported orders for the import tests: valid ``Order`` values as the rules make them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import text

from oms.domain.ids import order_id_for
from oms.imports.model import ImportStatus, Line, Order, Where

S = ImportStatus


def imported(external_id: str, status: ImportStatus = S.DELIVERED, **kw: Any) -> Order:
    """A valid imported order (delivered by default: paid, shipped, delivered)."""
    order = Order(
        where=Where("orders.csv", 2),
        external_id=external_id,
        status=status,
        source_status={"delivered": "fulfilled", "cancelled": "voided"}.get(status, status),
        created_at="2024-03-01T10:00:00+00:00",
        currency="EUR",
        lines=[Line("SKU-IMP-1", 2, "10.00"), Line("SKU-IMP-2", 1, "5.50")],
        subtotal="25.50",
        shipping="4.90",
        discount="0.40",
        total="30.00",
        paid="30.00",
        paid_at="2024-03-01T10:05:00+00:00",
        shipped_at="2024-03-02T09:00:00+00:00",
        delivered_at="2024-03-04T12:00:00+00:00",
        payment_method="card",
        payment_reference=f"ch_{external_id}",
        customer_id=f"cust-{external_id}",
        email=f"{external_id.lower()}@example.com",
        customer_name="Ada Lovelace",
        phone="+49 30 1234567",
        ship_name="Ada Lovelace",
        ship_line1="1 Analytical St",
        ship_city="Berlin",
        ship_postal_code="10115",
        ship_country="DE",
        tracking_number=f"TRK-{external_id}",
        carrier="DHL",
        warehouse_id="old-wh",
    )
    if status is S.CANCELLED:
        order = replace(
            order,
            paid="0",
            paid_at=None,
            shipped_at=None,
            delivered_at=None,
            tracking_number=None,
            carrier=None,
            cancelled_at="2024-03-01T11:00:00+00:00",
            cancelled_by="customer",
            cancel_reason="changed their mind",
        )
    elif status is S.REFUNDED:
        order = replace(order, refunded="30.00", cancelled_at="2024-03-06T09:00:00+00:00")
    elif status in (S.PAID, S.RESERVED, S.DISPATCHED):
        order = replace(order, delivered_at=None)
        if status is not S.DISPATCHED:
            order = replace(order, shipped_at=None, tracking_number=None, carrier=None)
    return replace(order, **kw)


def oid(channel: str, external_id: str) -> str:
    return order_id_for(channel, external_id)


async def rows(engine: Any, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def snapshot(engine: Any, ids: list[str]) -> dict[str, list[Any]]:
    """Everything the writer wrote for these orders, for before/after comparisons."""
    p = {"ids": ids}
    q = {
        "orders": "SELECT id, status, last_seq, view, request_hash, customer_id, created_at "
        "FROM orders WHERE id = ANY(:ids) ORDER BY id",
        "events": "SELECT order_id, seq, type, status, data, created_at FROM order_events "
        "WHERE order_id = ANY(:ids) ORDER BY order_id, seq",
        "payments": "SELECT order_id, kind, status, amount, currency, idempotency_key "
        "FROM payments WHERE order_id = ANY(:ids) ORDER BY order_id, idempotency_key",
        "shipments": "SELECT id, order_id, status, tracking_number, carrier FROM shipments "
        "WHERE order_id = ANY(:ids) ORDER BY id",
        "facts": "SELECT * FROM order_kpi_facts WHERE order_id = ANY(:ids) ORDER BY order_id",
        "skus": "SELECT * FROM order_skus WHERE order_id = ANY(:ids) ORDER BY order_id, sku",
    }
    return {k: [tuple(r) for r in await rows(engine, sql, **p)] for k, sql in q.items()}


async def facts_from_backfill(engine: Any, ids: list[str]) -> list[tuple[Any, ...]]:
    """The KPI facts of these orders as ``oms_kpi_facts_backfill()`` makes them from their
    rows (theirs dropped first, then made again), in a transaction rolled back."""
    async with engine.connect() as conn:
        async with conn.begin() as tx:
            await conn.execute(
                text("DELETE FROM order_kpi_facts WHERE order_id = ANY(:ids)"), {"ids": ids}
            )
            await conn.execute(text("SELECT oms_kpi_facts_backfill()"))
            found = (
                await conn.execute(
                    text(
                        "SELECT * FROM order_kpi_facts WHERE order_id = ANY(:ids) ORDER BY order_id"
                    ),
                    {"ids": ids},
                )
            ).all()
            await tx.rollback()
    return [tuple(r) for r in found]
