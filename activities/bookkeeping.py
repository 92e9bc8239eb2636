"""``bookkeep``: the order's records and the next step on its own facts, in one local
activity.

The order workflow (``workflows/order_records.py``) keeps the steps it takes in a workflow
task and writes them together: with the next local activity it runs anyway (hold rules,
reserve, commit, release), or on their own when the workflow has nothing else to do in
that task. Each local activity costs the worker an activity run, a workflow activation
and a marker in the history, so a task that recorded two steps and reserved stock pays
for one instead of three.

Idempotent as its parts are: records by (order, seq), each step as its own activity is.
A retry after the records were written writes nothing twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from temporalio import activity

from oms.contract import BookkeepingSteps, BookkeepResult
from oms.domain.messages import (
    Bookkeeping,
    CommitRequest,
    HoldCheck,
    HoldDecision,
    RecordBatch,
    ReleaseRequest,
    ReserveRequest,
    ReserveResult,
    StockChangeResult,
)


class BookkeepingActivities(BookkeepingSteps):
    def __init__(
        self,
        write_batch: Callable[[RecordBatch], Awaitable[None]],
        check_holds: Callable[[HoldCheck], Awaitable[HoldDecision]],
        reserve_stock: Callable[[ReserveRequest], Awaitable[ReserveResult]],
        commit_stock: Callable[[CommitRequest], Awaitable[StockChangeResult]],
        release_stock: Callable[[ReleaseRequest], Awaitable[StockChangeResult]],
    ) -> None:
        """The steps a call may carry: the worker's own activities (tests swap some for
        ones that fail or wait)."""
        self._write_batch = write_batch
        self._check_holds = check_holds
        self._reserve = reserve_stock
        self._commit = commit_stock
        self._release = release_stock

    @activity.defn
    async def bookkeep(self, work: Bookkeeping) -> BookkeepResult:
        if work.records is not None and work.records.entries:
            await self._write_batch(work.records)
        if work.check_holds is not None:
            return await self._check_holds(work.check_holds)
        if work.reserve is not None:
            return await self._reserve(work.reserve)
        if work.commit is not None:
            return await self._commit(work.commit)
        if work.release is not None:
            return await self._release(work.release)
        return None
