"""How the order writes down what it does: the read model, the timeline and the order's
own facts (hold rules, stock), through one local activity, ``bookkeep``.

Each step the order takes is applied to its view at once and kept; the steps of one
workflow task are written together, with the next local step the task runs anyway (hold
rules, reserve, commit, release), or, if it has none, once everything else in the task
waits. The status search attribute is set once per batch. A single-warehouse order runs
10 local activities instead of 12 (docs/performance.md).

Part of :class:`workflows.order.OrderWorkflow`; every call here happens in the order the
workflow makes it, so the commands stay those the recorded histories hold.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from oms.contract import BookkeepingSteps
    from oms.domain.messages import (
        Bookkeeping,
        CommitRequest,
        HoldCheck,
        HoldDecision,
        OrderView,
        RecordBatch,
        ReleaseRequest,
        ReserveRequest,
        ReserveResult,
        StockChangeResult,
        TimelineEntry,
    )
    from oms.domain.search_attributes import ORDER_STATUS
    from oms.domain.status import OrderStatus, can_transition
    from workflows.options import MUST_COMPLETE

LOCAL_TIMEOUT = timedelta(seconds=15)
T = TypeVar("T")


class Records:
    def __init__(self, view: OrderView) -> None:
        self.view = view
        self._seq = 0
        self._pending: list[TimelineEntry] = []  # steps taken, not yet written
        self._flusher: asyncio.Task[None] | None = None
        self._status_attribute = view.status  # the status search attribute's value

    # --- steps ---------------------------------------------------------------------------

    def record(self, kind: str, status: OrderStatus | None, data: dict[str, Any] | None) -> None:
        """Take the step now; write it with the workflow task's next local step, or, if
        the task has none, once everything else in it waits (``_write_when_idle``)."""
        data = self._take_step(status, data)
        self._seq += 1
        view = self.view
        self._pending.append(TimelineEntry(self._seq, kind, view.status, view.updated_at, data))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._write_when_idle())

    def _take_step(self, status: OrderStatus | None, data: dict[str, Any] | None) -> dict[str, Any]:
        """Apply a step to the view: its status (``from``/``to`` in the step's data) and
        ``updated_at``."""
        data = data or {}
        view = self.view
        if status is not None and status != view.status:
            if not can_transition(OrderStatus(view.status), status):
                workflow.logger.warning("unexpected transition %s -> %s", view.status, status)
            data = {**data, "from": view.status, "to": status.value}
            view.status = status.value
        view.updated_at = workflow.now().isoformat()
        return data

    async def flush(self) -> None:
        """Every step written: the order's last act before it ends."""
        if self._flusher is not None:
            await self._flusher
        await self._write_pending()

    # --- the order's own facts, with the pending steps ------------------------------------

    async def check_holds(self, check: HoldCheck) -> HoldDecision:
        return await self._bookkeep(
            Bookkeeping(self._take_pending(), check_holds=check), HoldDecision
        )

    async def reserve(self, req: ReserveRequest) -> ReserveResult:
        return await self._bookkeep(Bookkeeping(self._take_pending(), reserve=req), ReserveResult)

    async def commit(self, req: CommitRequest) -> StockChangeResult:
        work = Bookkeeping(self._take_pending(), commit=req)
        return await self._bookkeep(work, StockChangeResult)

    async def release(self, req: ReleaseRequest) -> StockChangeResult:
        work = Bookkeeping(self._take_pending(), release=req)
        return await self._bookkeep(work, StockChangeResult)

    # --- writing ---------------------------------------------------------------------------

    def _take_pending(self) -> RecordBatch | None:
        """The steps not yet written, handed to the local activity about to run; and the
        status search attribute, set once for all of them."""
        if not self._pending:
            return None
        entries, self._pending = self._pending, []
        if self.view.status != self._status_attribute:
            self._status_attribute = self.view.status
            workflow.upsert_search_attributes([ORDER_STATUS.value_set(self.view.status)])
        return RecordBatch(entries, self.view)

    async def _write_when_idle(self) -> None:
        # Resumes once every other coroutine of the workflow waits: whatever the workflow
        # task recorded by then, and no local step took along, is written here.
        await workflow.wait_condition(lambda: True)
        await self._write_pending()

    async def _write_pending(self) -> None:
        while self._pending:
            await self._bookkeep(Bookkeeping(self._take_pending()), type(None))

    async def _bookkeep(self, work: Bookkeeping, result_type: type[T]) -> T:
        # The result decodes as the first type of ``BookkeepResult`` its fields fit: the
        # step types have distinct required fields, so it is the step's own result.
        result = await workflow.execute_local_activity_method(
            BookkeepingSteps.bookkeep,
            work,
            start_to_close_timeout=LOCAL_TIMEOUT,
            retry_policy=MUST_COMPLETE["retry_policy"],
        )
        assert isinstance(result, result_type)
        return result
