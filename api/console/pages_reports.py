"""Reports: the KPIs over a chosen range and channel, each figure against its target and
drawn per day, with the return rates and refunds; the same figures as CSV. The
definitions are in docs/kpis.md."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.console.charts import Point, chart
from api.console.web import UserDep, render
from oms.reports.kpis import (
    DayFigures,
    Figures,
    KpiQuery,
    RangeError,
    Targets,
    kpi_report,
    parse_range,
    report_csv,
)
from oms.reports.returns import returns_report

router = APIRouter(prefix="/console", include_in_schema=False)
# The SKUs with the highest return rate the page lists (the API has them all).
SKUS_SHOWN = 20

_Channel = Annotated[str | None, Query(max_length=100)]


def targets_of(request: Request) -> Targets:
    settings = request.app.state.settings
    return Targets(settings.kpi_processing_target_s, settings.kpi_accuracy_target)


# Each chart: its title, how to read the day's value, the unit, the target (in the unit),
# and whether it is a count (bars).
def _charts(
    targets: Targets,
) -> list[tuple[str, str, Callable[[Figures], float | None], str, float | None, bool]]:
    hours = lambda s: None if s is None else s / 3600  # noqa: E731
    pct = lambda r: None if r.value is None else r.value * 100  # noqa: E731
    return [
        ("orders_received", "Orders received", lambda f: float(f.orders_received), "", None, True),
        (
            "processing_p90",
            "Processing time p90 (received to dispatched)",
            lambda f: hours(f.processing_time.p90),
            "h",
            targets.processing_s / 3600,
            False,
        ),
        (
            "processing_within",
            "Dispatched within the processing target",
            lambda f: pct(f.processing_within_target),
            "%",
            None,
            False,
        ),
        (
            "order_accuracy",
            "Order accuracy",
            lambda f: pct(f.order_accuracy),
            "%",
            targets.accuracy * 100,
            False,
        ),
        (
            "on_time_dispatch",
            "On-time dispatch (against each order's SLA)",
            lambda f: pct(f.on_time_dispatch),
            "%",
            None,
            False,
        ),
        (
            "fill_rate",
            "Fill rate (complete in the first shipment)",
            lambda f: pct(f.fill_rate),
            "%",
            None,
            False,
        ),
        ("backorder_rate", "Backorder rate", lambda f: pct(f.backorder_rate), "%", None, False),
        (
            "cancellation_rate",
            "Cancellation rate",
            lambda f: pct(f.cancellation_rate),
            "%",
            None,
            False,
        ),
        (
            "delivery_time",
            "Delivery time p50 (dispatched to delivered)",
            lambda f: hours(f.delivery_time.p50),
            "h",
            None,
            False,
        ),
    ]


def _draw(
    days: list[DayFigures], targets: Targets, translate: Callable[[str], str]
) -> list[dict[str, Any]]:
    drawn = []
    for key, title, read, unit, target, bars in _charts(targets):
        points = [Point(d.day, read(d.figures)) for d in days]
        drawn.append(
            {
                "key": key,
                "title": title,
                "svg": chart(points, unit=unit, target=target, bars=bars, label=translate(title)),
            }
        )
    return drawn


_From = Annotated[str | None, Query(alias="from", max_length=10)]
_To = Annotated[str | None, Query(alias="to", max_length=10)]


def _query(start: str | None, end: str | None, channel: str | None) -> KpiQuery:
    """The range asked (the last days by default) and the channel; RangeError if bad."""
    query = parse_range(start or None, end or None)
    return KpiQuery(query.start, query.end, channel or None)


@router.get("/reports")
async def reports_page(
    request: Request, user: UserDep, start: _From = None, end: _To = None, channel: _Channel = None
) -> Response:
    from api.console.web import translate

    try:
        query = _query(start, end, channel)
    except RangeError as exc:
        return render(
            request,
            user,
            "reports.html",
            status_code=422,
            error=str(exc),
            report=None,
            start=start,
            end=end,
            channel=channel or "",
        )
    targets = targets_of(request)
    report = await kpi_report(request.app.state.engine, query, targets)
    returned = await returns_report(request.app.state.engine, query)
    return render(
        request,
        user,
        "reports.html",
        report=report,
        returned=returned,
        skus_shown=SKUS_SHOWN,
        charts=_draw(report.days, targets, lambda t: translate(request, t)),
        start=query.start.isoformat(),
        end=query.end.isoformat(),
        channel=channel or "",
        error=None,
    )


@router.get("/reports.csv")
async def reports_csv(
    request: Request, user: UserDep, start: _From = None, end: _To = None, channel: _Channel = None
) -> Response:
    try:
        query = _query(start, end, channel)
    except RangeError as exc:
        return Response(str(exc), status_code=422, media_type="text/plain")
    report = await kpi_report(request.app.state.engine, query, targets_of(request))
    name = f"kpis-{query.start}-{query.end}{'-' + channel if channel else ''}.csv"
    return Response(
        report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
