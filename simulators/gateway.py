"""Sandbox payment gateway. Tokens: ``tok_ok`` authorizes, ``tok_declined`` declines,
``tok_flaky`` fails twice with 503 and then authorizes, ``tok_limit_<amount>`` (a card
with a limit, such as ``tok_limit_100``) authorizes up to that amount and declines above.

An open authorization can be moved to a new amount (``/adjust``, for an edited order): up
is an incremental authorization, declined past the card's limit; down is a partial
reversal, never below what was captured.

Refunds go against what an authorization captured (never more); two tokens authorize and
capture like ``tok_ok`` but change its refunds: ``tok_refund_refused`` refuses every
refund (402, a verdict), and ``tok_refund_flaky`` answers each refund's first two attempts
503 (retried with its key).

Every call is idempotent by its ``Idempotency-Key``: a repeated key gets the stored answer.
Injected faults ("gateway" in the fault book) apply to every call: a refusal answers 503
before any work; a simulated timeout does the work, commits, and only then stalls.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from simulators.faults import FaultBook

router = APIRouter(prefix="/gateway", tags=["sandbox gateway"])
FLAKY_FAILURES = 2
LIMIT_TOKEN = "tok_limit_"
AUTHORIZING_TOKENS = ("tok_ok", "tok_flaky", "tok_refund_refused", "tok_refund_flaky")


def _answer(code: int, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, status_code=code)


def _authorized(request: Request, authorization: str | None) -> bool:
    return authorization == f"Bearer {request.app.state.settings.payment_gateway_key}"


async def _claim(conn: AsyncConnection, key: str, kind: str) -> Any:
    await conn.execute(
        text(
            "INSERT INTO sim_gateway_requests (idempotency_key, kind) VALUES (:k, :kind) "
            "ON CONFLICT DO NOTHING"
        ),
        {"k": key, "kind": kind},
    )
    return (
        await conn.execute(
            text(
                "SELECT attempts, status_code, response FROM sim_gateway_requests "
                "WHERE idempotency_key = :k FOR UPDATE"
            ),
            {"k": key},
        )
    ).one()


async def _store(conn: AsyncConnection, key: str, code: int, body: dict[str, Any]) -> JSONResponse:
    await conn.execute(
        text(
            "UPDATE sim_gateway_requests SET status_code = :c, response = CAST(:r AS jsonb), "
            "attempts = attempts + 1 WHERE idempotency_key = :k"
        ),
        {"c": code, "r": json.dumps(body), "k": key},
    )
    return _answer(code, body)


def _amount(body: dict[str, Any]) -> Decimal | None:
    try:
        value = Decimal(str(body.get("amount")))
    except InvalidOperation:
        return None
    return value if value.is_finite() and value >= 0 else None


def _auth_id(key: str) -> str:
    """The authorization made under an authorize key: derived, so a retry finds it."""
    return "auth_" + hashlib.sha256(key.encode()).hexdigest()[:16]


async def _handle(
    request: Request, key: str | None, authorization: str | None, kind: str, target: str | None
) -> JSONResponse:
    """One call under the gateway's faults. ``target`` is the authorization id for a
    capture, void or refund, and the authorize idempotency key for a void by key."""
    faults: FaultBook = request.app.state.faults
    if (refusal := faults.refusal("gateway")) is not None:
        await asyncio.sleep(faults.get("gateway").latency_s)
        return _answer(503, {"detail": refusal})
    response = await _process(request, key, authorization, kind, target)
    # After the commit: a timed-out caller must not know whether the call took effect.
    await asyncio.sleep(faults.answer_delay("gateway"))
    return response


async def _process(
    request: Request, key: str | None, authorization: str | None, kind: str, target: str | None
) -> JSONResponse:
    if not _authorized(request, authorization):
        return _answer(401, {"detail": "bad gateway API key"})
    if not key:
        return _answer(400, {"detail": "Idempotency-Key header is required"})
    body = await request.json() if await request.body() else {}
    engine = request.app.state.engine
    async with engine.begin() as conn:
        claim = await _claim(conn, key, kind)
        if claim.status_code is not None:
            return _answer(claim.status_code, claim.response)
        if kind == "authorize":
            if body.get("token") == "tok_flaky" and claim.attempts < FLAKY_FAILURES:
                await conn.execute(
                    text(
                        "UPDATE sim_gateway_requests SET attempts = attempts + 1 "
                        "WHERE idempotency_key = :k"
                    ),
                    {"k": key},
                )
                return _answer(503, {"detail": "temporarily unavailable"})
            code, answer = await _authorize(conn, key, body)
        elif kind == "void_by_key":
            code, answer = await _void_by_key(conn, key, target or "")
        elif kind == "refund" and await _refund_flaky(conn, target or "", claim.attempts):
            await conn.execute(
                text(
                    "UPDATE sim_gateway_requests SET attempts = attempts + 1 "
                    "WHERE idempotency_key = :k"
                ),
                {"k": key},
            )
            return _answer(503, {"detail": "refunds temporarily unavailable"})
        else:
            code, answer = await _settle(conn, kind, target or "", body)
        return await _store(conn, key, code, answer)


async def _authorize(
    conn: AsyncConnection, key: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    amount = _amount(body)
    if amount is None or not body.get("currency"):
        return 422, {"detail": "amount and currency are required"}
    auth_id = _auth_id(key)
    if not _card_takes(body.get("token"), amount):
        return 402, {"id": auth_id, "status": "declined", "detail": "card declined"}
    await conn.execute(
        text(
            "INSERT INTO sim_gateway_authorizations (id, token, currency, amount) "
            "VALUES (:id, :t, :c, :a)"
        ),
        {"id": auth_id, "t": body["token"], "c": body["currency"], "a": amount},
    )
    return 201, {"id": auth_id, "status": "authorized", "amount": str(amount)}


def _card_takes(token: object, amount: Decimal) -> bool:
    """Whether the card authorizes ``amount`` (in all)."""
    if token in AUTHORIZING_TOKENS:
        return True
    if isinstance(token, str) and token.startswith(LIMIT_TOKEN):
        try:
            return amount <= Decimal(token.removeprefix(LIMIT_TOKEN))
        except InvalidOperation:
            return False
    return False


async def _void_by_key(
    conn: AsyncConnection, key: str, authorize_key: str
) -> tuple[int, dict[str, Any]]:
    """Void whatever was authorized under ``authorize_key``, even if that authorize call is
    still in flight or yet to arrive: a caller that timed out cannot know which."""
    if key == authorize_key:
        return 422, {"detail": "the Idempotency-Key must differ from the authorization's key"}
    # Claiming the authorize key locks its row (or creates it), so an authorize call with
    # that key waits for us, and we for it: the two cannot interleave.
    claim = await _claim(conn, authorize_key, "authorize")
    if claim.status_code is None:
        # Never answered, so nothing was authorized: store a refusal as its answer, so a
        # late authorize with this key gets it and never authorizes.
        await _store(conn, authorize_key, 409, {"detail": "voided before authorization"})
        return 200, {"id": None, "status": "nothing_to_void"}
    code, answer = await _settle(conn, "void", _auth_id(authorize_key), {})
    if code == 404:  # answered without authorizing (declined, invalid, voided before)
        return 200, {"id": None, "status": "nothing_to_void"}
    return code, answer


async def _refund_flaky(conn: AsyncConnection, auth_id: str, attempts: int) -> bool:
    token = (
        await conn.execute(
            text("SELECT token FROM sim_gateway_authorizations WHERE id = :id"), {"id": auth_id}
        )
    ).scalar()
    return token == "tok_refund_flaky" and attempts < FLAKY_FAILURES


async def _settle(
    conn: AsyncConnection, kind: str, auth_id: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    auth = (
        await conn.execute(
            text(
                "SELECT amount, captured, refunded, voided, token "
                "FROM sim_gateway_authorizations WHERE id = :id FOR UPDATE"
            ),
            {"id": auth_id},
        )
    ).first()
    if auth is None:
        return 404, {"detail": f"no authorization {auth_id}"}
    if kind == "void":
        if auth.captured > 0:
            return 409, {"detail": "already captured; refund instead"}
        await conn.execute(
            text("UPDATE sim_gateway_authorizations SET voided = true WHERE id = :id"),
            {"id": auth_id},
        )
        return 200, {"id": auth_id, "status": "voided"}
    amount = _amount(body)
    if amount is None:
        return 422, {"detail": "amount is required"}
    if kind == "adjust":
        if auth.voided or amount < auth.captured:
            return 409, {"detail": "the authorization is voided, or captured beyond the amount"}
        if amount > auth.amount and not _card_takes(auth.token, amount):
            return 402, {"id": auth_id, "status": "declined", "detail": "increase declined"}
        await conn.execute(
            text("UPDATE sim_gateway_authorizations SET amount = :a WHERE id = :id"),
            {"a": amount, "id": auth_id},
        )
        return 200, {"id": auth_id, "status": "adjusted", "amount": str(amount)}
    if kind == "capture":
        if auth.voided or auth.captured + amount > auth.amount:
            return 409, {"detail": "capture exceeds the open authorization"}
        column = "captured"
    else:
        if auth.token == "tok_refund_refused":
            return 402, {"id": auth_id, "status": "declined", "detail": "refund refused"}
        if auth.refunded + amount > auth.captured:
            return 409, {"detail": "refund exceeds what was captured"}
        column = "refunded"
    await conn.execute(
        text(f"UPDATE sim_gateway_authorizations SET {column} = {column} + :a WHERE id = :id"),
        {"a": amount, "id": auth_id},
    )
    return 200, {"id": auth_id, "status": column, "amount": str(amount)}


@router.post("/authorizations")
async def authorize(
    request: Request,
    idempotency_key: str | None = Header(None),
    authorization: str | None = Header(None),
) -> JSONResponse:
    return await _handle(request, idempotency_key, authorization, "authorize", None)


@router.post("/authorizations/by-key/{authorize_key}/void")
async def void_by_key(
    authorize_key: str,
    request: Request,
    idempotency_key: str | None = Header(None),
    authorization: str | None = Header(None),
) -> JSONResponse:
    return await _handle(request, idempotency_key, authorization, "void_by_key", authorize_key)


@router.post("/authorizations/{auth_id}/{action}")
async def settle(
    auth_id: str,
    action: str,
    request: Request,
    idempotency_key: str | None = Header(None),
    authorization: str | None = Header(None),
) -> JSONResponse:
    if action not in ("capture", "void", "refund", "adjust"):
        return _answer(404, {"detail": f"unknown action {action}"})
    return await _handle(request, idempotency_key, authorization, action, auth_id)
