"""The sandbox WMS's returns: ``POST /wms/returns`` announces a return to its warehouse,
which receives the parcel by itself ``sim_ship_delay_s`` later and posts one
``return_line_received`` event per line to ``POST /v1/return-events`` (signed with the
WMS's webhook secret, retried with backoff until the OMS accepts it, under the "wms"
faults).

Every unit is restockable unless the sandbox is told otherwise: ``PUT
/sim/wms/return-conditions`` with ``{"<sku>": {"damaged": n, "missing": n}}`` makes the
next returns of that SKU count n units damaged and n missing (at most the units
returned), ``{"<sku>": {"lost": 1}}`` makes the warehouse never report that SKU (a parcel
that never arrives); ``{"<sku>": null}`` forgets the SKU. The counts are fixed when the
return is announced.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from oms.logging import get_logger
from oms.settings import Settings
from oms.webhooks import signed_headers
from simulators.admin import refused_without_admin_key
from simulators.faults import FaultBook

router = APIRouter(tags=["sandbox WMS"])
log = get_logger("sim.wms_returns")


def counted(lines: list[dict[str, Any]], conditions: dict[str, dict[str, int]]) -> list[Any]:
    """Each line with its counts: the SKU's damaged and missing units (at most the units
    returned, missing first), the rest restockable."""
    out = []
    for line in lines:
        sku, quantity = str(line["sku"]), int(line["quantity"])
        asked = conditions.get(sku, {})
        if asked.get("lost"):
            continue
        missing = min(int(asked.get("missing", 0)), quantity)
        damaged = min(int(asked.get("damaged", 0)), quantity - missing)
        restockable = quantity - missing - damaged
        out.append({"sku": sku, "restockable": restockable, "damaged": damaged, "missing": missing})
    return out


@router.post("/wms/returns", status_code=202)
async def announce(request: Request, authorization: str | None = Header(None)) -> JSONResponse:
    settings: Settings = request.app.state.settings
    faults: FaultBook = request.app.state.faults
    if (refusal := faults.refusal("wms")) is not None:
        return JSONResponse({"detail": refusal}, status_code=503)
    if authorization != f"Bearer {settings.wms_api_key}":
        return JSONResponse({"detail": "bad WMS API key"}, status_code=401)
    try:
        body = await request.json()
        return_id = str(body["return_id"])
        lines = [{"sku": str(x["sku"]), "quantity": int(x["quantity"])} for x in body["lines"]]
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"detail": "return_id and lines are required"}, status_code=422)
    if not return_id or not lines:
        return JSONResponse({"detail": "return_id and lines are required"}, status_code=422)
    rows = counted(lines, request.app.state.return_conditions)
    due = datetime.now(UTC) + timedelta(seconds=settings.sim_ship_delay_s)
    async with request.app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO sim_wms_returns (return_id, order_id, warehouse_id, lines, next_at) "
                "VALUES (:r, :o, :w, CAST(:l AS jsonb), :due) ON CONFLICT (return_id) DO NOTHING"
            ),
            {
                "r": return_id,
                "o": str(body.get("order_id") or ""),
                "w": str(body.get("warehouse_id") or ""),
                "l": json.dumps(rows),
                "due": due,
            },
        )
    return JSONResponse({"reference": f"wms-return-{return_id}", "status": "expected"}, 202)


@router.get("/sim/wms/return-conditions")
async def get_conditions(
    request: Request, authorization: str | None = Header(None)
) -> JSONResponse:
    denied = refused_without_admin_key(request, authorization)
    return denied or JSONResponse(request.app.state.return_conditions)


@router.put("/sim/wms/return-conditions")
async def put_conditions(
    request: Request, authorization: str | None = Header(None)
) -> JSONResponse:
    """Merge ``{sku: {"damaged": n, "missing": n} | null}`` into the conditions."""
    if denied := refused_without_admin_key(request, authorization):
        return denied
    try:
        data = json.loads(await request.body())
        if not isinstance(data, dict):
            raise ValueError("expected an object {sku: {damaged, missing}}")
        staged: dict[str, dict[str, int] | None] = {}
        for sku, counts in data.items():
            if counts is None:
                staged[sku] = None
                continue
            if not isinstance(counts, dict) or set(counts) - {"damaged", "missing", "lost"}:
                raise ValueError(f"{sku}: expected {{damaged, missing, lost}}")
            values = {k: int(v) for k, v in counts.items()}
            if any(v < 0 for v in values.values()):
                raise ValueError(f"{sku}: counts are not negative")
            staged[sku] = values
    except (ValueError, TypeError) as exc:
        return JSONResponse({"detail": str(exc)}, status_code=422)
    conditions: dict[str, dict[str, int]] = request.app.state.return_conditions
    for sku, counts in staged.items():
        if counts is None:
            conditions.pop(sku, None)
        else:
            conditions[sku] = counts
    return JSONResponse(conditions)


async def deliver_due(
    engine: AsyncEngine, settings: Settings, faults: FaultBook, http: httpx.AsyncClient
) -> int:
    """Post the next line of each return that is due (a few at a time); the number posted."""
    done = 0
    for _ in range(10):
        async with engine.begin() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT return_id, order_id, lines, next_line, attempts "
                        "FROM sim_wms_returns WHERE next_line < jsonb_array_length(lines) "
                        "AND next_at <= now() ORDER BY next_at LIMIT 1 FOR UPDATE SKIP LOCKED"
                    )
                )
            ).first()
            if row is None:
                return done
            sent = faults.refusal("wms") is None and await _post(settings, http, row)
            if sent:
                update = {"adv": 1, "att": 0, "next": datetime.now(UTC)}
            else:
                backoff = min(30.0, 0.5 * 2**row.attempts)
                update = {
                    "adv": 0,
                    "att": row.attempts + 1,
                    "next": datetime.now(UTC) + timedelta(seconds=backoff),
                }
            await conn.execute(
                text(
                    "UPDATE sim_wms_returns SET next_line = next_line + :adv, attempts = :att, "
                    "next_at = :next WHERE return_id = :r"
                ),
                {**update, "r": row.return_id},
            )
        done += 1
    return done


async def _post(settings: Settings, http: httpx.AsyncClient, row: Any) -> bool:
    line = row.lines[row.next_line]
    body = {
        "event_id": f"{row.return_id}-{line['sku']}",
        "type": "return_line_received",
        "return_id": row.return_id,
        **line,
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    raw = json.dumps(body).encode()
    headers = signed_headers(settings.wms_webhook_secret, raw)
    try:
        response = await http.post(
            f"{settings.api_base_url}/v1/return-events", content=raw, headers=headers
        )
    except httpx.HTTPError as exc:
        log.info("return_callback_failed", return_id=row.return_id, error=type(exc).__name__)
        return False
    log.info("return_callback", return_id=row.return_id, status=response.status_code)
    return response.status_code < 300
