"""``bookkeep``: the lean order's records and the next step on its own facts, in one local
activity.

The lean order (``workflows/order_lean.py``, since the patch ``records-batched``) keeps
the steps it takes in a workflow task and writes them together: with the next local
activity it runs anyway (hold rules, reserve, commit, release), or on their own when the
workflow has nothing else to do in that task. Each local activity costs the worker an
activity run, a workflow activation and a marker in the history, so a task that recorded
two steps and reserved stock pays for one instead of three.

Idempotent as its parts are: records by (order, seq), each step as its own activity is.
A retry after the records were written writes nothing twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from temporalio import activity
from temporalio.converter import value_to_type
from temporalio.exceptions import ApplicationError

from activities.read_model import ReadModelActivities
from oms.domain.messages import (
    Bookkeeping,
    CommitRequest,
    HoldCheck,
    ReleaseRequest,
    ReserveRequest,
)

# The steps ``bookkeep`` may carry, and the request each takes.
STEP_REQUESTS: dict[str, type] = {
    "check_holds": HoldCheck,
    "reserve_stock": ReserveRequest,
    "commit_stock": CommitRequest,
    "release_stock": ReleaseRequest,
}


class BookkeepingActivities:
    def __init__(
        self, read_model: ReadModelActivities, activities: Mapping[str, Callable[..., Any]]
    ) -> None:
        """``activities``: the worker's activities by name, read at each call, so a step
        runs whatever the worker registered under its name (tests swap some)."""
        self._read_model = read_model
        self._activities = activities

    @activity.defn(name="bookkeep")
    async def bookkeep(self, work: Bookkeeping) -> Any:
        request_type = None
        if work.step is not None:
            request_type = STEP_REQUESTS.get(work.step)
            if request_type is None:
                raise ApplicationError(
                    f"unknown bookkeeping step {work.step!r}", non_retryable=True
                )
        if work.records is not None and work.records.entries:
            await self._read_model.write_batch(work.records)
        if work.step is None or request_type is None:
            return None
        step: Callable[[Any], Awaitable[Any]] = self._activities[work.step]
        return await step(value_to_type(request_type, work.arg))
