"""Payment ledger, API keys and health."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from api.deps import Admin, EngineDep, JsonRoute, Operator
from api.errors import Problem
from api.schemas import (
    CHANNEL_PATTERN,
    PRINTABLE,
    KeyCreate,
    KeyCreated,
    KeyList,
    KeyRotate,
    KeyRotated,
    PaymentList,
    answer,
    problems,
)
from oms.db.engine import ping
from oms.domain.money import format_amount
from oms.keys import KeyNotActive, NameTaken, NewKey, create_key, rotate_key
from oms.store import keys, payments

router = APIRouter(tags=["admin"], route_class=JsonRoute)
_AUTH = problems(401, 403, 503)
CHANNEL_NAME = re.compile(CHANNEL_PATTERN)


@router.get(
    "/v1/payments",
    response_model=None,
    responses={
        200: answer(PaymentList, "The order's ledger entries, oldest first."),
        **_AUTH,
        **problems(404, 422, _404="No such order (``not-found``)."),
    },
)
async def read_payments(
    caller: Operator,
    engine: EngineDep,
    order_id: Annotated[str, Query(min_length=1, max_length=64, pattern=PRINTABLE)],
) -> dict[str, Any]:
    rows = await payments.ledger(engine, order_id)
    if rows is None:
        raise Problem(404, f"no order {order_id}", kind="not-found")
    return {
        "next_cursor": None,
        "items": [
            {
                "kind": r.kind,
                "status": r.status,
                "amount": format_amount(r.amount, r.currency),
                "currency": r.currency,
                "idempotency_key": r.idempotency_key,
                "gateway_reference": r.gateway_reference,
                "error": r.error,
                "created_at": r.created_at.isoformat(),
            }
            for r in rows
        ],
    }


@router.post(
    "/v1/keys",
    status_code=201,
    response_model=None,
    responses={
        201: answer(KeyCreated, "The key."),
        **_AUTH,
        **problems(409, 413, 422, _409="An active key has this name already (``conflict``)."),
    },
)
async def create_api_key(body: KeyCreate, caller: Admin, engine: EngineDep) -> dict[str, Any]:
    channel = body.channel or body.name
    if body.role == "channel" and not CHANNEL_NAME.fullmatch(channel):
        raise Problem(
            422,
            "a channel key needs 'channel' (lower-case letters, digits, - _)",
            kind="validation-error",
            errors=[{"field": "channel", "message": "required for role channel"}],
        )
    try:
        new = await create_key(
            engine,
            name=body.name,
            role=body.role,
            channel=channel,
            scopes=body.scopes,
            rate_limit_per_s=body.rate_limit_per_s,
        )
    except ValueError as exc:
        raise Problem(
            422,
            str(exc),
            kind="validation-error",
            errors=[{"field": "scopes", "message": str(exc)}],
        ) from exc
    except NameTaken as exc:
        # Two keys of one name could not be told apart in the list, the logs or the
        # timeline: revoke the old one first, or choose another name.
        raise Problem(
            409,
            f"an active API key named {body.name!r} exists already (id {exc.key_id}); "
            "revoke it first or choose another name",
            kind="conflict",
            key_id=exc.key_id,
        ) from exc
    return _new_key(new)


def _new_key(new: NewKey) -> dict[str, Any]:
    return {
        "id": new.id,
        "name": new.name,
        "role": new.role,
        "channel": new.channel,
        "key": new.key,
        "scopes": list(new.scopes) or None,
        "rate_limit_per_s": new.rate_limit_per_s,
    }


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@router.post(
    "/v1/keys/{key_id}/rotate",
    status_code=201,
    response_model=None,
    responses={
        201: answer(KeyRotated, "The new key, shown this once."),
        **_AUTH,
        **problems(404, 413, 422, _404="No such key, or it is revoked or expired (``not-found``)."),
    },
)
async def rotate_api_key(
    key_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    caller: Admin,
    engine: EngineDep,
    body: KeyRotate | None = None,
) -> dict[str, Any]:
    """A new secret for the key, with its name, role, scopes and rate limit; the old
    secret keeps working for ``grace_s`` seconds (a day by default), then is refused."""
    grace = (body or KeyRotate()).grace_s
    try:
        new = await rotate_key(engine, key_id, grace)
    except KeyNotActive as exc:
        raise Problem(404, f"no active API key {key_id}", kind="not-found") from exc
    old = await keys.one(engine, key_id)
    return {
        **_new_key(new),
        "rotated_from": key_id,
        "old_key_expires_at": _when(old.expires_at if old else None) or "",
    }


@router.delete(
    "/v1/keys/{key_id}",
    status_code=204,
    responses={**_AUTH, **problems(404, 422, _404="No such key (``not-found``).")},
)
async def revoke_api_key(
    key_id: Annotated[int, Path(ge=1, le=2**31 - 1)], caller: Admin, engine: EngineDep
) -> Response:
    """Revoke a key: from now on it is refused (401). Revoking twice is harmless."""
    if not await keys.revoke(engine, key_id):
        raise Problem(404, f"no API key {key_id}", kind="not-found")
    return Response(status_code=204)


@router.get(
    "/v1/keys",
    response_model=None,
    responses={200: answer(KeyList, "Every key, without its secret."), **_AUTH},
)
async def read_api_keys(caller: Admin, engine: EngineDep) -> dict[str, Any]:
    rows = await keys.all_keys(engine)
    return {
        "next_cursor": None,
        "items": [
            {
                "id": r.id,
                "name": r.name,
                "role": r.role,
                "channel": r.channel,
                "prefix": r.prefix,
                "created_at": r.created_at.isoformat(),
                "revoked_at": _when(r.revoked_at),
                "scopes": list(r.scopes) if r.scopes else None,
                "rate_limit_per_s": r.rate_limit_per_s,
                "expires_at": _when(r.expires_at),
                "last_used_at": _when(r.last_used_at),
                "rotated_from": r.rotated_from,
            }
            for r in rows
        ],
    }


class HealthReport(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, str]


_HEALTH: dict[int | str, dict[str, Any]] = {
    200: {"model": HealthReport, "description": "The API, the database and Temporal answer."},
    503: {
        "model": HealthReport,
        "description": "One of them does not: ``checks`` names it. A report, not a problem.",
    },
}


@router.get("/health", responses=_HEALTH)
async def health(request: Request, engine: EngineDep) -> JSONResponse:
    checks: dict[str, str] = {"api": "ok"}
    try:
        await ping(engine)
        checks["database"] = "ok"
    except Exception as exc:  # the point is to report, not to raise
        checks["database"] = f"error: {type(exc).__name__}"
    client = await request.app.state.temporal.get()
    try:
        if client is None:
            raise RuntimeError("not connected")
        await asyncio.wait_for(client.service_client.check_health(), timeout=3)
        checks["temporal"] = "ok"
    except Exception as exc:
        checks["temporal"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", "checks": checks},
        status_code=200 if healthy else 503,
    )
