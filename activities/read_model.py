"""Fold each order step into the read model and append it to the timeline.

Idempotent: the event row is keyed by (order id, seq) and the order row only moves
forward (``last_seq < :seq``), so a retried or late write never rolls the view back.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from oms.contract import RecordSteps
from oms.domain.messages import RecordBatch, RecordEvent, ShipmentRecord
from oms.logging import get_logger
from oms.store import orders, shipments

log = get_logger(__name__)


class ReadModelActivities(RecordSteps):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

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

    @activity.defn
    async def record_shipment(self, record: ShipmentRecord) -> None:
        await shipments.record(
            self._engine,
            record.shipment_id,
            record.status,
            record.tracking_number,
            record.carrier,
        )
