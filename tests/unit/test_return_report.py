"""The returns' report from its rows (oms/reports/returns.py): rates over delivered units,
highest rate first, reasons over every unit delivered, refunds summed per currency with
and without a return, and empty ranges."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from oms.reports.kpis import KpiQuery
from oms.reports.returns import build_report

QUERY = KpiQuery(date(2026, 11, 1), date(2026, 11, 8), None)


def _refund(day: int, currency: str, with_return: bool, refunded: str, **more: object) -> dict:
    row = {
        "day": date(2026, 11, day),
        "channel": "webshop",
        "currency": currency,
        "with_return": with_return,
        "refunds": 1,
        "refunded": Decimal(refunded),
        "pending": Decimal(0),
        "failed": 0,
    }
    return {**row, **more}


def test_rates_per_sku_and_reason_and_refunds_per_currency():
    report = build_report(
        QUERY,
        [{"sku": "A", "delivered": 10}, {"sku": "B", "delivered": 4}, {"sku": "C", "delivered": 6}],
        [
            {"sku": "A", "reason": "fit", "returned": 2},
            {"sku": "B", "reason": "fit", "returned": 1},
            {"sku": "B", "reason": "broken", "returned": 1},
        ],
        [
            _refund(2, "EUR", True, "20.00"),
            _refund(2, "EUR", False, "1.5"),
            _refund(3, "EUR", False, "0", pending=Decimal("5"), refunds=2, failed=1),
            _refund(3, "JPY", True, "300"),
        ],
    )
    assert report["from"] == "2026-11-01" and report["to"] == "2026-11-08"
    assert report["units"] == {"delivered": 20, "returned": 4, "rate": 0.2}
    assert [(r["sku"], r["rate"]) for r in report["by_sku"]] == [
        ("B", 0.5),
        ("A", 0.2),
        ("C", 0.0),
    ]
    assert report["by_reason"] == [
        {"reason": "fit", "returned": 3, "rate": 0.15},
        {"reason": "broken", "returned": 1, "rate": 0.05},
    ]
    eur, jpy = report["refunds"]
    assert (eur["currency"], eur["refunds"], eur["refunded"], eur["pending"]) == (
        "EUR",
        4,
        "21.50",
        "5.00",
    )
    assert eur["with_return"]["refunded"] == "20.00" and eur["without_return"]["failed"] == 1
    assert (jpy["refunded"], jpy["without_return"]["refunds"]) == ("300", 0)
    assert [(d["day"], d["currency"]) for d in report["refund_days"]] == [
        ("2026-11-02", "EUR"),
        ("2026-11-03", "EUR"),
        ("2026-11-03", "JPY"),
    ]


def test_an_empty_range_has_no_rate_and_a_return_without_delivery_has_none_either():
    empty = build_report(QUERY, [], [], [])
    assert empty["units"] == {"delivered": 0, "returned": 0, "rate": None}
    assert empty["by_sku"] == [] and empty["refunds"] == [] and empty["refund_days"] == []
    odd = build_report(QUERY, [], [{"sku": "X", "reason": "r", "returned": 1}], [])
    assert odd["by_sku"] == [{"sku": "X", "delivered": 0, "returned": 1, "rate": None}]
    assert odd["by_reason"] == [{"reason": "r", "returned": 1, "rate": None}]
