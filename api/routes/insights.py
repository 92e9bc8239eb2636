"""Demand insights from the latest nightly forecast (docs/intelligence-forecast.md): the
products rising fastest, and replenishment hints per warehouse and SKU (JSON or CSV).
The OMS orders nothing itself: these are hints for the people who do."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.deps import EngineDep, JsonRoute, Principal, SettingsDep, require_scope
from api.orders_read import SEQ_CURSOR, decode_seq_cursor
from api.schemas import problems
from api.schemas.insights import HotProducts, ReplenishmentPage
from oms.insights.hints import Hint
from oms.insights.run import hot_products, replenishment

router = APIRouter(
    prefix="/v1/insights",
    tags=["insights"],
    route_class=JsonRoute,
    responses=problems(401, 403, 422, 503),
)

# As the reports: admin, operators, and partner keys holding ``reports:read``.
InsightReader = Annotated[Principal, Depends(require_scope("reports:read", "operator"))]
_NAME = {"min_length": 1, "max_length": 100, "pattern": r"^[A-Za-z0-9._:\-]+$"}
CSV_COLUMNS = (
    "warehouse_id",
    "sku",
    "status",
    "on_hand",
    "reserved",
    "available",
    "daily_rate",
    "days_of_cover",
    "lead_time_days",
    "review_days",
    "service_level",
    "sigma",
    "safety_stock",
    "reorder_point",
    "order_up_to",
    "order_quantity",
    "demand_class",
    "method",
)


@router.get("/hot-products", response_model=HotProducts)
async def read_hot_products(
    caller: InsightReader,
    engine: EngineDep,
    limit: Annotated[int, Query(ge=1, le=200, description="SKUs at most")] = 20,
    min_units: Annotated[
        float,
        Query(
            ge=0,
            le=1_000_000,
            description="units a SKU sold in the last 28 days or is forecast in the next 7",
        ),
    ] = 7,
) -> Any:
    """SKUs whose forecast for the next 7 days rises fastest above their rate of the last
    28 days, with the evidence: the units of the last 7 and 28 days, both rates, the
    growth, the forecast and how it was made. Empty before the first forecast run."""
    run_date, items = await hot_products(engine, min_units, limit)
    return {
        "run_date": run_date.isoformat() if run_date else None,
        "items": [asdict(h) for h in items],
    }


def hints_csv(hints: list[Hint]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for h in hints:
        row = asdict(h)
        writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
    return out.getvalue()


def wants_csv(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


@router.get(
    "/replenishment",
    response_model=ReplenishmentPage,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def read_replenishment(
    request: Request,
    caller: InsightReader,
    engine: EngineDep,
    settings: SettingsDep,
    warehouse_id: Annotated[str | None, Query(**_NAME)] = None,
    sku: Annotated[str | None, Query(**_NAME)] = None,
    status: Literal["stockout_risk", "reorder", "ok"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[
        str | None,
        Query(max_length=20, pattern=SEQ_CURSOR, description="``next_cursor`` as it was given"),
    ] = None,
    format: Annotated[
        Literal["json", "csv"] | None,
        Query(description="csv: every matching row as CSV (also with Accept: text/csv)"),
    ] = None,
) -> Any:
    """Per warehouse and SKU from the latest forecast run: available stock, the forecast
    daily rate, days of cover, safety stock, reorder point, order-up-to level and the
    quantity to order, with ``status`` ``stockout_risk`` (runs out within the lead time)
    first, then ``reorder``, then ``ok``. ``{items, next_cursor}`` like the other lists;
    as CSV every matching row at once."""
    run_date, hints = await replenishment(engine, settings, warehouse_id, sku)
    if status is not None:
        hints = [h for h in hints if h.status == status]
    if wants_csv(request, format):
        day = run_date.isoformat() if run_date else "none"
        return Response(
            hints_csv(hints),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="replenishment-{day}.csv"'},
        )
    start = decode_seq_cursor(cursor) if cursor else 0
    page = hints[start : start + limit]
    more = start + limit < len(hints)
    return {
        "run_date": run_date.isoformat() if run_date else None,
        "items": [asdict(h) for h in page],
        "next_cursor": str(start + limit) if more else None,
    }
