"""FROZEN. The lean order workflow (type ``order.lean``), kept only for the orders that
started as it: it was the type of every new order in the releases from the lean order
(histories ``v6-*``) until ``order.batched`` (``v7-*``) became the default. Nothing new
starts as it; delete it once ``oms workflows drain`` counts no open ``order.lean``
execution (docs/workflow-changes.md). Do not edit: a change here changes how running
orders replay.

It is the ``order`` type (``legacy/order.py``, frozen too) with every patch on, the records
written one local activity at a time, and each shipment followed in the order itself.
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
        RecordEvent,
        ShipmentEvent,
        ShipmentView,
        StockChangeResult,
    )
    from oms.domain.search_attributes import SLA_DEADLINE
    from oms.domain.status import (
        PARTNER_SHIPMENT_EVENTS,
        ShipmentStatus,
        shipment_advances,
    )
    from workflows.legacy.order import LegacyOrderWorkflow
    from workflows.options import DISPATCH, MUST_COMPLETE

LOCAL_TIMEOUT = timedelta(seconds=15)
S = ShipmentStatus


@workflow.defn(name="order.lean")
class LeanOrderWorkflow(LegacyOrderWorkflow):
    @workflow.init
    def __init__(self, inp: OrderInput) -> None:
        super().__init__(inp)
        self._inbox: dict[str, list[ShipmentEvent]] = {}
        # Each followed shipment's last status and when it was reached.
        self._last_event: dict[str, tuple[str, datetime]] = {}
        # Watches that sleep until a deadline; the order ends without waiting for them.
        self._timers: list[asyncio.Task[None]] = []

    def _choose_versions(self) -> None:
        self._v_holds = self._v_capture = self._v_rounds = True

    @workflow.run
    async def run(self, inp: OrderInput) -> OrderView:
        return await self._run()

    async def _stock(self, name: str, arg: Any, result_type: type) -> Any:
        return await self._bookkeeping(name, arg, result_type)

    async def _bookkeeping(self, name: str, arg: Any, result_type: type | None) -> Any:
        return await self._local(name, arg, result_type)

    async def _local(self, name: str, arg: Any, result_type: type | None) -> Any:
        return await workflow.execute_local_activity(
            name,
            arg,
            result_type=result_type,
            start_to_close_timeout=LOCAL_TIMEOUT,
            retry_policy=MUST_COMPLETE["retry_policy"],
        )

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
        """The SLA timers of :class:`LegacyOrderWorkflow`, set once and never cancelled: each
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
