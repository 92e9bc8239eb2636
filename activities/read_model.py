"""Fold each order step into the read model and append it to the timeline.

Idempotent: the event row is keyed by (order id, seq) and the order row only moves
forward (``last_seq < :seq``), so a retried or late write never rolls the view back.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity

from oms.contract import RecordSteps
from oms.db.engine import one_statement
from oms.domain.messages import OrderView, RecordBatch, RecordEvent, ShipmentRecord
from oms.logging import get_logger

log = get_logger(__name__)

_APPEND = text(
    """
    INSERT INTO order_events (order_id, seq, type, status, data, created_at)
    VALUES (:order_id, :seq, :type, :status, CAST(:data AS jsonb), :at)
    ON CONFLICT (order_id, seq) DO NOTHING
    """
)
_FOLD = text(
    """
    UPDATE orders SET status = :status, view = CAST(:view AS jsonb), failure_reason = :reason,
                      last_seq = :seq, updated_at = :at, payment_token = NULL
    WHERE id = :order_id AND last_seq < :seq
    """
)
_SHIPMENT = text(
    """
    UPDATE shipments SET status = :status, updated_at = now(),
        tracking_number = COALESCE(:tracking, tracking_number),
        carrier = COALESCE(:carrier, carrier)
    WHERE id = :id
    """
)


# Shipment statuses in the order they are reached.
_STATUS_RANK = (
    "ARRAY['pending', 'dispatched', 'shipped', 'in_transit', 'out_for_delivery', 'delivered', "
    "'failed']"
)
# A shipment row follows the order's view only forward (an older record arriving late
# leaves it be); rows are made by the dispatch step, refused ones included.
_SHIPMENT_FORWARD = text(
    f"""
    UPDATE shipments SET status = :status, updated_at = now(),
        tracking_number = COALESCE(:tracking, tracking_number),
        carrier = COALESCE(:carrier, carrier)
    WHERE id = :id AND status IS DISTINCT FROM :status
      AND array_position({_STATUS_RANK}, :status)
          > coalesce(array_position({_STATUS_RANK}, status), 0)
    """
)
# A batch of the lean order's records (one workflow task's): appended to the timeline,
# folded into the order row, and followed by its shipment rows, in one statement. One
# statement is atomic on its own, so it runs without BEGIN and COMMIT: one round trip.
_WRITE_BATCH = text(
    f"""
    WITH appended AS (
        INSERT INTO order_events (order_id, seq, type, status, data, created_at)
        SELECT :order_id, e.seq, e.type, e.status, CAST(e.data AS jsonb), e.at
        FROM unnest(CAST(:seqs AS integer[]), CAST(:types AS varchar[]),
                    CAST(:statuses AS varchar[]), CAST(:datas AS text[]),
                    CAST(:ats AS timestamptz[])) AS e(seq, type, status, data, at)
        ON CONFLICT (order_id, seq) DO NOTHING
        RETURNING 1
    ), folded AS (
        UPDATE orders SET status = :status, view = CAST(:view AS jsonb),
                          failure_reason = :reason, last_seq = :seq, updated_at = :at,
                          payment_token = NULL
        WHERE id = :order_id AND last_seq < :seq
        RETURNING 1
    ), followed AS (
        UPDATE shipments AS s SET status = f.status, updated_at = now(),
            tracking_number = COALESCE(f.tracking, s.tracking_number),
            carrier = COALESCE(f.carrier, s.carrier)
        FROM unnest(CAST(:ship_ids AS varchar[]), CAST(:ship_statuses AS varchar[]),
                    CAST(:ship_tracking AS varchar[]), CAST(:ship_carriers AS varchar[]))
             AS f(id, status, tracking, carrier)
        WHERE s.id = f.id AND s.status IS DISTINCT FROM f.status
          AND array_position({_STATUS_RANK}, f.status)
              > coalesce(array_position({_STATUS_RANK}, s.status), 0)
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM appended) AS appended,
           (SELECT count(*) FROM folded) AS folded,
           (SELECT count(*) FROM followed) AS followed
    """
)


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
        async with self._engine.begin() as conn:
            await conn.execute(_APPEND, params)
            await conn.execute(_FOLD, params)
            if event.shipments:
                await _follow_shipments(conn, view)
        log.info(
            "order_event", order_id=view.id, seq=event.seq, type=event.type, status=view.status
        )

    async def write_batch(self, batch: RecordBatch) -> None:
        """Append a batch of steps to the timeline and fold the view in (``bookkeep``)."""
        view, entries = batch.view, batch.entries
        shipments = view.shipments if batch.shipments else []
        async with one_statement(self._engine) as conn:
            await conn.execute(
                _WRITE_BATCH,
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
                    "ship_ids": [s.id for s in shipments],
                    "ship_statuses": [s.status for s in shipments],
                    "ship_tracking": [s.tracking_number for s in shipments],
                    "ship_carriers": [s.carrier for s in shipments],
                },
            )
        for e in entries:  # one line per step, as record_order_event logs them
            log.info("order_event", order_id=view.id, seq=e.seq, type=e.type, status=e.status)

    @activity.defn
    async def record_shipment(self, record: ShipmentRecord) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                _SHIPMENT,
                {
                    "id": record.shipment_id,
                    "status": record.status,
                    "tracking": record.tracking_number,
                    "carrier": record.carrier,
                },
            )


async def _follow_shipments(conn: AsyncConnection, view: OrderView) -> None:
    if view.shipments:
        await conn.execute(
            _SHIPMENT_FORWARD,
            [
                {
                    "id": s.id,
                    "status": s.status,
                    "tracking": s.tracking_number,
                    "carrier": s.carrier,
                }
                for s in view.shipments
            ],
        )
