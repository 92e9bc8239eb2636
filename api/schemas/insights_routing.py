"""``GET /v1/insights/routing``: the routing strategies compared over the orders allocated
(built by ``oms.routing_insights``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class StrategyFigures(BaseModel):
    strategy: str
    orders: int = Field(description="orders it was compared on")
    mean_expected_days: float | None = Field(description="days until the last parcel arrives")
    mean_expected_cost: float | None = Field(description="shipping cost, the cost table's money")
    splits: int = Field(description="orders it would have shipped in more than one parcel")
    chosen: int = Field(description="orders whose channel routed by it")
    same_as_chosen: int = Field(description="orders where it would have chosen the same")


class ChosenFigures(BaseModel):
    mean_expected_days: float | None
    mean_expected_cost: float | None
    splits: int


class OptionView(BaseModel):
    warehouses: list[str]
    shipments: int
    expected_days: float
    expected_cost: float


class OrderComparison(BaseModel):
    order_id: str
    channel: str
    strategy: str = Field(description="the strategy that chose")
    country: str
    area: str = Field(description="the destination's area: the postal code's first two")
    shipments: int
    expected_days: float
    expected_cost: float
    allocated_at: str
    options: dict[str, OptionView] = Field(description="what each strategy would have chosen")


class RoutingInsights(BaseModel):
    since: str
    channel: str | None
    orders: int
    chosen: ChosenFigures
    strategies: list[StrategyFigures]
    items: list[OrderComparison] | None = Field(
        default=None, description="the newest orders, with ``orders``"
    )
