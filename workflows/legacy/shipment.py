"""FROZEN. The ``shipment`` child workflow of the legacy ``order`` type (``legacy/order.py``):
one shipment, dispatched and followed until delivered. Delete it with that type.

One shipment: hand it to the warehouse, then follow it until the carrier delivers it.

Warehouse and carrier webhooks arrive as signals; each must move the parcel forward or it
is ignored, so duplicated or late deliveries of the same event change nothing.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from oms.domain.messages import (
        AlertRequest,
        CommitRequest,
        DispatchRequest,
        DispatchResult,
        ShipmentEvent,
        ShipmentInput,
        ShipmentRecord,
        ShipmentResult,
        ShipmentView,
        StockChangeResult,
    )
    from oms.domain.status import PARTNER_SHIPMENT_EVENTS, ShipmentStatus, shipment_advances
    from workflows.options import DISPATCH, MUST_COMPLETE


@workflow.defn(name="shipment")
class ShipmentWorkflow:
    @workflow.init
    def __init__(self, inp: ShipmentInput) -> None:
        self._shipment: ShipmentView = inp.shipment
        self._inbox: list[ShipmentEvent] = []
        self._alerted: set[str] = set()  # statuses a silence alert was raised in

    @workflow.run
    async def run(self, inp: ShipmentInput) -> ShipmentResult:
        shipment = self._shipment
        await workflow.execute_activity(
            "dispatch_shipment",
            DispatchRequest(
                inp.order_id, shipment.id, shipment.warehouse_id, shipment.lines, inp.address
            ),
            result_type=DispatchResult,
            **DISPATCH,
        )
        await self._advance(inp, ShipmentEvent(shipment.id, ShipmentStatus.DISPATCHED))
        while shipment.status != ShipmentStatus.DELIVERED:
            await self._next_event(inp)
            event = self._inbox.pop(0)
            if shipment_advances(shipment.status, event.status):
                await self._advance(inp, event)
        return ShipmentResult(shipment.id, shipment.status)

    async def _advance(self, inp: ShipmentInput, event: ShipmentEvent) -> None:
        shipment = self._shipment
        # A carrier scan can overtake the warehouse's "shipped" message; either way the
        # goods have left, so the stock is committed once, before anything later.
        shipped = ShipmentStatus.SHIPPED
        if shipment_advances(shipment.status, shipped) and not shipment_advances(
            event.status, shipped
        ):
            await self._commit_stock(inp, event.occurred_at)
        shipment.status = event.status
        shipment.tracking_number = event.tracking_number or shipment.tracking_number
        shipment.carrier = event.carrier or shipment.carrier
        await workflow.execute_activity(
            "record_shipment",
            ShipmentRecord(
                shipment.id,
                inp.order_id,
                shipment.warehouse_id,
                shipment.status,
                shipment.tracking_number,
                shipment.carrier,
            ),
            **MUST_COMPLETE,
        )
        progress = ShipmentEvent(
            shipment.id,
            shipment.status,
            event.event_id,
            shipment.tracking_number,
            shipment.carrier,
            event.occurred_at,
        )
        await workflow.get_external_workflow_handle(inp.parent_workflow_id).signal(
            "shipment_progress", progress
        )

    async def _next_event(self, inp: ShipmentInput) -> None:
        """Wait for the next partner event. A shipment the warehouse has not shipped within
        ``ship_deadline_s``, or in transit with no carrier event for ``tracking_silence_s``,
        raises an alert once per status, and goes on waiting: only operators can tell
        whether a parcel is lost."""
        shipped = not shipment_advances(self._shipment.status, ShipmentStatus.SHIPPED)
        limit = inp.tracking_silence_s if shipped else inp.ship_deadline_s
        stage = self._shipment.status
        if limit <= 0 or stage in self._alerted:
            await workflow.wait_condition(lambda: bool(self._inbox))
            return
        try:
            await workflow.wait_condition(
                lambda: bool(self._inbox), timeout=timedelta(seconds=limit)
            )
        except TimeoutError:
            self._alerted.add(stage)
            detail = {
                "stage": "not_shipped" if not shipped else "no_carrier_event",
                "status": stage,
                "silent_s": limit,
            }
            await workflow.execute_activity(
                "raise_alert",
                AlertRequest(inp.order_id, "shipment_silent", detail, self._shipment.id),
                result_type=int,
                **MUST_COMPLETE,
            )
            await workflow.wait_condition(lambda: bool(self._inbox))

    async def _commit_stock(self, inp: ShipmentInput, shipped_at: str | None) -> None:
        shipment = self._shipment
        await workflow.execute_activity(
            "commit_stock",
            CommitRequest(inp.order_id, shipment.id, shipment.warehouse_id, shipped_at),
            result_type=StockChangeResult,
            **MUST_COMPLETE,
        )

    def _accept(self, event: ShipmentEvent) -> None:
        # Signals can come from anyone with Temporal access (Web UI, CLI): a status no
        # partner can report is dropped here rather than failing the workflow later.
        if event.status in PARTNER_SHIPMENT_EVENTS:
            self._inbox.append(event)
        else:
            workflow.logger.warning("ignored shipment event with status %r", event.status)

    @workflow.signal(name="warehouse_event")
    def warehouse_event(self, event: ShipmentEvent) -> None:
        self._accept(event)

    @workflow.signal(name="carrier_event")
    def carrier_event(self, event: ShipmentEvent) -> None:
        self._accept(event)

    @workflow.query(name="status")
    def status(self) -> ShipmentView:
        return self._shipment
