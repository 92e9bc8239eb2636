"""Admin calls of the simulators: read and change the injected faults at run time.

``GET /sim/faults`` answers the current faults; ``PUT /sim/faults`` merges
``{partner: {field: value}}`` into them. ``GET /sim/wms/refusals`` answers the warehouses
whose dispatches the WMS refuses; ``PUT`` replaces them with ``{"warehouses": [...]}``.
All need the OMS admin key when one is set, since a stray call could take the partners down
for everyone sharing the simulators.
"""

from __future__ import annotations

import hmac
import json

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from oms.logging import get_logger
from simulators.faults import FaultBook
from simulators.refusals import Refusals

router = APIRouter(prefix="/sim", tags=["simulator admin"])
log = get_logger("sim.admin")


def refused_without_admin_key(request: Request, authorization: str | None) -> JSONResponse | None:
    key = request.app.state.settings.admin_api_key
    if not key:
        return None
    if authorization and hmac.compare_digest(authorization.encode(), f"Bearer {key}".encode()):
        return None
    return JSONResponse(
        {"detail": "send the admin key as 'Authorization: Bearer <key>'"},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


@router.get("/faults")
async def get_faults(request: Request, authorization: str | None = Header(None)) -> JSONResponse:
    book: FaultBook = request.app.state.faults
    return refused_without_admin_key(request, authorization) or JSONResponse(book.to_json())


@router.put("/faults")
async def put_faults(request: Request, authorization: str | None = Header(None)) -> JSONResponse:
    if denied := refused_without_admin_key(request, authorization):
        return denied
    book: FaultBook = request.app.state.faults
    try:
        book.update(json.loads(await request.body()))
    except ValueError as exc:  # a FaultError, or a body that is not JSON
        return JSONResponse({"detail": str(exc)}, status_code=422)
    log.warning("faults_changed", faults=book.to_json())
    return JSONResponse(book.to_json())


@router.get("/wms/refusals")
async def get_refusals(request: Request, authorization: str | None = Header(None)) -> JSONResponse:
    refusals: Refusals = request.app.state.refusals
    return refused_without_admin_key(request, authorization) or JSONResponse(refusals.to_json())


@router.put("/wms/refusals")
async def put_refusals(request: Request, authorization: str | None = Header(None)) -> JSONResponse:
    """Replace the warehouses whose dispatches the sandbox WMS refuses (422, not retried)."""
    if denied := refused_without_admin_key(request, authorization):
        return denied
    refusals: Refusals = request.app.state.refusals
    try:
        refusals.replace(json.loads(await request.body()))
    except ValueError as exc:  # a RefusalError, or a body that is not JSON
        return JSONResponse({"detail": str(exc)}, status_code=422)
    log.warning("refusals_changed", **refusals.to_json())
    return JSONResponse(refusals.to_json())
