"""The previous release's ``bookkeep``: its input named the step it carried and took the
step's request untyped; the activity looked the step up by name. Test fixture only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from temporalio import activity
from temporalio.converter import value_to_type

from oms.domain.messages import (
    CommitRequest,
    HoldCheck,
    RecordBatch,
    ReleaseRequest,
    ReserveRequest,
)

STEP_REQUESTS: dict[str, type] = {
    "check_holds": HoldCheck,
    "reserve_stock": ReserveRequest,
    "commit_stock": CommitRequest,
    "release_stock": ReleaseRequest,
}


@dataclass
class Bookkeeping:
    records: RecordBatch | None = None
    step: str | None = None
    arg: Any = None


def previous_bookkeep(
    write_batch: Callable[[RecordBatch], Awaitable[None]],
    steps: Mapping[str, Callable[..., Any]],
) -> Callable[..., Any]:
    @activity.defn(name="bookkeep")
    async def bookkeep(work: Bookkeeping) -> Any:
        if work.records is not None and work.records.entries:
            await write_batch(work.records)
        if work.step is None:
            return None
        return await steps[work.step](value_to_type(STEP_REQUESTS[work.step], work.arg))

    return bookkeep
