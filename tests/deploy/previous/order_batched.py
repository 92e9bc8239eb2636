# The previous release's ``order.batched`` (commit 1832280), rebuilt for the deploy test:
# that release's ``order.batched`` was its ``order.lean`` with the records batched, and its
# ``order.lean`` is the one frozen in workflows/legacy/order_lean.py. What batching added is
# here, as it was: the records kept and written by the ``bookkeep`` local activity, whose
# input then named its step (tests/deploy/previous/bookkeeping.py). Test fixture only.
"""The previous release's ``order.batched``: the old build of tests/integration/test_deploy.py."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from oms.domain.messages import OrderInput, OrderView, RecordBatch, TimelineEntry
    from oms.domain.search_attributes import ORDER_STATUS
    from oms.domain.status import OrderStatus
    from tests.deploy.previous.bookkeeping import Bookkeeping
    from workflows.legacy.order_lean import LeanOrderWorkflow


@workflow.defn(name="order.batched")
class PreviousBatchedOrderWorkflow(LeanOrderWorkflow):
    @workflow.init
    def __init__(self, inp: OrderInput) -> None:
        super().__init__(inp)
        self._pending: list[TimelineEntry] = []
        self._flusher: asyncio.Task[None] | None = None
        self._status_attribute = inp.view.status

    @workflow.run
    async def run(self, inp: OrderInput) -> OrderView:
        view = await self._run()
        if self._flusher is not None:
            await self._flusher
        await self._write_pending()
        return view

    async def _bookkeeping(self, name: str, arg: Any, result_type: type | None) -> Any:
        return await self._local(
            "bookkeep", Bookkeeping(self._take_pending(), name, arg), result_type
        )

    async def _record(
        self, kind: str, status: OrderStatus | None, data: dict[str, Any] | None = None
    ) -> None:
        data, _ = self._take_step(status, data)
        self._seq += 1
        view = self.view
        self._pending.append(TimelineEntry(self._seq, kind, view.status, view.updated_at, data))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._write_when_idle())

    def _take_pending(self) -> RecordBatch | None:
        if not self._pending:
            return None
        entries, self._pending = self._pending, []
        if self.view.status != self._status_attribute:
            self._status_attribute = self.view.status
            workflow.upsert_search_attributes([ORDER_STATUS.value_set(self.view.status)])
        return RecordBatch(entries, self.view)

    async def _write_when_idle(self) -> None:
        await workflow.wait_condition(lambda: True)
        await self._write_pending()

    async def _write_pending(self) -> None:
        while self._pending:
            await self._local("bookkeep", Bookkeeping(self._take_pending()), None)
