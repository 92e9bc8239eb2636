"""An order's SLA state as the console shows it: ``late``, ``due`` (with the time left),
``on_time``, or ``none`` (no deadline applies).

The deadlines are the workflow's (workflows/order.py ``_watch_sla``): dispatched within
``sla_dispatch_s`` of the order, delivered within ``sla_delivery_s``. The workflow flags
the order late when a deadline passes; an open order whose deadline has passed but whose
flag has not been recorded yet is shown late too. A delivered order is on time unless it
was flagged; a cancelled, failed or shadowed order has no SLA state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from oms.domain.status import OrderStatus as S

# Statuses before the order is handed to a warehouse: the dispatch deadline applies.
BEFORE_DISPATCH = frozenset(
    {S.RECEIVED, S.PAYMENT_AUTHORIZED, S.ON_HOLD, S.BACKORDERED, S.RESERVED}
)
# Handed over, not yet delivered: the delivery deadline applies.
ON_THE_WAY = frozenset({S.DISPATCHED, S.PARTIALLY_SHIPPED, S.SHIPPED})


@dataclass(frozen=True)
class SlaState:
    kind: str  # late | due | on_time | none
    deadline: datetime | None = None
    left: timedelta | None = None


def sla_state(
    status: str,
    created_at: datetime,
    late: bool,
    now: datetime,
    dispatch_s: float,
    delivery_s: float,
) -> SlaState:
    if status in BEFORE_DISPATCH:
        limit = dispatch_s
    elif status in ON_THE_WAY:
        limit = delivery_s
    elif status == S.DELIVERED:
        return SlaState("late" if late else "on_time")
    else:
        return SlaState("none")
    if late:
        return SlaState("late")
    if limit <= 0:
        return SlaState("none")
    deadline = created_at + timedelta(seconds=limit)
    if deadline <= now:
        return SlaState("late", deadline)
    return SlaState("due", deadline, deadline - now)


def duration(left: timedelta) -> str:
    """``45 s``, ``12 min``, ``1 h 5 min``, ``2 d 3 h``: the time left, as ages are shown."""
    seconds = max(0, int(left.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
