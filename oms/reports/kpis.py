"""The KPIs, from the OMS's own timeline and ledger (definitions: docs/kpis.md).

    report = await kpi_report(engine, KpiQuery(start, end, channel), targets)

A report covers the orders *received* in ``[start, end)`` (whole UTC days), one channel or
all: ``totals`` over the range, ``days`` (one entry per day of the range, empty days
included, so a chart has every point) and ``channels`` (each channel's totals and days).
Every figure carries what it is made of (a ratio its numerator and denominator, a time
its percentiles and how many orders it is over) and its target where it has one.

The SQL is in ``oms.store.reports``; everything here is plain functions on its rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from oms.store import reports

MAX_DAYS = 366
DEFAULT_DAYS = 7
WHO = reports.WHO
HOLD_OUTCOMES = ("approved", "rejected", "expired", "cancelled", "waiting")


class RangeError(ValueError):
    """A report range that cannot be used: the message says why."""


# --- the result ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What a figure should be: ``at_least`` (a rate) or ``at_most`` (a time, in seconds)."""

    value: float
    direction: str  # at_least | at_most

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value >= self.value if self.direction == "at_least" else value <= self.value


@dataclass(frozen=True)
class Targets:
    processing_s: float = 7200.0
    accuracy: float = 0.995

    @property
    def processing(self) -> Target:
        return Target(self.processing_s, "at_most")

    @property
    def order_accuracy(self) -> Target:
        return Target(self.accuracy, "at_least")


@dataclass(frozen=True)
class Ratio:
    """``numerator / denominator``; ``value`` is None when the denominator is 0."""

    numerator: int
    denominator: int
    target: Target | None = None

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    @property
    def met(self) -> bool | None:
        return self.target.met(self.value) if self.target else None


@dataclass(frozen=True)
class Duration:
    """Seconds, as percentiles over ``orders`` orders (None when there are none)."""

    orders: int
    p50: float | None
    p90: float | None
    p99: float | None = None
    target: Target | None = None

    @property
    def met(self) -> bool | None:
        return self.target.met(self.p50) if self.target else None


@dataclass(frozen=True)
class HoldOutcomes:
    """Holds for one reason (an order held twice counts twice), by how each ended."""

    approved: int = 0
    rejected: int = 0
    expired: int = 0
    cancelled: int = 0
    waiting: int = 0

    @property
    def total(self) -> int:
        return self.approved + self.rejected + self.expired + self.cancelled + self.waiting


@dataclass(frozen=True)
class Figures:
    orders_received: int
    processing_time: Duration
    processing_within_target: Ratio
    order_accuracy: Ratio
    on_time_dispatch: Ratio
    fill_rate: Ratio
    backorder_rate: Ratio
    cancellation_rate: Ratio
    cancellations_by: dict[str, Ratio]
    holds: dict[str, HoldOutcomes]
    delivery_time: Duration


@dataclass(frozen=True)
class DayFigures:
    day: date
    figures: Figures


@dataclass(frozen=True)
class ChannelFigures:
    channel: str
    totals: Figures
    days: list[DayFigures]


@dataclass(frozen=True)
class KpiQuery:
    start: date  # the first day
    end: date  # the day after the last
    channel: str | None = None


@dataclass(frozen=True)
class KpiReport:
    start: date
    end: date
    channel: str | None
    targets: Targets
    totals: Figures
    days: list[DayFigures]
    channels: list[ChannelFigures] = field(default_factory=list)


# --- the range ----------------------------------------------------------------------------


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RangeError(f"{name} must be a date, YYYY-MM-DD (got {value!r})") from None


def parse_range(start: str | None, end: str | None, today: date | None = None) -> KpiQuery:
    """``from``/``to`` as given (dates, ``to`` excluded), or the last ``DEFAULT_DAYS`` UTC
    days up to and including today. RangeError for a bad date, an empty or reversed range,
    or one longer than ``MAX_DAYS`` days."""
    today = today or datetime.now(UTC).date()
    last = _day(end, "to") if end else today + timedelta(days=1)
    first = _day(start, "from") if start else last - timedelta(days=DEFAULT_DAYS)
    if first >= last:
        raise RangeError(f"from ({first}) must be before to ({last}); to is not included")
    if (last - first).days > MAX_DAYS:
        raise RangeError(f"a report covers at most {MAX_DAYS} days ({(last - first).days} asked)")
    return KpiQuery(first, last)


