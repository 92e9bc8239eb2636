"""Insights: for managers and warehouse leads, the products rising fastest and the
replenishment hints per warehouse and SKU from the latest nightly forecast, stock-out
risks first; the hints as CSV; and how the routing strategies compare on the orders
allocated in the last 7 days. The methods are in docs/intelligence-forecast.md and
docs/intelligence-routing.md."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.console.web import UserDep, render
from api.routes.insights import hints_csv
from oms.insights.hints import STATUSES
from oms.insights.run import hot_products, replenishment
from oms.routing_insights import routing_report

router = APIRouter(prefix="/console", include_in_schema=False)

_Text = Annotated[str | None, Query(max_length=100)]
_NAME = re.compile(r"^[A-Za-z0-9._:\-]*$")
HOT_SHOWN = 20
HINTS_SHOWN = 200
HOT_MIN_UNITS = 7.0
ROUTING_DAYS = 7


def _filters(
    warehouse: str | None, sku: str | None, status: str | None
) -> tuple[str | None, str | None, str | None, str | None]:
    """The filters as given (empty: none), and what is wrong with them, if anything."""
    warehouse, sku, status = warehouse or None, sku or None, status or None
    for value in (warehouse, sku):
        if value is not None and not _NAME.match(value):
            return warehouse, sku, status, "A warehouse or SKU is letters, digits and . _ : -"
    if status is not None and status not in STATUSES:
        return warehouse, sku, status, "No such status."
    return warehouse, sku, status, None


@router.get("/insights")
async def insights_page(
    request: Request,
    user: UserDep,
    warehouse: _Text = None,
    sku: _Text = None,
    status: _Text = None,
) -> Response:
    from api.console.web import translate

    warehouse, sku, status, error = _filters(warehouse, sku, status)
    context: dict[str, Any] = {
        "warehouse": warehouse or "",
        "sku": sku or "",
        "status": status or "",
        "statuses": STATUSES,
    }
    if error:
        return render(
            request,
            user,
            "insights.html",
            status_code=422,
            error=translate(request, error),
            run_date=None,
            hot=[],
            hints=[],
            counts={},
            more=0,
            routing=None,
            **context,
        )
    engine, settings = request.app.state.engine, request.app.state.settings
    run_date, hints = await replenishment(engine, settings, warehouse, sku)
    counts = {s: sum(1 for h in hints if h.status == s) for s in STATUSES}
    if status:
        hints = [h for h in hints if h.status == status]
    _, hot = await hot_products(engine, HOT_MIN_UNITS, HOT_SHOWN)
    since = datetime.now(UTC) - timedelta(days=ROUTING_DAYS)
    routing = await routing_report(engine, since)
    return render(
        request,
        user,
        "insights.html",
        error=None,
        run_date=run_date.isoformat() if run_date else None,
        hot=hot,
        hints=hints[:HINTS_SHOWN],
        more=max(len(hints) - HINTS_SHOWN, 0),
        counts=counts,
        routing=routing,
        routing_days=ROUTING_DAYS,
        **context,
    )


@router.get("/insights.csv")
async def insights_csv(
    request: Request,
    user: UserDep,
    warehouse: _Text = None,
    sku: _Text = None,
    status: _Text = None,
) -> Response:
    warehouse, sku, status, error = _filters(warehouse, sku, status)
    if error:
        return Response(error, status_code=422, media_type="text/plain")
    engine, settings = request.app.state.engine, request.app.state.settings
    run_date, hints = await replenishment(engine, settings, warehouse, sku)
    if status:
        hints = [h for h in hints if h.status == status]
    name = f"replenishment-{run_date.isoformat() if run_date else 'none'}.csv"
    return Response(
        hints_csv(hints),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
