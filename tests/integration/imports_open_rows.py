"""Open imported orders as the import's writer stores them, for the starter's tests: an
``orders`` row in ``received`` with only its seq 0 on the timeline, no payment token, and
the view (``OrderView``'s shape) carrying its ``imported`` part."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import text

from oms.domain.ids import order_id_for
from oms.domain.messages import (
    Address,
    Customer,
    ImportedStage,
    OrderLine,
    OrderView,
    PaymentView,
    Totals,
)
from tests.integration.helpers import unique

_ORDER = text(
    "INSERT INTO orders (id, channel, external_id, request_hash, customer_id, status, "
    "last_seq, view, payment_token, created_at, updated_at) VALUES (:id, :channel, :ext, "
    "'imported', :customer, 'received', 0, CAST(:view AS jsonb), NULL, :at, :at)"
)
_FIRST_EVENT = text(
    "INSERT INTO order_events (order_id, seq, type, status, data, created_at) "
    "VALUES (:id, 0, 'order_imported', 'received', CAST(:data AS jsonb), :at)"
)


def imported_view(
    channel: str,
    lines: list[tuple[str, int]],
    stage: str,
    *,
    warehouse_id: str | None = None,
    tracking_number: str | None = None,
    carrier: str | None = None,
    unit_price: str = "12.50",
    age_days: float = 3,
) -> OrderView:
    """An open order as the old system had it, ``age_days`` old, paid in full there."""
    external_id = unique("old")
    created = (datetime.now(UTC) - timedelta(days=age_days)).isoformat()
    total = f"{sum(Decimal(unit_price) * q for _, q in lines):.2f}"
    return OrderView(
        id=order_id_for(channel, external_id),
        channel=channel,
        external_id=external_id,
        status="received",
        customer=Customer(unique("cust"), "grace@example.com", "Grace Hopper"),
        shipping_address=Address("Grace Hopper", "2 Compiler Way", "Hamburg", "20095", "DE"),
        currency="EUR",
        lines=[OrderLine(sku, q, unit_price) for sku, q in lines],
        totals=Totals(total, total),
        payment=PaymentView("imported"),
        created_at=created,
        updated_at=created,
        imported=ImportedStage(
            stage,
            source_status={"paid": "PAID", "reserved": "ALLOCATED"}.get(stage, "SHIPPED"),
            warehouse_id=warehouse_id,
            tracking_number=tracking_number,
            carrier=carrier,
            paid=total,
            payment_reference=f"old-pay-{external_id}",
            shipped_at=created if stage == "dispatched" else None,
            imported_at=datetime.now(UTC).isoformat(),
            run="test-run",
            source_system="legacy-erp",
        ),
    )


async def insert_open(engine: Any, *views: OrderView) -> list[str]:
    """The rows of ``views``, written as the import writes open orders; their ids."""
    async with engine.begin() as conn:
        for view in views:
            at = datetime.fromisoformat(view.created_at)
            await conn.execute(
                _ORDER,
                {
                    "id": view.id,
                    "channel": view.channel,
                    "ext": view.external_id,
                    "customer": view.customer.id,
                    "view": json.dumps(asdict(view)),
                    "at": at,
                },
            )
            data = json.dumps({"run": "test-run", "stage": view.imported and view.imported.stage})
            await conn.execute(_FIRST_EVENT, {"id": view.id, "data": data, "at": at})
    return [v.id for v in views]


async def keep_history(system: Any, order_id: str, name: str) -> None:
    """With ``OMS_RECORD_HISTORIES=<folder>``, save the order's history there as
    ``<name>.json`` (how the ``v9-imported-*`` replay histories were recorded)."""
    folder = os.environ.get("OMS_RECORD_HISTORIES")
    if not folder:
        return
    history = await system.client.get_workflow_handle(f"order-{order_id}").fetch_history()
    Path(folder).mkdir(parents=True, exist_ok=True)
    (Path(folder) / f"{name}.json").write_text(history.to_json())
