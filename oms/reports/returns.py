"""The returns' and refunds' KPIs (docs/kpis.md#returns-and-refunds), from the rows of
``oms.store.return_reports``:

- ``units``: units returned (in returns not rejected) / units delivered, over the orders
  received in the range; ``by_sku`` the same per SKU, ``by_reason`` the units returned for
  each reason over every unit delivered;
- ``refunds``: per currency, the refunds asked in the range, what the gateway gave back
  (``refunded``), what is still on its way (``pending``), with and without a return;
  ``days``: the same per UTC day and channel.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from oms.domain.money import format_amount
from oms.reports.kpis import KpiQuery, _utc
from oms.store import return_reports


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 6) if denominator else None


def _money(rows: list[dict[str, Any]], currency: str) -> dict[str, Any]:
    """Refund rows of one currency, summed: count, refunded, pending, failed."""
    refunded = sum((Decimal(r["refunded"]) for r in rows), Decimal(0))
    pending = sum((Decimal(r["pending"]) for r in rows), Decimal(0))
    return {
        "refunds": sum(int(r["refunds"]) for r in rows),
        "refunded": format_amount(refunded, currency),
        "pending": format_amount(pending, currency),
        "failed": sum(int(r["failed"]) for r in rows),
    }


def _split(rows: list[dict[str, Any]], currency: str) -> dict[str, Any]:
    return {
        **_money(rows, currency),
        "with_return": _money([r for r in rows if r["with_return"]], currency),
        "without_return": _money([r for r in rows if not r["with_return"]], currency),
    }


def build_report(
    query: KpiQuery,
    delivered_rows: list[dict[str, Any]],
    returned_rows: list[dict[str, Any]],
    refund_rows: list[dict[str, Any]],
) -> dict[str, Any]:
    delivered = {r["sku"]: int(r["delivered"]) for r in delivered_rows}
    returned: dict[str, int] = defaultdict(int)
    reasons: dict[str, int] = defaultdict(int)
    for r in returned_rows:
        returned[r["sku"]] += int(r["returned"])
        reasons[r["reason"]] += int(r["returned"])
    all_delivered = sum(delivered.values())
    all_returned = sum(returned.values())
    skus = sorted(
        set(delivered) | set(returned),
        key=lambda s: (-(_rate(returned[s], delivered.get(s, 0)) or 0), -returned[s], s),
    )
    by_currency: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_day: dict[tuple[date, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in refund_rows:
        by_currency[r["currency"]].append(r)
        by_day[(r["day"], r["channel"], r["currency"])].append(r)
    return {
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "channel": query.channel,
        "timezone": "UTC",
        "units": {
            "delivered": all_delivered,
            "returned": all_returned,
            "rate": _rate(all_returned, all_delivered),
        },
        "by_sku": [
            {
                "sku": s,
                "delivered": delivered.get(s, 0),
                "returned": returned[s],
                "rate": _rate(returned[s], delivered.get(s, 0)),
            }
            for s in skus
        ],
        "by_reason": [
            {"reason": reason, "returned": n, "rate": _rate(n, all_delivered)}
            for reason, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0]))
        ],
        "refunds": [{"currency": c, **_split(rows, c)} for c, rows in sorted(by_currency.items())],
        "refund_days": [
            {"day": day.isoformat(), "channel": channel, "currency": c, **_split(rows, c)}
            for (day, channel, c), rows in sorted(by_day.items())
        ],
    }


async def returns_report(engine: AsyncEngine, query: KpiQuery) -> dict[str, Any]:
    delivered, returned, refunds = await return_reports.return_rows(
        engine, _utc(query.start), _utc(query.end), query.channel
    )
    return build_report(query, delivered, returned, refunds)
