"""The KPI report's pure half: ranges, and a report built from the store's rows."""

from __future__ import annotations

from datetime import date

import pytest

from oms.reports import kpis

TODAY = date(2026, 12, 4)


def test_the_default_range_is_the_last_seven_utc_days_with_today() -> None:
    q = kpis.parse_range(None, None, TODAY)
    assert (q.start, q.end) == (date(2026, 11, 28), date(2026, 12, 5))
    assert kpis.parse_range("2026-01-01", None, TODAY).end == date(2026, 12, 5)
    assert kpis.parse_range(None, "2026-01-10", TODAY).start == date(2026, 1, 3)


@pytest.mark.parametrize(
    ("start", "end", "words"),
    [
        ("2026-01-02", "2026-01-01", "before"),
        ("2026-01-01", "2026-01-01", "before"),
        ("2025-01-01", "2026-01-03", "at most 366"),
        ("2026-02-30", None, "from must be a date"),
        (None, "12/04/2026", "to must be a date"),
    ],
)
def test_a_bad_range_says_why(start: str | None, end: str | None, words: str) -> None:
    with pytest.raises(kpis.RangeError, match=words):
        kpis.parse_range(start, end, TODAY)


def test_an_empty_range_has_every_day_and_no_values() -> None:
    report = kpis.build_report(
        kpis.KpiQuery(date(2026, 1, 1), date(2026, 1, 4)), kpis.Targets(), [], []
    )
    assert [d.day for d in report.days] == [date(2026, 1, d) for d in (1, 2, 3)]
    assert report.totals.orders_received == 0
    assert report.totals.order_accuracy.value is None and report.totals.order_accuracy.met is None
    assert report.totals.processing_time.p50 is None
    lines = kpis.report_csv(report).splitlines()
    assert lines[0].startswith("day,channel,orders_received")
    assert lines[1].startswith("total,all,0,0,,,,")


def test_targets_are_met_or_not() -> None:
    accuracy = kpis.Ratio(995, 1000, kpis.Targets().order_accuracy)
    assert accuracy.met is True
    assert kpis.Ratio(994, 1000, kpis.Targets().order_accuracy).met is False
    assert kpis.Duration(3, 7200.0, 9000.0, target=kpis.Targets().processing).met is True
    assert kpis.Duration(3, 7201.0, 9000.0, target=kpis.Targets().processing).met is False
