"""A shadow channel's decisions, and their comparison with the current system's
(``/v1/channels/{channel}/shadow``): how a business checks the OMS against the system it
runs today before it moves a channel over (docs/channel-orders.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api.deps import EngineDep, JsonRoute, Operator
from api.errors import Problem
from api.schemas import problems
from oms.channels.shadow import BadExport, compare, oms_decision, read_current
from oms.store import orders

router = APIRouter(prefix="/v1", tags=["channels"], route_class=JsonRoute)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Orders taken from this instant on (RFC 3339 with an offset); every one when absent.
Since = Annotated[
    str | None,
    Query(
        description="only orders taken from this instant (RFC 3339 date-time with offset)",
        json_schema_extra={"format": "date-time"},
    ),
]
MAX_EXPORT_BYTES = 20 * 1024 * 1024


@router.get(
    "/channels/{channel}/shadow",
    summary="What the OMS decided for a shadow channel's orders",
    responses=problems(401, 403, 422),
)
async def shadow_decisions(
    channel: str,
    caller: Operator,
    engine: EngineDep,
    since: Since = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    rows = await orders.shadowed(engine, channel, _moment(since), limit)
    return {
        "items": [
            {
                "order_id": r.id,
                "external_id": r.external_id,
                "created_at": r.created_at.isoformat(),
                "status": r.status,
                **r.shadow,
            }
            for r in rows
        ]
    }


@router.post(
    "/channels/{channel}/shadow/compare",
    summary="Set the shadow decisions against the current system's CSV export",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "CSV with `external_id` and any of `held` (yes/no) and "
            "`warehouses` (ids separated by `;`); rows of one order are merged.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
    responses=problems(401, 403, 413, 422),
)
async def compare_shadow(
    channel: str,
    request: Request,
    caller: Operator,
    engine: EngineDep,
    since: Since = None,
) -> dict[str, Any]:
    raw = await request.body()
    try:
        current = read_current(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise Problem(422, "the export is not UTF-8 text", kind="validation-error") from exc
    except BadExport as exc:
        raise Problem(422, str(exc), kind="validation-error") from exc
    rows = await orders.shadowed(engine, channel, _moment(since), 1_000_000)
    result = compare((oms_decision(r.external_id, r.shadow) for r in rows), current)
    return {
        "orders_compared": result.orders,
        "agreement": {
            aspect: {"agreed": agreed, "compared": compared, "rate": result.rate(aspect)}
            for aspect, (agreed, compared) in result.agreement.items()
        },
        "only_in_oms": result.only_oms[:1000],
        "only_in_current": result.only_current[:1000],
        "differences": [
            {"external_id": e, "aspect": a, "oms": ours, "current": theirs}
            for e, a, ours, theirs in result.differences[:1000]
        ],
    }


def _moment(since: str | None) -> datetime:
    """``since`` as an instant (RFC 3339, with its offset); the epoch when absent."""
    if since is None:
        return EPOCH
    try:
        moment = datetime.fromisoformat(since.strip().upper())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise Problem(
            422,
            "since must be a date and time with its offset (RFC 3339)",
            kind="validation-error",
            errors=[{"field": "since", "message": "not a date-time with an offset"}],
        )
    return moment
