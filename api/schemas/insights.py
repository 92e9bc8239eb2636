"""``GET /v1/insights/...``: the hot products and the replenishment hints (built by
``oms.insights``; docs/intelligence-forecast.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class HotProduct(BaseModel):
    sku: str
    last_7: float = Field(description="units ordered in the last 7 days before the run")
    last_28: float = Field(description="units ordered in the last 28 days before the run")
    rate_28: float = Field(description="units per day over those 28 days")
    forecast_7: float = Field(description="units forecast for the 7 days from the run day")
    forecast_rate: float = Field(description="forecast units per day over those 7 days")
    growth: float = Field(description="forecast_rate / rate_28 - 1 (0.5: 50 % more a day)")
    trend: float = Field(
        description="units a day of the last 7 days less those of the 21 days before them"
    )
    demand_class: str
    method: str


class HotProducts(BaseModel):
    run_date: str | None = Field(description="the forecast run read; null before the first")
    items: list[HotProduct]


class Replenishment(BaseModel):
    warehouse_id: str
    sku: str
    status: Literal["stockout_risk", "reorder", "ok"]
    on_hand: int
    reserved: int
    available: int
    daily_rate: float = Field(description="forecast units per day over lead time and review")
    days_of_cover: float | None = Field(
        description="days the available units last; null when the forecast never uses them up"
    )
    lead_time_days: int
    review_days: int
    service_level: float
    sigma: float = Field(description="the forecast's one-day-ahead error (units per day)")
    safety_stock: float
    reorder_point: float
    order_up_to: float
    order_quantity: int = Field(description="units to order now to reach order_up_to")
    demand_class: str
    method: str


class ReplenishmentPage(BaseModel):
    run_date: str | None = Field(description="the forecast run read; null before the first")
    items: list[Replenishment]
    next_cursor: str | None
