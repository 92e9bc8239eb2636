"""Exception alerts for operators: list them, acknowledge them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from api.deps import EngineDep, JsonRoute, Operator
from api.errors import Problem
from api.orders_read import SEQ_CURSOR, decode_seq_cursor, encode_seq_cursor
from api.schemas import Note, Strict, Text, problems
from oms.alerts import acknowledge, list_alerts

router = APIRouter(
    prefix="/v1/alerts",
    tags=["alerts"],
    route_class=JsonRoute,
    responses=problems(401, 403, 422, 503),
)


class AlertAck(Strict):
    by: Text | None = None
    note: Note | None = None


@router.get("")
async def read_alerts(
    caller: Operator,
    engine: EngineDep,
    status: Literal["open", "acknowledged"] | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20, pattern=SEQ_CURSOR)] = None,
) -> dict[str, Any]:
    """Newest first, ``{items, next_cursor}`` like the other lists."""
    before = decode_seq_cursor(cursor) if cursor else None
    rows = await list_alerts(engine, status, limit + 1, before)
    page = rows[:limit]
    more = len(rows) > limit
    return {"items": page, "next_cursor": encode_seq_cursor(page[-1]["id"]) if more else None}


@router.post("/{alert_id}/ack", responses=problems(404))
async def acknowledge_alert(
    alert_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    caller: Operator,
    engine: EngineDep,
    body: AlertAck | None = None,
) -> dict[str, Any]:
    """Acknowledge an alert (again: it stays as first acknowledged)."""
    body = body or AlertAck()
    alert = await acknowledge(engine, alert_id, body.by or caller.name, body.note)
    if alert is None:
        raise Problem(404, f"no alert {alert_id}", kind="not-found")
    return alert
