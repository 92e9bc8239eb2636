"""What operators must look at: stuck and late orders, stale holds, silent shipments, and
the numbers. Read from the read model, the alerts and Temporal's description of each
workflow (pending activities, their attempts and last errors)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from temporalio.client import Client

from api.deps import EngineDep, JsonRoute, Operator, SettingsDep
from api.order_actions import retrying_steps
from api.schemas import problems
from oms.domain.ids import order_workflow_id
from oms.settings import Settings
from oms.store import alerts, orders

router = APIRouter(
    prefix="/v1/ops",
    tags=["operations"],
    route_class=JsonRoute,
    responses=problems(401, 403, 503),
)
CANDIDATES = 100  # orders described per call, the longest without progress first


def web_ui(settings: Settings, workflow_id: str) -> str:
    return f"{settings.web_ui_url}/namespaces/{settings.temporal_namespace}/workflows/{workflow_id}"


def _item(settings: Settings, kind: str, row: Any, **extra: Any) -> dict[str, Any]:
    workflow_id = extra.pop("workflow_id", order_workflow_id(row.id))
    return {
        "kind": kind,
        "order_id": row.id,
        "status": row.status,
        **extra,
        "workflow_id": workflow_id,
        "web_ui": web_ui(settings, workflow_id),
    }


async def _retrying(client: Client, settings: Settings, row: Any) -> list[dict[str, Any]]:
    """Steps of this order (and, for orders with child shipments, of its open shipments)
    at attempt 3 or more, with the last error."""
    return [
        _item(
            settings,
            "retrying",
            row,
            activity=step.activity,
            attempt=step.attempt,
            last_error=step.last_error,
            workflow_id=step.workflow_id,
        )
        for step in await retrying_steps(client, row)
    ]


@router.get("/stuck")
async def read_stuck(
    caller: Operator, engine: EngineDep, settings: SettingsDep, request: Request
) -> dict[str, Any]:
    """Orders whose step keeps failing (attempt 3 or more, with the last error), holds
    waiting past ``OMS_HOLD_STALE_S``, late orders and silent shipments; each links to its
    workflow in the Web UI."""
    async with engine.connect() as conn:
        quiet, stale, late = await orders.needing_attention(conn, CANDIDATES, settings.hold_stale_s)
        silent = await alerts.silent_shipments(conn)
    items: list[dict[str, Any]] = []
    client = await request.app.state.temporal.get()
    if client is not None:
        found = await asyncio.gather(*(_retrying(client, settings, row) for row in quiet))
        items += [item for per_order in found for item in per_order]
    items += [
        _item(
            settings,
            "hold_stale",
            r,
            reasons=r.view["hold"]["reasons"],
            since=r.view["hold"]["since"],
        )
        for r in stale
    ]
    items += [_item(settings, "late", r) for r in late]
    for r in silent:
        item = _item(settings, "shipment_silent", _Row(r.order_id, r.status), **r.detail)
        # The order's workflow follows the shipment (or, for an order started before the
        # lean order, links to the shipment's own workflow).
        item["shipment_id"] = r.subject
        items.append(item)
    return {"items": items, "temporal": "ok" if client is not None else "unavailable"}


class _Row:
    def __init__(self, order_id: str, status: str) -> None:
        self.id = order_id
        self.status = status


@router.get("/summary")
async def read_summary(caller: Operator, engine: EngineDep) -> dict[str, Any]:
    """Counts per status, holds waiting and the oldest, late orders, open alerts."""
    async with engine.connect() as conn:
        by_status, holds, late = await orders.counts(conn)
    open_alerts = await alerts.open_counts(engine)
    return {
        "orders_by_status": by_status,
        "holds": {"waiting": int(holds.n), "oldest_since": holds.oldest},
        "late": late,
        "open_alerts": {"total": sum(open_alerts.values()), "by_kind": open_alerts},
    }
