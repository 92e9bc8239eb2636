# The previous release's ``order.batched`` (and ``order.lean``), as they were (commit
# 1832280): the old build of tests/integration/test_deploy.py. Test fixture only.
"""The lean order workflow (type ``order.lean``): the same order, at a fraction of the cost.

Every order since this type exists runs it; ``order`` stays registered for the orders that
started before, until they drain. It keeps every rule of :class:`OrderWorkflow` (holds,
backorders, re-routing, capture per shipment, the cancel window, SLA timers) and changes
how the work is carried out:

- the read model, the timeline and the hold rules are local activities: one marker in the
  history each, run inside the workflow task that asks for them, instead of an activity
  with its own three events and the workflow task that follows;
- each shipment is followed inside the order workflow, not in a child: the dispatch and the
  stock commit are activities of the order, partner events arrive as the order's
  ``shipment_event`` signal, and the shipment rows follow the order's records.

No patch markers: a new type starts clean. Its successor, ``order.batched``
(:class:`BatchedOrderWorkflow`, below), writes the steps an order takes in one workflow
task together. See docs/performance.md for the figures.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from oms.domain.messages import (
        AlertRequest,
        CommitRequest,
        DispatchRequest,
        DispatchResult,
        OrderInput,
        OrderView,
        RecordBatch,
        RecordEvent,
        ShipmentEvent,
        ShipmentView,
        StockChangeResult,
        TimelineEntry,
    )
    from oms.domain.search_attributes import ORDER_STATUS, SLA_DEADLINE
    from oms.domain.status import (
        PARTNER_SHIPMENT_EVENTS,
        OrderStatus,
        ShipmentStatus,
        shipment_advances,
    )
    from tests.deploy.previous.bookkeeping import Bookkeeping
    from tests.deploy.previous.order import OrderWorkflow
    from workflows.options import DISPATCH, MUST_COMPLETE

LOCAL_TIMEOUT = timedelta(seconds=15)
S = ShipmentStatus


@workflow.defn(name="order.lean")
class LeanOrderWorkflow(OrderWorkflow):
    @workflow.init
    def __init__(self, inp: OrderInput) -> None:
        super().__init__(inp)
        self._inbox: dict[str, list[ShipmentEvent]] = {}
        # Each followed shipment's last status and when it was reached.
        self._last_event: dict[str, tuple[str, datetime]] = {}
        # Watches that sleep until a deadline; the order ends without waiting for them.
        self._timers: list[asyncio.Task[None]] = []
        self._v_batch = False
        self._pending: list[TimelineEntry] = []  # steps taken, not yet written
        self._flusher: asyncio.Task[None] | None = None
        self._status_attribute = inp.view.status  # the status search attribute's value

    def _choose_versions(self) -> None:
        self._v_holds = self._v_capture = self._v_rounds = True
        self._v_batch = False  # records one by one; ``order.batched`` writes them together

    @workflow.run
    async def run(self, inp: OrderInput) -> OrderView:
        view = await self._run()
        if self._v_batch:  # every step written before the order ends
            if self._flusher is not None:
                await self._flusher
            await self._write_pending()
        return view

    async def _stock(self, name: str, arg: Any, result_type: type) -> Any:
        return await self._bookkeeping(name, arg, result_type)

    async def _bookkeeping(self, name: str, arg: Any, result_type: type | None) -> Any:
        if self._v_batch:
            return await self._local(
                "bookkeep", Bookkeeping(self._take_pending(), name, arg), result_type
            )
        return await self._local(name, arg, result_type)

    async def _local(self, name: str, arg: Any, result_type: type | None) -> Any:
        return await workflow.execute_local_activity(
            name,
            arg,
            result_type=result_type,
            start_to_close_timeout=LOCAL_TIMEOUT,
            retry_policy=MUST_COMPLETE["retry_policy"],
        )

    # --- records, batched ---------------------------------------------------------------

    async def _record(
        self, kind: str, status: OrderStatus | None, data: dict[str, Any] | None = None
    ) -> None:
        """Take the step now; write it with the workflow task's next local step, or, if
        the task has none, once everything else in it waits (``_write_when_idle``)."""
        if not self._v_batch:
            await super()._record(kind, status, data)
            return
        data, _ = self._take_step(status, data)
        self._seq += 1
        view = self.view
        self._pending.append(TimelineEntry(self._seq, kind, view.status, view.updated_at, data))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._write_when_idle())

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
            await self._local("bookkeep", Bookkeeping(self._take_pending()), None)

    def _record_of(self, kind: str, data: dict[str, Any]) -> RecordEvent:
        return RecordEvent(self._seq, kind, self.view, data, shipments=True)

    # --- shipments, followed in the order ------------------------------------------------

    async def _start_shipment(self, shipment: ShipmentView) -> None:
        self._inbox.setdefault(shipment.id, [])
        self._watchers.append(asyncio.create_task(self._track(shipment.id)))

    async def _track(self, shipment_id: str) -> None:
        """Hand the shipment to its warehouse, then follow it to delivery: each partner
        event that moves it forward is applied by the order's shipping loop; the stock is
        committed once, when the goods have left."""
        shipment = next(s for s in self.view.shipments if s.id == shipment_id)
        lines, warehouse = shipment.lines, shipment.warehouse_id
        try:
            await workflow.execute_activity(
                "dispatch_shipment",
                DispatchRequest(
                    self.view.id, shipment_id, warehouse, lines, self.view.shipping_address
                ),
                result_type=DispatchResult,
                **DISPATCH,
            )
        except ActivityError as err:
            self._failed_shipments.append((shipment_id, str(err.cause or err)))
            return
        status: str = S.DISPATCHED
        self._last_event[shipment_id] = (status, workflow.now())
        self._progress.append(ShipmentEvent(shipment_id, S.DISPATCHED))
        self._timers.append(asyncio.create_task(self._watch_silence(shipment_id)))
        inbox = self._inbox[shipment_id]
        while status != S.DELIVERED:
            await workflow.wait_condition(lambda: bool(inbox))
            event = inbox.pop(0)
            if not shipment_advances(status, event.status):
                continue
            if shipment_advances(status, S.SHIPPED) and not shipment_advances(
                event.status, S.SHIPPED
            ):
                await self._stock(
                    "commit_stock",
                    CommitRequest(self.view.id, shipment_id, warehouse, event.occurred_at),
                    StockChangeResult,
                )
            status = event.status
            self._last_event[shipment_id] = (status, workflow.now())
            self._progress.append(event)

    async def _watch_silence(self, shipment_id: str) -> None:
        """A shipment not shipped within ``ship_deadline_s`` of its dispatch, or silent in
        transit for ``tracking_silence_s``, raises an alert, once per status; it goes on
        waiting. One timer at a time, set for when the current status would turn silent
        and never cancelled: when it fires the watch looks at what happened meanwhile. A
        shipment that moves along quickly costs one timer, not one per status."""
        alerted: set[str] = set()
        while True:
            status, since = self._last_event[shipment_id]
            if status in (S.DELIVERED, S.FAILED):
                return
            shipped = not shipment_advances(status, S.SHIPPED)
            limit = self._inp.tracking_silence_s if shipped else self._inp.ship_deadline_s
            if limit <= 0 or status in alerted:
                await self._until_moved(shipment_id, (status, since))
                continue
            due = since + timedelta(seconds=limit)
            await asyncio.sleep(max((due - workflow.now()).total_seconds(), 0.001))
            if self._last_event[shipment_id] != (status, since):
                continue  # it moved on meanwhile: watch the new status
            alerted.add(status)
            detail = {
                "stage": "no_carrier_event" if shipped else "not_shipped",
                "status": status,
                "silent_s": limit,
            }
            await workflow.execute_activity(
                "raise_alert",
                AlertRequest(self.view.id, "shipment_silent", detail, shipment_id),
                result_type=int,
                **MUST_COMPLETE,
            )

    async def _until_moved(self, shipment_id: str, seen: tuple[str, datetime]) -> None:
        await workflow.wait_condition(lambda: self._last_event[shipment_id] != seen)

    # --- late orders --------------------------------------------------------------------

    async def _watch_sla(self) -> None:
        """The SLA timers of :class:`OrderWorkflow`, set once and never cancelled: each
        fires at its deadline and flags the order late if it has not got there by then.
        The order does not wait for them to end."""
        created = datetime.fromisoformat(self.view.created_at)
        if self._inp.sla_dispatch_s > 0:
            deadline = created + timedelta(seconds=self._inp.sla_dispatch_s)
            dispatched = lambda: self._dispatching  # noqa: E731
            self._timers.append(
                asyncio.create_task(self._flag_if_late("dispatch", deadline, dispatched))
            )
        if self._inp.sla_delivery_s > 0:
            self._timers.append(asyncio.create_task(self._watch_delivery(created)))

    async def _watch_delivery(self, created: datetime) -> None:
        deadline = created + timedelta(seconds=self._inp.sla_delivery_s)
        if self._inp.sla_dispatch_s > 0:  # the dispatch deadline was set at the start
            await workflow.wait_condition(lambda: self._dispatching or self._ended)
            if self._ended:
                return
        workflow.upsert_search_attributes([SLA_DEADLINE.value_set(deadline)])
        await self._flag_if_late("delivery", deadline, lambda: False)

    async def _flag_if_late(
        self, stage: str, deadline: datetime, reached: Callable[[], bool]
    ) -> None:
        await asyncio.sleep(max((deadline - workflow.now()).total_seconds(), 0.001))
        if not (self._ended or reached()):
            await self._flag_late(stage, deadline)

    def _deliver(self, event: ShipmentEvent) -> None:
        inbox = self._inbox.get(event.shipment_id)
        if inbox is None or event.status not in PARTNER_SHIPMENT_EVENTS:
            workflow.logger.warning(
                "shipment event for %s (%s) ignored", event.shipment_id, event.status
            )
            return
        inbox.append(event)

    @workflow.signal(name="shipment_event")
    async def shipment_event(self, event: ShipmentEvent) -> None:
        """A warehouse's or carrier's event for one of this order's shipments."""
        self._deliver(event)

    @workflow.signal(name="carrier_event")
    async def carrier_event(self, event: ShipmentEvent) -> None:
        """Operators may post a carrier event to the order (Web UI, CLI)."""
        self._deliver(event)


@workflow.defn(name="order.batched")
class BatchedOrderWorkflow(LeanOrderWorkflow):
    """The lean order, with its records batched (type ``order.batched``, the default for
    new orders; ``order.lean`` stays registered for the orders that started as it).

    The steps the order takes in one workflow task are written together by one local
    activity, ``bookkeep``, which also carries the next step on the order's own facts
    (hold rules, reserve, commit, release); a task with no such step writes them once
    everything else in it waits. The status search attribute is set once per batch. A
    single-warehouse order runs 10 local activities instead of 12.
    """

    def _choose_versions(self) -> None:
        super()._choose_versions()
        self._v_batch = True

    @workflow.run
    async def run(self, inp: OrderInput) -> OrderView:
        return await super().run(inp)
