"""What operators must look at: stuck and late orders, stale holds, silent shipments, and
the numbers. Read from the read model, the alerts and Temporal's description of each
workflow (pending activities, their attempts and last errors)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from temporalio.client import Client

from api.deps import EngineDep, JsonRoute, Operator, SettingsDep
from api.schemas import problems
from oms.contract import ORDER_WITH_SHIPMENT_CHILDREN
from oms.domain.ids import order_workflow_id, shipment_workflow_id
from oms.settings import Settings
from oms.store import alerts, orders

router = APIRouter(
    prefix="/v1/ops",
    tags=["operations"],
    route_class=JsonRoute,
    responses=problems(401, 403, 503),
)
RETRYING_FROM_ATTEMPT = 3
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


# The one type whose shipments run as child workflows (``shipment-<id>-<n>``); orders of
# the later types follow their shipments themselves.
CHILD_SHIPMENTS_TYPE = ORDER_WITH_SHIPMENT_CHILDREN


async def _describe(client: Client, workflow_id: str) -> Any:
    try:
        return await client.get_workflow_handle(workflow_id).describe(
            rpc_timeout=timedelta(seconds=3)
        )
    except Exception:  # gone, or Temporal slow: not stuck in a way we can tell here
        return None


async def _retrying(client: Client, settings: Settings, row: Any) -> list[dict[str, Any]]:
    """Steps of this order (and, for orders with child shipments, of its open shipments)
    at attempt 3 or more, with the last error."""
    order = await _describe(client, order_workflow_id(row.id))
    if order is None:
        return []
    described = [(order_workflow_id(row.id), order)]
    if order.workflow_type == CHILD_SHIPMENTS_TYPE:
        for s in row.view.get("shipments", []):
            if s.get("status") in ("pending", "dispatched"):
                workflow_id = shipment_workflow_id(s["id"])
                shipment = await _describe(client, workflow_id)
                if shipment is not None:
                    described.append((workflow_id, shipment))
    found = []
    for workflow_id, description in described:
        for pending in description.raw_description.pending_activities:
            if pending.attempt < RETRYING_FROM_ATTEMPT:
                continue
            error = await client.data_converter.decode_failure(pending.last_failure)
            found.append(
                _item(
                    settings,
                    "retrying",
                    row,
                    activity=pending.activity_type.name,
                    attempt=pending.attempt,
                    last_error=str(error)[:500],
                    workflow_id=workflow_id,
                )
            )
    return found


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
