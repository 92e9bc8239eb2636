"""The figures and checks of ``oms bench``, as pure functions over what it collected.

Latency percentiles, history counts per order, CPU seconds per order, the partners' pace
read from shipment histories, and the books (status, payments, stock) of the bench's orders.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from temporalio.api.enums.v1 import EventType


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0 to 100), interpolated between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_ms(seconds: Sequence[float]) -> dict[str, float | int | None]:
    """p50, p99 and max in milliseconds, and how many samples they come from."""
    ms = [s * 1000 for s in seconds]
    p50, p99 = percentile(ms, 50), percentile(ms, 99)
    return {
        "p50": _round(p50),
        "p99": _round(p99),
        "max": _round(max(ms)) if ms else None,
        "n": len(ms),
    }


def _round(value: float | None, places: int = 1) -> float | None:
    return None if value is None else round(value, places)


@dataclass
class HistoryCount:
    """What one history (or an order with its children) costs the engine."""

    events: int = 0
    workflow_tasks: int = 0  # WorkflowTaskCompleted
    activities: int = 0  # ActivityTaskScheduled
    signals: int = 0  # WorkflowExecutionSignaled
    children: int = 0  # StartChildWorkflowExecutionInitiated

    def __add__(self, other: HistoryCount) -> HistoryCount:
        mine, theirs = asdict(self), asdict(other)
        return HistoryCount(**{k: mine[k] + theirs[k] for k in mine})


_COUNTED: dict[int, str] = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: "workflow_tasks",
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activities",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "signals",
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: "children",
}


def count_history(event_types: Iterable[int]) -> HistoryCount:
    count = HistoryCount()
    for event_type in event_types:
        count.events += 1
        field = _COUNTED.get(event_type)
        if field is not None:
            setattr(count, field, getattr(count, field) + 1)
    return count


def mean_and_max(counts: Sequence[HistoryCount]) -> dict[str, dict[str, float]]:
    """Each count's mean and max over the orders (or bare workflows)."""
    if not counts:
        return {}
    rows = [asdict(c) for c in counts]
    return {
        name: {
            "mean": round(sum(r[name] for r in rows) / len(rows), 1),
            "max": max(r[name] for r in rows),
        }
        for name in rows[0]
    }


def cpu_per_unit(
    before: dict[str, float | None], after: dict[str, float | None], units: int
) -> dict[str, float | None]:
    """CPU seconds per order (or workflow) for each process group between two samples."""
    per: dict[str, float | None] = {}
    for name, start in before.items():
        end = after.get(name)
        per[name] = None if start is None or end is None or units <= 0 else (end - start) / units
    return {name: None if v is None else round(v, 4) for name, v in per.items()}


DISPATCHED, PARTNER = "dispatched", "partner"


def partner_gaps(marks: Sequence[tuple[str, float]]) -> tuple[float | None, list[float]]:
    """From a history's marks, oldest first: ``dispatched`` (a dispatch activity completed)
    and ``partner`` (a warehouse or carrier webhook arrived as a signal), each with its time.
    Answers the time from the dispatch to the first webhook (``shipped``) and the times
    between later webhooks (the carrier's steps): upper bounds of the simulator's delays."""
    dispatched = next((t for kind, t in marks if kind == DISPATCHED), None)
    signals = [t for kind, t in marks if kind == PARTNER]
    ship = signals[0] - dispatched if signals and dispatched is not None else None
    return ship, [b - a for a, b in itertools.pairwise(signals)]


# --- the books ---------------------------------------------------------------------------


def order_problems(expected: Iterable[str], views: dict[str, dict[str, Any]]) -> list[str]:
    """Every order the bench submitted is in the read model, and delivered."""
    problems = []
    for order_id in expected:
        view = views.get(order_id)
        if view is None:
            problems.append(f"{order_id}: not in the read model")
        elif view["status"] != "delivered":
            problems.append(f"{order_id}: {view['status']}, not delivered")
    return problems


def payment_problems(order_id: str, total: Decimal, entries: list[dict[str, Any]]) -> list[str]:
    """One settled authorization, and settled captures adding up to the order's total."""
    settled = [e for e in entries if e["status"] == "succeeded"]
    auths = [e for e in settled if e["kind"] == "authorize"]
    captured = sum((Decimal(e["amount"]) for e in settled if e["kind"] == "capture"), Decimal(0))
    problems = []
    if len(auths) != 1:
        problems.append(f"{order_id}: {len(auths)} settled authorizations, not 1")
    if captured != total:
        problems.append(f"{order_id}: captured {captured} of a {total} order")
    return problems


def stock_problems(
    where: str, initial: int, level: dict[str, Any] | None, delivered_units: int
) -> list[str]:
    """on_hand dropped by exactly the units delivered, and nothing is left reserved."""
    if level is None:
        return [f"{where}: no stock row"]
    problems = []
    if level["on_hand"] != initial - delivered_units:
        problems.append(
            f"{where}: on_hand {level['on_hand']}, expected {initial} - {delivered_units} delivered"
        )
    if level["reserved"] != 0:
        problems.append(f"{where}: {level['reserved']} still reserved")
    return problems
