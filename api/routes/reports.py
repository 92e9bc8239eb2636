"""The KPIs from the OMS's own timeline and ledger (docs/kpis.md): JSON and CSV."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.deps import EngineDep, JsonRoute, Principal, SettingsDep, require_scope
from api.errors import Problem
from api.schemas import problems
from api.schemas.reports import KpiReport, ReturnsReport
from oms.reports import kpis
from oms.reports import returns as return_kpis

router = APIRouter(
    prefix="/v1/reports",
    tags=["reports"],
    route_class=JsonRoute,
    responses=problems(401, 403, 422, 503),
)

# Admin, operators, and partner keys holding ``reports:read``.
ReportReader = Annotated[Principal, Depends(require_scope("reports:read", "operator"))]
# A day exactly as YYYY-MM-DD (a date type would also take "0", a Unix time).
_DAY = {"pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "json_schema_extra": {"format": "date"}}
Day = Annotated[
    str | None,
    Query(description="the day after the last UTC day, YYYY-MM-DD (not included)", **_DAY),
]
From = Annotated[
    str | None,
    Query(alias="from", description="the first UTC day, YYYY-MM-DD (included)", **_DAY),
]
Channel = Annotated[str | None, Query(max_length=64, description="one channel; all by default")]


def _range(start: str | None, end: str | None, channel: str | None) -> kpis.KpiQuery:
    try:
        query = kpis.parse_range(start, end)
    except kpis.RangeError as exc:
        # A day that does not exist (2026-02-30), or two days that are no range (reversed,
        # empty, over 366 days): rules no pattern of either parameter can state.
        raise Problem(
            422, str(exc), kind="range-invalid", errors=[{"field": "from", "message": str(exc)}]
        ) from exc
    return kpis.KpiQuery(query.start, query.end, channel or None)


async def _report(
    engine: EngineDep,
    settings: SettingsDep,
    start: str | None,
    end: str | None,
    channel: str | None,
) -> kpis.KpiReport:
    query = _range(start, end, channel)
    targets = kpis.Targets(settings.kpi_processing_target_s, settings.kpi_accuracy_target)
    return await kpis.kpi_report(engine, query, targets)


@router.get("/kpis", response_model=KpiReport, response_model_by_alias=True)
async def read_kpis(
    caller: ReportReader,
    engine: EngineDep,
    settings: SettingsDep,
    start: From = None,
    to: Day = None,
    channel: Channel = None,
) -> Any:
    """The KPIs of the orders received from ``from`` to ``to`` (UTC days, ``to`` not
    included; the last 7 days by default, at most 366): ``totals``, ``days`` (every day of
    the range) and ``channels`` (each channel's totals and days), each figure with its
    numerator and denominator where it is a ratio, and its target."""
    return kpis.report_json(await _report(engine, settings, start, to, channel))


@router.get(
    "/kpis.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def read_kpis_csv(
    caller: ReportReader,
    engine: EngineDep,
    settings: SettingsDep,
    start: From = None,
    to: Day = None,
    channel: Channel = None,
) -> Response:
    """The same figures as CSV: a row per day and channel, each channel's totals (day
    ``total``), then the totals (channel ``all``, or the channel asked for)."""
    report = await _report(engine, settings, start, to, channel)
    name = f"kpis-{report.start}-{report.end}.csv"
    return Response(
        kpis.report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/returns", response_model=ReturnsReport, response_model_by_alias=True)
async def read_returns_report(
    caller: ReportReader,
    engine: EngineDep,
    start: From = None,
    to: Day = None,
    channel: Channel = None,
) -> Any:
    """Returns and refunds (docs/kpis.md): the return rate of the orders received from
    ``from`` to ``to`` (UTC days, ``to`` not included; the last 7 days by default, at most
    366), overall, per SKU and per reason; the refunds asked in those days, per currency,
    with and without a return, and per day and channel."""
    return await return_kpis.returns_report(engine, _range(start, to, channel))
