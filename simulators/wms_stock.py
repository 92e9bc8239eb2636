"""The sandbox WMS's stock levels: what the OMS pulls with ``GET /wms/stock``.

Levels are set with the admin call ``PUT /sim/wms/stock {"items": [{warehouse_id, sku,
on_hand, as_of?}]}`` (``as_of`` defaults to now) and drop when the courier ships a dispatch,
by its lines, with ``as_of`` the time it shipped: they move like a real WMS's. Only pairs
that were set are kept; a dispatch of anything else changes no level.

``GET /wms/stock[?warehouse_id=W]`` needs the WMS API key and obeys the "wms" faults like
``POST /wms/dispatches`` (a refusal is a 503 the OMS retries).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from oms.logging import get_logger
from simulators.admin import refused_without_admin_key
from simulators.faults import FaultBook

router = APIRouter(tags=["sandbox WMS"])
log = get_logger("sim.wms_stock")

_SET = text(
    """
    INSERT INTO sim_wms_stock (warehouse_id, sku, on_hand, as_of)
    SELECT * FROM unnest(CAST(:w AS text[]), CAST(:sku AS text[]), CAST(:on_hand AS integer[]),
                         CAST(:as_of AS timestamptz[]))
    ON CONFLICT (warehouse_id, sku) DO UPDATE
        SET on_hand = excluded.on_hand, as_of = excluded.as_of
    """
)
_SHIP = text(
    """
    UPDATE sim_wms_stock s SET on_hand = GREATEST(s.on_hand - l.quantity, 0), as_of = now()
    FROM (
        SELECT d.warehouse_id, l.sku, sum(l.quantity) AS quantity
        FROM sim_wms_dispatches d,
             jsonb_to_recordset(d.payload -> 'lines') AS l(sku text, quantity integer)
        WHERE d.shipment_id = :s
        GROUP BY d.warehouse_id, l.sku
    ) l
    WHERE s.warehouse_id = l.warehouse_id AND s.sku = l.sku
    """
)


def _item(row: Any) -> dict[str, Any]:
    return {
        "warehouse_id": row.warehouse_id,
        "sku": row.sku,
        "on_hand": row.on_hand,
        "as_of": row.as_of.isoformat(),
    }


@router.get("/wms/stock")
async def read_stock(
    request: Request, warehouse_id: str | None = None, authorization: str | None = Header(None)
) -> JSONResponse:
    faults: FaultBook = request.app.state.faults
    if (refusal := faults.refusal("wms")) is not None:
        await asyncio.sleep(faults.get("wms").latency_s)
        return JSONResponse({"detail": refusal}, status_code=503)
    if authorization != f"Bearer {request.app.state.settings.wms_api_key}":
        return JSONResponse({"detail": "bad WMS API key"}, status_code=401)
    async with request.app.state.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT warehouse_id, sku, on_hand, as_of FROM sim_wms_stock "
                "WHERE CAST(:w AS text) IS NULL OR warehouse_id = :w ORDER BY warehouse_id, sku"
            ),
            {"w": warehouse_id},
        )
        return JSONResponse({"items": [_item(r) for r in rows]})


def _levels(body: Any) -> list[tuple[str, str, int, datetime | None]]:
    """The levels of a ``PUT /sim/wms/stock`` body; ValueError when it is not one."""
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ValueError('expected an object {"items": [{warehouse_id, sku, on_hand}, ...]}')
    levels = []
    for n, item in enumerate(items):
        try:
            w, sku, on_hand = item["warehouse_id"], item["sku"], item["on_hand"]
            as_of = datetime.fromisoformat(item["as_of"]) if item.get("as_of") else None
        except (TypeError, KeyError, ValueError) as exc:
            raise ValueError(f"items[{n}]: {exc!r}") from exc
        ok = isinstance(w, str) and isinstance(sku, str) and isinstance(on_hand, int)
        if not ok or on_hand < 0 or (as_of is not None and as_of.tzinfo is None):
            raise ValueError(f"items[{n}]: warehouse_id, sku, on_hand >= 0, as_of with offset")
        levels.append((w, sku, on_hand, as_of))
    return levels


@router.put("/sim/wms/stock")
async def put_stock(request: Request, authorization: str | None = Header(None)) -> JSONResponse:
    """Set the WMS's levels of the pairs given (others are kept)."""
    if denied := refused_without_admin_key(request, authorization):
        return denied
    try:
        levels = _levels(json.loads(await request.body()))
    except ValueError as exc:  # a malformed body, or one that is not JSON
        return JSONResponse({"detail": str(exc)}, status_code=422)
    async with request.app.state.engine.begin() as conn:
        now = (await conn.execute(text("SELECT now()"))).scalar_one()
        await conn.execute(
            _SET,
            {
                "w": [level[0] for level in levels],
                "sku": [level[1] for level in levels],
                "on_hand": [level[2] for level in levels],
                "as_of": [level[3] or now for level in levels],
            },
        )
    log.info("wms_stock_set", levels=len(levels))
    return JSONResponse({"set": len(levels)})


async def ship(conn: AsyncConnection, shipment_id: str) -> None:
    """The dispatch's goods left the warehouse: its levels drop by the lines shipped."""
    await conn.execute(_SHIP, {"s": shipment_id})
