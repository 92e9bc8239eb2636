"""How the routing strategies compare on the live orders (docs/intelligence-routing.md):
per strategy, what it would have chosen for every order allocated, next to what was
chosen. Admin, operators, and partner keys holding ``reports:read``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.deps import EngineDep, JsonRoute, Principal, require_scope
from api.errors import Problem
from api.schemas import problems
from api.schemas.insights_routing import OrderComparison, RoutingInsights
from oms.domain.text import CHANNEL_PATTERN
from oms.routing_insights import order_comparison, routing_report

router = APIRouter(
    prefix="/v1/insights",
    tags=["reports"],
    route_class=JsonRoute,
    responses=problems(401, 403, 422, 503),
)
Reader = Annotated[Principal, Depends(require_scope("reports:read", "operator"))]
Since = Annotated[
    str | None,
    Query(
        description="orders allocated from this instant (RFC 3339 date-time with offset); "
        "the last 7 days by default",
        json_schema_extra={"format": "date-time"},
    ),
]


def _since(since: str | None) -> datetime:
    if since is None:
        return datetime.now(UTC) - timedelta(days=7)
    try:
        parsed = datetime.fromisoformat(since.strip().upper())
        # An instant the database can hold (year 1 at +14:00 is before year 1 in UTC).
        moment = parsed.astimezone(UTC) if parsed.tzinfo is not None else None
    except (ValueError, OverflowError):
        moment = None
    if moment is None or moment.tzinfo is None:
        raise Problem(
            422,
            "since must be a date and time with its offset (RFC 3339)",
            kind="validation-error",
            errors=[{"field": "since", "message": "not a date-time with an offset"}],
        )
    return moment


@router.get("/routing", response_model=RoutingInsights, response_model_exclude_none=False)
async def routing_insights(
    caller: Reader,
    engine: EngineDep,
    since: Since = None,
    channel: Annotated[
        str | None, Query(pattern=CHANNEL_PATTERN, description="one channel; all by default")
    ] = None,
    orders: Annotated[
        int, Query(ge=0, le=1000, description="also the N newest orders, each compared")
    ] = 0,
) -> Any:
    """Each strategy (nearest, priority, fewest_shipments, fastest, cheapest, balanced)
    over the orders allocated since ``since``: on how many orders it was compared, the
    mean expected delivery days and shipping cost it would have given, its splits, how
    often it chose and how often it would have chosen the same warehouses; the chosen
    allocations' own figures."""
    return await routing_report(engine, _since(since), channel, orders)


@router.get(
    "/routing/orders/{order_id}",
    response_model=OrderComparison,
    responses=problems(404, _404="No comparison for this order (``not-found``)."),
)
async def routing_of_order(
    order_id: str,
    caller: Reader,
    engine: EngineDep,
) -> Any:
    """One order's first allocation: the strategy that chose, and what every strategy
    would have chosen from the same stock, with its expected days and cost."""
    found = await order_comparison(engine, order_id)
    if found is None:
        raise Problem(404, f"no routing comparison for order {order_id}", kind="not-found")
    return found
