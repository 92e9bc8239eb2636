"""The histories of ``oms bench``'s runs: what each order (with its shipment children) and
each bare workflow cost the engine, and the partners' pace read from the shipments."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from devtools.bench.figures import (
    DISPATCHED,
    PARTNER,
    HistoryCount,
    count_history,
    mean_and_max,
    partner_gaps,
    percentile,
)
from oms.domain.ids import order_workflow_id

# Shortest dispatch-to-shipped and carrier step that zero simulator delays still allow: the
# courier looks for due callbacks every 0.25 s.
ZERO_DELAY_GAP_S = 0.5


DISPATCH_ACTIVITY = "dispatch_shipment"
# Partner webhooks arrive as these signals: to the lean order itself (``shipment_event``), or
# to the shipment's own workflow for orders of the type before it.
PARTNER_SIGNALS = frozenset({"shipment_event", "warehouse_event", "carrier_event"})


def _seconds(event: Any) -> float:
    return float(event.event_time.seconds + event.event_time.nanos / 1e9)


def partner_marks(events: list[Any]) -> list[tuple[str, float]]:
    """The dispatches' completions and the partner webhooks of one history, with their times."""
    dispatches: set[int] = set()
    marks = []
    for e in events:
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            if e.activity_task_scheduled_event_attributes.activity_type.name == DISPATCH_ACTIVITY:
                dispatches.add(e.event_id)
        elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            if e.activity_task_completed_event_attributes.scheduled_event_id in dispatches:
                marks.append((DISPATCHED, _seconds(e)))
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            if e.workflow_execution_signaled_event_attributes.signal_name in PARTNER_SIGNALS:
                marks.append((PARTNER, _seconds(e)))
    return marks


async def _history(client: Client, workflow_id: str) -> list[Any]:
    return list((await client.get_workflow_handle(workflow_id).fetch_history()).events)


@dataclass
class Histories:
    per_order: list[HistoryCount] = field(default_factory=list)
    per_bare: list[HistoryCount] = field(default_factory=list)
    ship_gaps: list[float] = field(default_factory=list)
    carrier_steps: list[float] = field(default_factory=list)
    release_delay_s: float | None = None

    def figures(self) -> dict[str, Any]:
        def pace(values: list[float]) -> dict[str, float | None]:
            return {
                "min": round(min(values), 3) if values else None,
                "p50": None if not values else round(percentile(values, 50) or 0, 3),
            }

        return {
            "order": mean_and_max(self.per_order),
            "bare": mean_and_max(self.per_bare),
            "sampled_orders": len(self.per_order),
            "sim_dispatch_to_shipped_s": pace(self.ship_gaps),
            "sim_carrier_step_s": pace(self.carrier_steps),
            "release_delay_s": self.release_delay_s,
        }


async def _order_history(client: Client, order_id: str, found: Histories) -> None:
    events = await _history(client, order_workflow_id(order_id))
    total = count_history(e.event_type for e in events)
    children = [
        e.start_child_workflow_execution_initiated_event_attributes.workflow_id
        for e in events
        if e.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
    ]
    histories = [events] + [await _history(client, child) for child in children]
    for history in histories[1:]:
        total = total + count_history(e.event_type for e in history)
    for history in histories:
        ship, steps = partner_gaps(partner_marks(history))
        if ship is not None:
            found.ship_gaps.append(ship)
        found.carrier_steps += steps
    found.per_order.append(total)
    if found.release_delay_s is None and events:
        started = events[0].workflow_execution_started_event_attributes.input.payloads
        [inp] = await client.data_converter.decode(list(started), [dict])
        found.release_delay_s = float(inp.get("release_delay_s", 0.0))


async def read_histories(client: Client, orders: list[str], bare: list[str]) -> Histories:
    found = Histories()
    gate = asyncio.Semaphore(8)

    async def order(order_id: str) -> None:
        async with gate:
            await _order_history(client, order_id, found)

    async def bare_one(workflow_id: str) -> None:
        async with gate:
            events = await _history(client, workflow_id)
            found.per_bare.append(count_history(e.event_type for e in events))

    await asyncio.gather(*(order(i) for i in orders), *(bare_one(i) for i in bare))
    return found


def pace_warnings(histories: Histories) -> list[str]:
    """Simulator delays and a cancel window that are not zero: the figures then measure
    waiting, not the order's cost."""
    warnings = []
    named = (
        ("OMS_SIM_SHIP_DELAY_S", "dispatch to shipped", histories.ship_gaps),
        ("OMS_SIM_CARRIER_STEP_S", "carrier step", histories.carrier_steps),
    )
    for variable, what, gaps in named:
        if gaps and min(gaps) > ZERO_DELAY_GAP_S:
            warnings.append(
                f"the shortest {what} took {min(gaps):.2f} s: is {variable}=0 set for the "
                "system (make dev)?"
            )
    if histories.release_delay_s:
        warnings.append(
            f"orders wait {histories.release_delay_s:g} s for release: set OMS_RELEASE_DELAY_S=0"
        )
    return warnings
