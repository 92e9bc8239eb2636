"""An alert receiver standing in for an operators' pager or chat hook: it keeps every alert
the OMS POSTs (``OMS_ALERT_WEBHOOK_URL``), with whether its signature was valid, so the
delivery path can be seen and tested end to end. ``GET /sim/alerts`` lists them (admin key)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from oms.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from simulators.admin import refused_without_admin_key

router = APIRouter(prefix="/sim", tags=["simulator alert sink"])
KEPT = 1000  # the newest ones; a sink, not a store


@router.post("/alerts", status_code=202)
async def receive_alert(request: Request) -> JSONResponse:
    body = await request.body()
    settings = request.app.state.settings
    signed = verify(
        settings.alert_webhook_secret,
        request.headers.get(TIMESTAMP_HEADER),
        request.headers.get(SIGNATURE_HEADER),
        body,
        settings.webhook_tolerance_s,
    )
    try:
        alert: Any = json.loads(body)
    except ValueError:
        return JSONResponse({"detail": "not JSON"}, status_code=422)
    received: list[dict[str, Any]] = request.app.state.alerts_received
    received.append({"alert": alert, "signature_valid": signed})
    del received[:-KEPT]
    if not signed:
        return JSONResponse({"detail": "bad signature"}, status_code=401)
    return JSONResponse({"received": True}, status_code=202)


@router.get("/alerts")
async def list_alerts(request: Request, authorization: str | None = Header(None)) -> JSONResponse:
    return refused_without_admin_key(request, authorization) or JSONResponse(
        {"items": request.app.state.alerts_received}
    )
