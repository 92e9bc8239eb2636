"""FROZEN, part of the legacy ``order`` type (``legacy/order.py``): what its parts share."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from oms.domain.messages import (
        SkuQuantity,
    )
    from oms.domain.status import (
        OrderStatus,
    )


S = OrderStatus
# Patch ids: each marks a change of the workflow's commands, so that histories recorded
# before it replay on the old path (see docs/reliability.md).
VOID_UNVERIFIED_AUTHORIZATION = "void-unverified-authorization"
OPERATOR_HOLDS = "operator-holds"  # hold rules, manual holds, address changes, SLA timers
CAPTURE_PER_SHIPMENT = "capture-per-shipment"  # the customer pays for what has left
# Reservation rounds: re-routing after a refusal, backorders, partial shipment.
BACKORDERS = "backorders-and-rerouting"


class OrderStopped(Exception):
    """Raised inside the workflow when the order ends early (failed or cancelled)."""

    def __init__(self, status: OrderStatus, reason: str, detail: dict[str, Any] | None = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.detail = detail or {}


def _error_type(err: ActivityError) -> str | None:
    cause = err.cause
    return cause.type if isinstance(cause, ApplicationError) else None


def _merge(*groups: list[SkuQuantity]) -> list[SkuQuantity]:
    units: dict[str, int] = {}
    for group in groups:
        for line in group:
            units[line.sku] = units.get(line.sku, 0) + line.quantity
    return [SkuQuantity(sku, q) for sku, q in units.items()]
