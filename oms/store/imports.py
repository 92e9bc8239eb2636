"""Imported orders (``oms import``): reads of the ``orders`` rows the import wrote.

An open imported order is an ``orders`` row in ``received`` with only its seq 0 on the
timeline and an ``imported`` part in its view (the stage it reached in the old system);
its workflow is started by ``oms.imports.starter``, and its first record moves ``last_seq``
past 0, so a row no longer reads as not started once its workflow has taken a step.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from oms.store.sql_enums import RECEIVED

# Along ix_orders_status_created: the received orders are the few live ones in flight and
# the imported ones waiting for their start.
_OPEN_NOT_STARTED = text(
    f"""
    SELECT id, view, created_at FROM orders
    WHERE status = {RECEIVED} AND last_seq = 0 AND channel = :channel AND view ? 'imported'
      AND (CAST(:after_at AS timestamptz) IS NULL
           OR (created_at, id) > (CAST(:after_at AS timestamptz), CAST(:after_id AS varchar)))
    ORDER BY created_at, id
    LIMIT :limit
    """
)


async def open_imported_not_started(
    conn: AsyncConnection,
    channel: str,
    limit: int,
    after: tuple[datetime, str] | None = None,
) -> list[Any]:
    """The channel's open imported orders whose workflow has taken no step (id, view,
    created_at), oldest first, after the position ``after`` (created_at, id) when given."""
    params = {
        "channel": channel,
        "limit": limit,
        "after_at": after[0] if after else None,
        "after_id": after[1] if after else None,
    }
    return list((await conn.execute(_OPEN_NOT_STARTED, params)).all())
