"""The Today page's KPI tiles: each figure for today (UTC) and the last 7 days, against its
target, from the KPI report (``oms.reports.kpis``, definitions in docs/kpis.md).

Processing time and order accuracy have the report's targets (``OMS_KPI_*``); the other
rates are held to the console's own marks below, which say what an operations manager
would want to hear about, not a contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from oms.reports import kpis
from oms.settings import Settings

# The marks of the rates the KPI report has no target for.
ON_TIME_DISPATCH_AT_LEAST = 0.95
FILL_RATE_AT_LEAST = 0.95
BACKORDER_RATE_AT_MOST = 0.05
CANCELLATION_RATE_AT_MOST = 0.05
# Today and the last 7 days, today included.
DAYS = 7


@dataclass
class Figure:
    """One period's figure of a tile: its text, whether it meets the target (None: no
    orders to say), and what it is made of."""

    period: str  # today | 7d
    text: str
    met: bool | None
    detail: str = ""
    raw: float | int | None = None


@dataclass
class Tile:
    name: str  # the stable data-kpi name
    label: str
    target: str
    figures: list[Figure]

    @property
    def state(self) -> str:
        """The tile's colour: today's figure, or the week's when today has none."""
        for figure in self.figures:
            if figure.met is not None:
                return "ok" if figure.met else "bad"
        return "none"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    minutes = s // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def percent(value: float | None) -> str:
    if value is None:
        return "—"
    text = f"{value * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text} %"


def _at_least(value: float | None, mark: float) -> bool | None:
    return None if value is None else value >= mark


def _at_most(value: float | None, mark: float) -> bool | None:
    return None if value is None else value <= mark


def _ratio(period: str, ratio: Any, met: bool | None) -> Figure:
    return Figure(
        period, percent(ratio.value), met, f"{ratio.numerator} / {ratio.denominator}", ratio.value
    )


def tiles_from(
    today: Any, week: Any, processing_target_s: float, accuracy_target: float
) -> list[Tile]:
    """The KPI tiles from the report's totals of today and of the last 7 days
    (``oms.reports.kpis.Figures``)."""
    periods = (("today", today), ("7d", week))
    return [
        Tile(
            "orders_received",
            "Orders received",
            "",
            [Figure(p, f"{f.orders_received:,}", None, raw=f.orders_received) for p, f in periods],
        ),
        Tile(
            "processing_time",
            "Processing time p90",
            f"≤ {duration(processing_target_s)}",
            [
                Figure(
                    p,
                    duration(f.processing_time.p90),
                    _at_most(f.processing_time.p90, processing_target_s),
                    f"{percent(f.processing_within_target.value)} ≤ {duration(processing_target_s)}"
                    f" · {f.processing_time.orders}",
                    f.processing_time.p90,
                )
                for p, f in periods
            ],
        ),
        Tile(
            "order_accuracy",
            "Order accuracy",
            f"≥ {percent(accuracy_target)}",
            [
                _ratio(p, f.order_accuracy, _at_least(f.order_accuracy.value, accuracy_target))
                for p, f in periods
            ],
        ),
        Tile(
            "on_time_dispatch",
            "On-time dispatch",
            f"≥ {percent(ON_TIME_DISPATCH_AT_LEAST)}",
            [
                _ratio(
                    p,
                    f.on_time_dispatch,
                    _at_least(f.on_time_dispatch.value, ON_TIME_DISPATCH_AT_LEAST),
                )
                for p, f in periods
            ],
        ),
        Tile(
            "fill_rate",
            "Fill rate",
            f"≥ {percent(FILL_RATE_AT_LEAST)}",
            [
                _ratio(p, f.fill_rate, _at_least(f.fill_rate.value, FILL_RATE_AT_LEAST))
                for p, f in periods
            ],
        ),
        Tile(
            "backorder_rate",
            "Backorder rate",
            f"≤ {percent(BACKORDER_RATE_AT_MOST)}",
            [
                _ratio(
                    p, f.backorder_rate, _at_most(f.backorder_rate.value, BACKORDER_RATE_AT_MOST)
                )
                for p, f in periods
            ],
        ),
        Tile(
            "cancellation_rate",
            "Cancellation rate",
            f"≤ {percent(CANCELLATION_RATE_AT_MOST)}",
            [
                _ratio(
                    p,
                    f.cancellation_rate,
                    _at_most(f.cancellation_rate.value, CANCELLATION_RATE_AT_MOST),
                )
                for p, f in periods
            ],
        ),
    ]


def holds_tile(waiting: int, oldest: Any, stale_s: float, now: datetime) -> Tile:
    """Holds waiting now: green while none has waited longer than ``OMS_HOLD_STALE_S``."""
    since = None
    if oldest:
        since = datetime.fromisoformat(str(oldest))
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
    waited = (now - since).total_seconds() if since else None
    met = True if waiting == 0 else (waited is not None and waited <= stale_s)
    return Tile(
        "holds_waiting",
        "Holds waiting",
        f"≤ {duration(stale_s)}",
        [
            Figure(
                "now", f"{waiting:,}", met, duration(waited) if waited is not None else "", waiting
            )
        ],
    )


def report_days(now: datetime) -> tuple[date, date, date]:
    """Today, tomorrow and the first of the last 7 days (UTC)."""
    today = now.astimezone(UTC).date()
    return today, today + timedelta(days=1), today - timedelta(days=DAYS - 1)


async def kpi_tiles(
    engine: AsyncEngine, settings: Settings, channel: str | None, holds: int, oldest: Any
) -> list[Tile]:
    """Every tile of the Today page, the holds last."""
    now = datetime.now(UTC)
    hold = holds_tile(holds, oldest, settings.hold_stale_s, now)
    today, tomorrow, first = report_days(now)
    processing_s, accuracy = settings.kpi_processing_target_s, settings.kpi_accuracy_target
    targets = kpis.Targets(processing_s, accuracy)
    report = await kpis.kpi_report(engine, kpis.KpiQuery(first, tomorrow, channel), targets)
    todays = next(d.figures for d in report.days if d.day == today)
    tiles = tiles_from(todays, report.totals, processing_s, accuracy)
    return [*tiles, hold]
