"""``partner_events``: partner events already answered, by the partner's ``event_id``, so
a redelivered event gets the first answer again instead of being processed twice."""

from __future__ import annotations

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


async def find(engine: AsyncEngine, partner: str, event_id: str) -> Any:
    """The event's row (body_hash, response), or None."""
    async with one_statement(engine) as conn:
        return (await conn.execute(_FIND, {"p": partner, "e": event_id})).first()


async def save(
    engine: AsyncEngine,
    *,
    partner: str,
    event_id: str,
    body_hash: str,
    shipment_id: str,
    tracking_number: str | None,
    accepted: bool,
    response: str,
) -> None:
    """Keep the event's answer (``response`` as JSON); the first one stays."""
    async with one_statement(engine) as conn:
        await conn.execute(
            _SAVE,
            {
                "p": partner,
                "e": event_id,
                "h": body_hash,
                "s": shipment_id,
                "t": tracking_number,
                "a": accepted,
                "r": response,
            },
        )
