"""Dataclasses that cross the Temporal boundary for returns and refunds (docs/returns.md):
the two workflows' inputs, their activities' requests and answers, and the warehouse's
report of a returned line. One dataclass in and one out per step, so each can gain
optional fields (with defaults) without breaking workflows in flight."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from oms.domain.annotations import resolve_annotations
from oms.domain.messages import SkuQuantity


@dataclass
class ReturnInput:
    """What the API hands to a new return workflow (``return-<return id>``)."""

    return_id: str
    order_id: str
    lines: list[SkuQuantity]
    resolution: str  # refund | exchange | store_credit | none
    warehouse_id: str
    # Inside the channel's return window: approved without an operator.
    auto_approve: bool = False
    requested_by: str = ""
    # How long after approval the warehouse's counts are awaited; a SKU still uncounted
    # then is counted missing (0: wait for ever).
    receive_timeout_s: float = 0.0


@dataclass
class ReturnLineReceived:
    """The warehouse counted one returned SKU: how many units of each condition."""

    sku: str
    restockable: int = 0
    damaged: int = 0
    missing: int = 0
    event_id: str = ""


@dataclass
class ReturnRecord:
    """One step of a return: its row moves to ``status`` and the order's timeline gets
    ``type`` (once per ``key``)."""

    return_id: str
    order_id: str
    status: str
    type: str
    data: dict[str, Any] = field(default_factory=dict)
    decided_by: str | None = None
    decision_note: str | None = None


@dataclass
class ReturnLabelRequest:
    return_id: str
    order_id: str
    warehouse_id: str
    lines: list[SkuQuantity]


@dataclass
class ReceiveRequest:
    return_id: str
    order_id: str
    warehouse_id: str
    lines: list[ReturnLineReceived]


@dataclass
class ReceiveResult:
    accepted: list[SkuQuantity]
    restocked: int = 0


@dataclass
class ResolveRequest:
    return_id: str
    order_id: str
    resolution: str
    accepted: list[SkuQuantity]


@dataclass
class ResolveResult:
    amount: str = "0"
    refund_id: str | None = None
    exchange_order_id: str | None = None


@dataclass
class RefundInput:
    """A refund's workflow (``refund-<refund id>``), or a return's refund step: the row
    in ``refunds`` says how much, for which order and why."""

    refund_id: str
    order_id: str


@dataclass
class RefundOutcome:
    refund_id: str
    status: str  # succeeded | failed
    refunded: str = "0"
    error: str | None = None


resolve_annotations(globals())