def _utc(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


# --- the report ---------------------------------------------------------------------------


async def kpi_report(
    engine: AsyncEngine, query: KpiQuery, targets: Targets | None = None
) -> KpiReport:
    targets = targets or Targets()
    rows, holds = await reports.kpi_rows(
        engine, _utc(query.start), _utc(query.end), query.channel, targets.processing_s
    )
    return build_report(query, targets, rows, holds)


def build_report(
    query: KpiQuery,
    targets: Targets,
    rows: Iterable[Mapping[str, Any]],
    holds: Iterable[Mapping[str, Any]],
) -> KpiReport:
    """The report from the store's aggregate rows (``level``: 0 per day and channel, 1 per
    day, 2 per channel, 3 over everything)."""
    held: dict[tuple[int, Any, Any], dict[str, dict[str, int]]] = {}
    for h in holds:
        key = (h["level"], h["day"], h["channel"])
        per = held.setdefault(key, {}).setdefault(h["reason"], {})
        per[h["outcome"]] = per.get(h["outcome"], 0) + int(h["holds"])
    by_key = {(r["level"], r["day"], r["channel"]): r for r in rows}

    def figures(level: int, day: date | None, channel: str | None) -> Figures:
        row = by_key.get((level, day, channel))
        return _figures(row, held.get((level, day, channel), {}), targets)

    days = [query.start + timedelta(days=n) for n in range((query.end - query.start).days)]
    channels = sorted({r["channel"] for r in rows if r["level"] == 2})
    return KpiReport(
        start=query.start,
        end=query.end,
        channel=query.channel,
        targets=targets,
        totals=figures(3, None, None),
        days=[DayFigures(d, figures(1, d, None)) for d in days],
        channels=[
            ChannelFigures(c, figures(2, None, c), [DayFigures(d, figures(0, d, c)) for d in days])
            for c in channels
        ],
    )


def _percentiles(value: Any, n: int) -> list[float | None]:
    values = list(value) if value else []
    return [float(v) if v is not None else None for v in values] + [None] * (n - len(values))


def _figures(
    row: Mapping[str, Any] | None, holds: dict[str, dict[str, int]], targets: Targets
) -> Figures:
    r: Mapping[str, Any] = row or {}

    def n(name: str) -> int:
        return int(r.get(name) or 0)

    received = n("received")
    p50, p90, p99 = _percentiles(r.get("processing"), 3)
    d50, d90 = _percentiles(r.get("delivery"), 2)
    return Figures(
        orders_received=received,
        processing_time=Duration(n("dispatched"), p50, p90, p99, targets.processing),
        processing_within_target=Ratio(n("within_target"), n("dispatched")),
        order_accuracy=Ratio(n("accurate"), n("delivered"), targets.order_accuracy),
        on_time_dispatch=Ratio(n("on_time"), n("sla_due")),
        fill_rate=Ratio(n("filled"), n("shipped")),
        backorder_rate=Ratio(n("backordered"), received),
        cancellation_rate=Ratio(n("cancelled"), received),
        cancellations_by={w: Ratio(n(f"cancelled_{w}"), received) for w in WHO},
        holds={
            reason: HoldOutcomes(**{o: outcomes.get(o, 0) for o in HOLD_OUTCOMES})
            for reason, outcomes in sorted(holds.items())
        },
        delivery_time=Duration(n("delivered"), d50, d90),
    )


# --- as JSON and CSV ----------------------------------------------------------------------


def _target(t: Target | None) -> dict[str, Any] | None:
    return {"value": t.value, "direction": t.direction} if t else None


def _ratio(r: Ratio) -> dict[str, Any]:
    return {
        "value": r.value,
        "numerator": r.numerator,
        "denominator": r.denominator,
        "target": _target(r.target),
        "met": r.met,
    }


def _duration(d: Duration, p99: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"orders": d.orders, "p50_s": d.p50, "p90_s": d.p90}
    if p99:
        out["p99_s"] = d.p99
    return {**out, "target": _target(d.target), "met": d.met}


def figures_json(f: Figures) -> dict[str, Any]:
    return {
        "orders_received": {"value": f.orders_received},
        "processing_time": _duration(f.processing_time, p99=True),
        "processing_within_target": _ratio(f.processing_within_target),
        "order_accuracy": _ratio(f.order_accuracy),
        "on_time_dispatch": _ratio(f.on_time_dispatch),
        "fill_rate": _ratio(f.fill_rate),
        "backorder_rate": _ratio(f.backorder_rate),
        "cancellation_rate": {
            **_ratio(f.cancellation_rate),
            "by": {w: _ratio(r) for w, r in f.cancellations_by.items()},
        },
        "holds": {
            reason: {**{o: getattr(h, o) for o in HOLD_OUTCOMES}, "total": h.total}
            for reason, h in f.holds.items()
        },
        "delivery_time": _duration(f.delivery_time, p99=False),
    }


def report_json(report: KpiReport) -> dict[str, Any]:
    """The report as ``GET /v1/reports/kpis`` answers it."""
    return {
        "from": report.start.isoformat(),
        "to": report.end.isoformat(),
        "channel": report.channel,
        "timezone": "UTC",
        "targets": {
            "processing_s": report.targets.processing_s,
            "order_accuracy": report.targets.accuracy,
        },
        "totals": figures_json(report.totals),
        "days": [{"day": d.day.isoformat(), **figures_json(d.figures)} for d in report.days],
        "channels": [
            {
                "channel": c.channel,
                "totals": figures_json(c.totals),
                "days": [{"day": d.day.isoformat(), **figures_json(d.figures)} for d in c.days],
            }
            for c in report.channels
        ],
    }


CSV_COLUMNS = (
    "day",
    "channel",
    "orders_received",
    "processing_orders",
    "processing_p50_s",
    "processing_p90_s",
    "processing_p99_s",
    "processing_within_target",
    "order_accuracy",
    "orders_delivered",
    "orders_accurate",
    "on_time_dispatch",
    "fill_rate",
    "backorder_rate",
    "cancellation_rate",
    *(f"cancelled_by_{w}" for w in WHO),
    "holds",
    "holds_approved",
    "holds_rejected",
    "holds_expired",
    "holds_cancelled",
    "holds_waiting",
    "delivery_p50_s",
    "delivery_p90_s",
)


def _num(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}".rstrip("0").rstrip(".") or "0"


def _csv_row(day: str, channel: str, f: Figures) -> list[str]:
    holds = list(f.holds.values())
    return [
        day,
        channel,
        str(f.orders_received),
        str(f.processing_time.orders),
        _num(f.processing_time.p50, 1),
        _num(f.processing_time.p90, 1),
        _num(f.processing_time.p99, 1),
        _num(f.processing_within_target.value),
        _num(f.order_accuracy.value),
        str(f.order_accuracy.denominator),
        str(f.order_accuracy.numerator),
        _num(f.on_time_dispatch.value),
        _num(f.fill_rate.value),
        _num(f.backorder_rate.value),
        _num(f.cancellation_rate.value),
        *(str(f.cancellations_by[w].numerator) for w in WHO),
        str(sum(h.total for h in holds)),
        *(str(sum(getattr(h, o) for h in holds)) for o in HOLD_OUTCOMES),
        _num(f.delivery_time.p50, 1),
        _num(f.delivery_time.p90, 1),
    ]


def report_csv(report: KpiReport) -> str:
    """One row per day and channel, then each channel's totals (day ``total``), then the
    totals over every channel (channel ``all``). Rates as fractions, times in seconds."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for c in report.channels:
        for d in c.days:
            writer.writerow(_csv_row(d.day.isoformat(), c.channel, d.figures))
    for c in report.channels:
        writer.writerow(_csv_row("total", c.channel, c.totals))
    writer.writerow(_csv_row("total", report.channel or "all", report.totals))
    return out.getvalue()
