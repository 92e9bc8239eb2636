"""Fold each order step into the read model and append it to the timeline.

Idempotent: the event row is keyed by (order id, seq) and the order row only moves
forward (``last_seq < :seq``), so a retried or late write never rolls the view back.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from oms.contract import RecordSteps
from oms.domain.messages import OrderView, RecordBatch, RecordEvent, ShipmentRecord
from oms.empty_parcel import EmptyParcelWatch
from oms.logging import get_logger
from oms.store import orders, shipments

log = get_logger(__name__)


# The step that records a shipment's delivery on the timeline.
DELIVERED = "shipment_delivered"


class ReadModelActivities(RecordSteps):
    def __init__(self, engine: AsyncEngine, empty_parcels: EmptyParcelWatch | None = None) -> None:
        """``empty_parcels`` judges each delivery once it is recorded (oms.empty_parcel)."""
        self._engine = engine
        self._empty_parcels = empty_parcels

    async def _judge(self, view: OrderView, entries: list[tuple[str, dict[str, Any]]]) -> None:
        delivered = [str(data.get("shipment_id")) for kind, data in entries if kind == DELIVERED]
        if self._empty_parcels is None or not delivered:
            return
        try:
            await self._empty_parcels.delivered(view, delivered)
        except Exception as exc:  # the order's records matter more than its alert
            log.warning("empty_parcel_check_failed", order_id=view.id, error=type(exc).__name__)

    @activity.defn
    async def record_order_event(self, event: RecordEvent) -> None:
        view = event.view
        params = {
            "order_id": view.id,
            "seq": event.seq,
            "type": event.type,
            "status": view.status,
            "data": json.dumps(event.data),
            "view": json.dumps(asdict(view)),
            "reason": view.failure_reason,
            "at": datetime.fromisoformat(view.updated_at),
        }
        await orders.record(self._engine, params, view.shipments if event.shipments else [])
        await self._judge(view, [(event.type, event.data)])
        log.info(
            "order_event", order_id=view.id, seq=event.seq, type=event.type, status=view.status
        )

    async def write_batch(self, batch: RecordBatch) -> None:
        """Append a batch of steps to the timeline and fold the view in (``bookkeep``)."""
        view, entries = batch.view, batch.entries
        followed = view.shipments if batch.shipments else []
        await orders.record_batch(
            self._engine,
            {
                "order_id": view.id,
                "seqs": [e.seq for e in entries],
                "types": [e.type for e in entries],
                "statuses": [e.status for e in entries],
                "datas": [json.dumps(e.data) for e in entries],
                "ats": [datetime.fromisoformat(e.at) for e in entries],
                "seq": max(e.seq for e in entries),
                "status": view.status,
                "view": json.dumps(asdict(view)),
                "reason": view.failure_reason,
                "at": datetime.fromisoformat(view.updated_at),
                "ship_ids": [s.id for s in followed],
                "ship_statuses": [s.status for s in followed],
                "ship_tracking": [s.tracking_number for s in followed],
                "ship_carriers": [s.carrier for s in followed],
            },
        )
        for e in entries:  # one line per step, as record_order_event logs them
            log.info("order_event", order_id=view.id, seq=e.seq, type=e.type, status=e.status)
        await self._judge(view, [(e.type, e.data) for e in entries])

    @activity.defn
    async def record_shipment(self, record: ShipmentRecord) -> None:
        await shipments.record(
            self._engine,
            record.shipment_id,
            record.status,
            record.tracking_number,
            record.carrier,
        )
