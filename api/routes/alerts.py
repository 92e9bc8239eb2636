"""Exception alerts for operators: list them, acknowledge them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from activities.alerts import acknowledge, list_alerts
from api.deps import EngineDep, Operator
from api.errors import Problem
from api.orders_read import EVENTS_CURSOR, decode_events_cursor, encode_events_cursor
from api.schemas import problems

router = APIRouter(prefix="/v1/alerts", tags=["alerts"], responses=problems(401, 403, 422))


class AlertAck(BaseModel):
    by: Annotated[str | None, Field(min_length=1, max_length=128)] = None
    note: Annotated[str | None, Field(max_length=1000)] = None


@router.get("")
async def read_alerts(
    caller: Operator,
    engine: EngineDep,
    status: Literal["open", "acknowledged"] | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20, pattern=EVENTS_CURSOR)] = None,
) -> dict[str, Any]:
    """Newest first, ``{items, next_cursor}`` like the other lists."""
    before = decode_events_cursor(cursor) if cursor else None
    rows = await list_alerts(engine, status, limit + 1, before)
    page = rows[:limit]
    more = len(rows) > limit
    return {"items": page, "next_cursor": encode_events_cursor(page[-1]["id"]) if more else None}


@router.post("/{alert_id}/ack", responses=problems(404))
async def acknowledge_alert(
    alert_id: int, caller: Operator, engine: EngineDep, body: AlertAck | None = None
) -> dict[str, Any]:
    """Acknowledge an alert (again: it stays as first acknowledged)."""
    body = body or AlertAck()
    if not 0 < alert_id < 2**31:
        raise Problem(404, f"no alert {alert_id}", kind="not-found")
    alert = await acknowledge(engine, alert_id, body.by or caller.name, body.note)
    if alert is None:
        raise Problem(404, f"no alert {alert_id}", kind="not-found")
    return alert
