"""The ``partner_events`` table: partner events already answered, for deduplication.

A partner that did not hear our answer (a timeout, a dropped connection) sends the same
event again, with the same ``event_id``. The first answer is stored with the event and
given again, so a redelivery never reaches the workflow a second time.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from oms.db.engine import one_statement

_FIND = text("SELECT body_hash, response FROM partner_events WHERE partner = :p AND event_id = :e")
_SAVE = text(
    """
    INSERT INTO partner_events (partner, event_id, body_hash, shipment_id, tracking_number,
                                accepted, response, created_at)
    VALUES (:p, :e, :h, :s, :t, :a, CAST(:r AS jsonb), now())
    ON CONFLICT (partner, event_id) DO NOTHING
    """
)
# A carrier scan can come before the workflow has recorded the tracking number that the
# warehouse reported: the accepted warehouse event already links the two.
_BY_TRACKING = text(
    """
    SELECT id, order_id FROM shipments WHERE tracking_number = :t
    UNION ALL
    SELECT e.shipment_id, s.order_id FROM partner_events e JOIN shipments s
      ON s.id = e.shipment_id
    WHERE e.partner = 'warehouse' AND e.tracking_number = :t AND e.accepted
    LIMIT 1
    """
)


def body_hash(event: Any) -> str:
    """What must match for a redelivery to be the same event. ``occurred_at`` is left out:
    a partner that rebuilds its message for each attempt stamps it anew."""
    meaning = event.model_dump(mode="json", exclude={"occurred_at"})
    canonical = json.dumps(meaning, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def earlier_answer(
    engine: AsyncEngine, partner: str, event_id: str
) -> tuple[str, dict[str, Any]] | None:
    """The body hash and the answer of an event already handled, if any."""
    async with one_statement(engine) as conn:
        row = (await conn.execute(_FIND, {"p": partner, "e": event_id})).first()
    return (row.body_hash, dict(row.response)) if row else None


async def remember(
    engine: AsyncEngine,
    partner: str,
    event: Any,
    shipment_id: str,
    answer: dict[str, Any],
) -> None:
    async with one_statement(engine) as conn:
        await conn.execute(
            _SAVE,
            {
                "p": partner,
                "e": event.event_id,
                "h": body_hash(event),
                "s": shipment_id,
                "t": event.tracking_number,
                "a": bool(answer.get("accepted")),
                "r": json.dumps(answer),
            },
        )


async def shipment_by_tracking(engine: AsyncEngine, tracking_number: str) -> Any:
    async with one_statement(engine) as conn:
        return (await conn.execute(_BY_TRACKING, {"t": tracking_number})).first()
