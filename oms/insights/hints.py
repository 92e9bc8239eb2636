"""What the forecasts say to people: replenishment hints per warehouse and SKU, and the hot
products (docs/intelligence-forecast.md). Pure functions; the OMS orders nothing itself.

Replenishment, for a warehouse and SKU with lead time ``L`` days, review period ``R`` days
and service level ``p`` (``z`` its standard normal quantile):

- ``available`` = on hand - reserved;
- ``daily_rate`` = the forecast's mean over the lead time and review period;
- ``days_of_cover``: the days the available units last against the daily forecast
  (walked day by day; ``None`` when the forecast never uses them up);
- ``safety_stock`` = z * sigma * sqrt(L), sigma the forecast's one-day-ahead error;
- ``reorder_point`` = the forecast over the lead time + safety stock;
- ``order_up_to`` = the forecast over L + R days + z * sigma * sqrt(L + R);
- ``order_quantity`` = what brings ``available`` up to ``order_up_to`` when it is at or
  below the reorder point (0 otherwise), in whole units;
- ``status``: ``stockout_risk`` when the units run out within the lead time (an order
  placed today arrives too late), ``reorder`` at or below the reorder point, else ``ok``.

Hot products: the forecast's rate over the next 7 days against the rate of the last 28,
for SKUs with at least ``min_units`` in either; the fastest rising first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

STATUSES = ("stockout_risk", "reorder", "ok")


@dataclass(frozen=True)
class Policy:
    lead_time_days: int
    review_days: int
    service_level: float

    @property
    def z(self) -> float:
        return NormalDist().inv_cdf(self.service_level)


@dataclass(frozen=True)
class Hint:
    warehouse_id: str
    sku: str
    on_hand: int
    reserved: int
    available: int
    daily_rate: float
    days_of_cover: float | None
    lead_time_days: int
    review_days: int
    service_level: float
    sigma: float
    safety_stock: float
    reorder_point: float
    order_up_to: float
    order_quantity: int
    status: str
    demand_class: str
    method: str


def _demand(daily: Sequence[float], days: int) -> float:
    """The forecast units over ``days`` days; past the horizon, its last week's mean."""
    head = sum(daily[:days])
    if days <= len(daily) or not daily:
        return float(head)
    tail = daily[-7:]
    return float(head + (days - len(daily)) * sum(tail) / len(tail))


def days_of_cover(available: float, daily: Sequence[float]) -> float | None:
    """Days until ``available`` units are used up by the forecast (fractional), walking
    the horizon and then its last week's mean; None if they never are."""
    if available <= 0:
        return 0.0
    left = float(available)
    for day, units in enumerate(daily):
        if units >= left:
            return round(day + left / units, 2)
        left -= units
    tail = daily[-7:] if daily else []
    rate = sum(tail) / len(tail) if tail else 0.0
    if rate <= 0:
        return None
    return round(len(daily) + left / rate, 2)


def hint(
    warehouse_id: str,
    sku: str,
    on_hand: int,
    reserved: int,
    daily: Sequence[float],
    sigma: float,
    policy: Policy,
    demand_class: str = "",
    method: str = "",
) -> Hint:
    lead, cycle = policy.lead_time_days, policy.lead_time_days + policy.review_days
    available = on_hand - reserved
    z = policy.z
    safety = z * sigma * math.sqrt(lead)
    reorder_point = _demand(daily, lead) + safety
    order_up_to = _demand(daily, cycle) + z * sigma * math.sqrt(cycle)
    cover = days_of_cover(available, daily)
    needs = available <= reorder_point and order_up_to > available
    quantity = math.ceil(order_up_to - available - 1e-9) if needs else 0
    rate = _demand(daily, max(cycle, 1)) / max(cycle, 1)
    if cover is not None and cover < lead and rate > 0:
        status = "stockout_risk"
    elif needs and rate > 0:
        status = "reorder"
    else:
        status = "ok"
    return Hint(
        warehouse_id=warehouse_id,
        sku=sku,
        on_hand=on_hand,
        reserved=reserved,
        available=available,
        daily_rate=round(rate, 3),
        days_of_cover=cover,
        lead_time_days=policy.lead_time_days,
        review_days=policy.review_days,
        service_level=policy.service_level,
        sigma=round(sigma, 3),
        safety_stock=round(safety, 2),
        reorder_point=round(reorder_point, 2),
        order_up_to=round(order_up_to, 2),
        order_quantity=max(quantity, 0),
        status=status,
        demand_class=demand_class,
        method=method,
    )


def risk_order(h: Hint) -> tuple[int, float, str, str]:
    """Stock-out risks first, the soonest out first; then reorders; then the rest."""
    cover = h.days_of_cover if h.days_of_cover is not None else math.inf
    return (STATUSES.index(h.status), cover, h.warehouse_id, h.sku)


@dataclass(frozen=True)
class Hot:
    sku: str
    last_7: float
    last_28: float
    rate_28: float  # units per day over the last 28 days
    forecast_7: float  # units forecast for the next 7 days
    forecast_rate: float
    growth: float  # forecast_rate / rate_28 - 1 (rate_28 at least one unit in 28 days)
    trend: float  # units a day of the last 7 days less those of the 21 days before
    demand_class: str
    method: str


def hot(
    sku: str,
    last_7: float,
    last_28: float,
    daily: Sequence[float],
    demand_class: str,
    method: str,
) -> Hot:
    forecast_7 = float(sum(daily[:7]))
    rate_28 = last_28 / 28
    forecast_rate = forecast_7 / 7
    growth = forecast_rate / max(rate_28, 1 / 28) - 1
    return Hot(
        sku,
        last_7,
        last_28,
        round(rate_28, 3),
        round(forecast_7, 2),
        round(forecast_rate, 3),
        round(growth, 4),
        round(last_7 / 7 - (last_28 - last_7) / 21, 3),
        demand_class,
        method,
    )


def hottest(candidates: Sequence[Hot], min_units: float, limit: int) -> list[Hot]:
    """Those rising (growth > 0) with ``min_units`` in the last 28 days or the next 7, the
    fastest first (then the larger forecast, then the SKU)."""
    rising = [h for h in candidates if h.growth > 0 and max(h.last_28, h.forecast_7) >= min_units]
    rising.sort(key=lambda h: (-h.growth, -h.forecast_7, h.sku))
    return rising[:limit]
