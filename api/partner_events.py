"""Partner events already answered (``oms.store.partner_events``), for deduplication.

A partner that did not hear our answer (a timeout, a dropped connection) sends the same
event again, with the same ``event_id``. The first answer is stored with the event and
given again, so a redelivery never reaches the workflow a second time.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from oms.store import partner_events, shipments


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
    row = await partner_events.find(engine, partner, event_id)
    return (row.body_hash, dict(row.response)) if row else None


async def remember(
    engine: AsyncEngine,
    partner: str,
    event: Any,
    shipment_id: str,
    answer: dict[str, Any],
) -> None:
    await partner_events.save(
        engine,
        partner=partner,
        event_id=event.event_id,
        body_hash=body_hash(event),
        shipment_id=shipment_id,
        tracking_number=event.tracking_number,
        accepted=bool(answer.get("accepted")),
        response=json.dumps(answer),
    )


async def shipment_by_tracking(engine: AsyncEngine, tracking_number: str) -> Any:
    return await shipments.by_tracking(engine, tracking_number)
