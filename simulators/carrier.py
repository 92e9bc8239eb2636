"""The carrier's tracking registration: ``POST /carrier/trackings`` asks the courier to send
the events of a parcel the OMS did not hand over itself (an imported order's shipment,
already on its way).

The parcel joins the courier's own table (``sim_wms_dispatches``) at the in-transit stage,
so the courier posts ``in_transit``, ``out_for_delivery`` and ``delivered`` for it to
``POST /v1/carrier-events`` by tracking number, as it does for its own parcels (under the
"carrier" faults). Idempotent by tracking number.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from oms.settings import Settings

router = APIRouter(prefix="/carrier", tags=["sandbox carrier"])

IN_TRANSIT = 1  # the courier's stage whose event comes next (simulators/wms.py)


def parcel_id(tracking_number: str) -> str:
    """The courier's row for a followed parcel: keyed by its tracking number."""
    return f"followed-{tracking_number}"


@router.post("/trackings", status_code=202)
async def follow(request: Request, authorization: str | None = Header(None)) -> JSONResponse:
    settings: Settings = request.app.state.settings
    if authorization != f"Bearer {settings.carrier_api_key}":
        return JSONResponse({"detail": "bad carrier API key"}, status_code=401)
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"detail": "a JSON body is required"}, status_code=422)
    tracking = str(body.get("tracking_number") or "") if isinstance(body, dict) else ""
    if not tracking:
        return JSONResponse({"detail": "tracking_number is required"}, status_code=422)
    due = datetime.now(UTC) + timedelta(seconds=settings.sim_carrier_step_s)
    async with request.app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO sim_wms_dispatches (shipment_id, order_id, warehouse_id, "
                "tracking_number, payload, stage, next_at) "
                "VALUES (:s, '', '', :t, CAST(:p AS jsonb), :stage, :due) "
                "ON CONFLICT (shipment_id) DO NOTHING"
            ),
            {
                "s": parcel_id(tracking),
                "t": tracking,
                "p": json.dumps({"followed": True, "carrier": body.get("carrier") or ""}),
                "stage": IN_TRANSIT,
                "due": due,
            },
        )
    return JSONResponse({"tracking_number": tracking, "status": "following"}, status_code=202)


@router.post("/return-labels", status_code=201)
async def return_label(request: Request, authorization: str | None = Header(None)) -> JSONResponse:
    """A prepaid label for a return parcel back to a warehouse; the same return always
    gets the same label (idempotent by ``return_id``)."""
    settings: Settings = request.app.state.settings
    if (refusal := request.app.state.faults.refusal("carrier")) is not None:
        return JSONResponse({"detail": refusal}, status_code=503)
    if authorization != f"Bearer {settings.carrier_api_key}":
        return JSONResponse({"detail": "bad carrier API key"}, status_code=401)
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"detail": "a JSON body is required"}, status_code=422)
    return_id = str(body.get("return_id") or "") if isinstance(body, dict) else ""
    warehouse = str(body.get("warehouse_id") or "") if isinstance(body, dict) else ""
    if not return_id or not warehouse:
        return JSONResponse({"detail": "return_id and warehouse_id are required"}, 422)
    tracking = "RET" + hashlib.sha256(return_id.encode()).hexdigest()[:12].upper()
    return JSONResponse(
        {
            "tracking_number": tracking,
            "carrier": "SIMPOST",
            "label_url": f"{settings.carrier_base_url}/labels/{tracking}.pdf",
        },
        status_code=201,
    )
