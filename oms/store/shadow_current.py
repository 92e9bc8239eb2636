"""``shadow_current``: the current system's decisions for a shadow channel's orders, as
loaded from its export (``oms shadow load``, ``POST /v1/shadow/decisions``). One row per
(channel, external id); a later load replaces the rows of the orders it names, in one
transaction, set-based (the rows travel as one JSON array per chunk).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

CHUNK = 5000
_UPSERT = text(
    """
    INSERT INTO shadow_current (channel, external_id, held, cancelled, warehouses, split,
                                shipped_at, loaded_at, loaded_by, file)
    SELECT :channel, r->>'external_id', CAST(r->>'held' AS boolean),
           CAST(r->>'cancelled' AS boolean),
           CASE WHEN jsonb_typeof(r->'warehouses') = 'array'
                THEN ARRAY(SELECT jsonb_array_elements_text(r->'warehouses')) END,
           CAST(r->>'split' AS boolean), CAST(r->>'shipped_at' AS timestamptz),
           clock_timestamp(), :by, :file
    FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS r
    ON CONFLICT (channel, external_id) DO UPDATE SET
        held = EXCLUDED.held, cancelled = EXCLUDED.cancelled,
        warehouses = EXCLUDED.warehouses, split = EXCLUDED.split,
        shipped_at = EXCLUDED.shipped_at, loaded_at = EXCLUDED.loaded_at,
        loaded_by = EXCLUDED.loaded_by, file = EXCLUDED.file
    """
)
_ROWS = text(
    "SELECT external_id, held, cancelled, warehouses, split, shipped_at, loaded_at, "
    "loaded_by, file FROM shadow_current WHERE channel = :channel ORDER BY external_id"
)


async def load(
    engine: AsyncEngine, channel: str, rows: list[dict[str, Any]], by: str, file: str
) -> int:
    """Store ``rows`` (external_id, held, cancelled, warehouses (a list), split, shipped_at
    (ISO 8601), each may be None) for the channel, replacing earlier rows of the same
    orders; all or nothing. The number of rows written."""
    async with engine.begin() as conn:
        for start in range(0, len(rows), CHUNK):
            chunk = json.dumps(rows[start : start + CHUNK])
            params = {"channel": channel, "rows": chunk, "by": by, "file": file}
            await conn.execute(_UPSERT, params)
    return len(rows)


async def rows(engine: AsyncEngine, channel: str) -> list[Any]:
    """The channel's loaded rows, by external id."""
    async with engine.connect() as conn:
        return list((await conn.execute(_ROWS, {"channel": channel})).all())
