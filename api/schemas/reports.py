"""``GET /v1/reports/kpis``: the KPI report's answer (built by ``oms.reports.kpis``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Target(BaseModel):
    value: float
    direction: Literal["at_least", "at_most"]


class Count(BaseModel):
    value: int


class Ratio(BaseModel):
    value: float | None = Field(description="numerator / denominator; null when it is 0")
    numerator: int
    denominator: int
    target: Target | None
    met: bool | None


class Cancellations(Ratio):
    by: dict[str, Ratio] = Field(
        description="customer, operator, rule, expiry, platform: each over orders received"
    )


class ProcessingTime(BaseModel):
    orders: int
    p50_s: float | None
    p90_s: float | None
    p99_s: float | None
    target: Target | None
    met: bool | None = Field(description="p50 against the target")


class DeliveryTime(BaseModel):
    orders: int
    p50_s: float | None
    p90_s: float | None
    target: Target | None
    met: bool | None


class HoldOutcomes(BaseModel):
    approved: int
    rejected: int
    expired: int
    cancelled: int
    waiting: int
    total: int


class Figures(BaseModel):
    orders_received: Count
    processing_time: ProcessingTime
    processing_within_target: Ratio
    order_accuracy: Ratio
    on_time_dispatch: Ratio
    fill_rate: Ratio
    backorder_rate: Ratio
    cancellation_rate: Cancellations
    holds: dict[str, HoldOutcomes] = Field(description="per hold reason")
    delivery_time: DeliveryTime


class DayFigures(Figures):
    day: str = Field(description="a UTC day, YYYY-MM-DD")


class ChannelFigures(BaseModel):
    channel: str
    totals: Figures
    days: list[DayFigures]


class KpiTargets(BaseModel):
    processing_s: float
    order_accuracy: float


class KpiReport(BaseModel):
    from_: str = Field(alias="from", description="the first day (UTC)")
    to: str = Field(description="the day after the last (not included)")
    channel: str | None
    timezone: Literal["UTC"]
    targets: KpiTargets
    totals: Figures
    days: list[DayFigures]
    channels: list[ChannelFigures]


# --- GET /v1/reports/returns (built by ``oms.reports.returns``) ---------------------------


class ReturnUnits(BaseModel):
    delivered: int = Field(description="units delivered to the orders received in the range")
    returned: int = Field(description="of those, units in returns that were not rejected")
    rate: float | None = Field(description="returned / delivered; null when none delivered")


class SkuReturns(ReturnUnits):
    sku: str


class ReasonReturns(BaseModel):
    reason: str
    returned: int
    rate: float | None = Field(description="returned for this reason / every unit delivered")


class RefundMoney(BaseModel):
    refunds: int = Field(description="refunds asked")
    refunded: str = Field(description="what the gateway gave back, in the currency")
    pending: str = Field(description="asked and not yet settled")
    failed: int = Field(description="refunds that ended failed (what they paid is in refunded)")


class RefundTotals(RefundMoney):
    currency: str
    with_return: RefundMoney
    without_return: RefundMoney


class RefundDay(RefundTotals):
    day: str
    channel: str


class ReturnsReport(BaseModel):
    from_: str = Field(alias="from", description="the first day (UTC)")
    to: str = Field(description="the day after the last (not included)")
    channel: str | None
    timezone: Literal["UTC"]
    units: ReturnUnits
    by_sku: list[SkuReturns] = Field(description="highest return rate first")
    by_reason: list[ReasonReturns] = Field(description="most units first")
    refunds: list[RefundTotals] = Field(description="per currency")
    refund_days: list[RefundDay] = Field(description="per UTC day, channel and currency")
