"""The codec endpoint the Temporal Web UI calls to show sealed payloads in clear.

``POST /codec/decode`` and ``/codec/encode`` take and return Temporal's JSON form of
``Payloads`` (``{"payloads": [{"metadata": {...}, "data": "<base64>"}]}``). The browser
calls them across origins, so they answer CORS for the Web UI's origins. Open to callers
on this machine in development (the Web UI of ``oms dev``); everywhere else an operator or
admin key is required (the Web UI sends it with ``--ui-codec-pass-access-token`` or a
proxy adds it).

The same endpoints under ``/console/codec`` take the console's sign-in instead of a key: a
Web UI started with ``TEMPORAL_CODEC_INCLUDE_CREDENTIALS=true`` sends the session cookie of
an operator or admin signed in to the console on the same site (the cookie's path is
``/console``, so only these paths see it), and shows the payloads in clear to them alone.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from pydantic import Field
from temporalio.api.common.v1 import Payload, Payloads

from api.console.web import SESSION_COOKIE
from api.deps import JsonRoute, principal_for_key, settings_of
from api.errors import Problem
from api.schemas import Strict, problems
from oms import users
from oms.codec import EncryptionCodec, PayloadKeyError
from oms.store import users as user_store

router = APIRouter(prefix="/codec", tags=["codec"], route_class=JsonRoute)
console_router = APIRouter(prefix="/console/codec", tags=["codec"], route_class=JsonRoute)
Step = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]


def _cors(request: Request) -> dict[str, str]:
    origin = request.headers.get("origin", "")
    allowed = {o.strip() for o in settings_of(request).codec_origins.split(",") if o.strip()}
    if origin not in allowed:
        return {}
    headers = {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "content-type,x-namespace,authorization",
        "Vary": "Origin",
    }
    if request.url.path.startswith(console_router.prefix):
        # The console's session cookie comes with the request only when this is said.
        headers["Access-Control-Allow-Credentials"] = "true"
    return headers


def _from_loopback(request: Request) -> bool:
    try:
        return request.client is not None and ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


async def _check_caller(request: Request) -> None:
    settings = settings_of(request)
    if settings.env == "development" and _from_loopback(request):
        return
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    caller = await principal_for_key(
        key if scheme.lower() == "bearer" else "", request.app.state.engine, settings
    )
    if caller.role not in ("operator", "admin"):
        raise Problem(403, "reading payloads needs the role operator or admin", kind="forbidden")


async def _check_console_caller(request: Request) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    settings = settings_of(request)
    row = None
    if token:
        row = await user_store.live_session(
            request.app.state.engine, users.token_hash(token), settings.console_session_idle_s
        )
    if row is None:
        raise Problem(
            401,
            "sign in to the console as an operator or admin to read payloads",
            kind="unauthorized",
            headers=_cors(request),
        )
    if row.role not in ("operator", "admin"):
        raise Problem(
            403,
            "reading payloads needs the role operator or admin",
            kind="forbidden",
            headers=_cors(request),
        )


# Standard base64 with its padding, as the Web UI and protobuf's JSON form write bytes.
BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
Base64 = Annotated[str, Field(pattern=BASE64, max_length=8_000_000)]


class PayloadIn(Strict):
    metadata: dict[str, Base64] = {}
    data: Base64 = ""


class PayloadsIn(Strict):
    """Temporal's JSON form of ``Payloads``: bytes as base64."""

    payloads: list[PayloadIn] = []


def _to_proto(body: PayloadsIn) -> list[Payload]:
    return [
        Payload(
            metadata={k: base64.b64decode(v) for k, v in p.metadata.items()},
            data=base64.b64decode(p.data),
        )
        for p in body.payloads
    ]


async def _apply(
    request: Request, body: PayloadsIn, step: Callable[[EncryptionCodec], Step]
) -> Response:
    codec = request.app.state.codec
    if codec is None:
        raise Problem(404, "payload encryption is not configured", kind="not-found")
    try:
        result = await step(codec)(_to_proto(body))
    except PayloadKeyError as exc:
        raise Problem(
            422,
            f"not payloads this codec can open: {str(exc)[:200]}",
            kind="validation-error",
            errors=[{"field": "payloads", "message": str(exc)[:200]}],
        ) from exc
    out = json_format.MessageToJson(Payloads(payloads=result))
    return Response(out, media_type="application/json", headers=_cors(request))


_DOC: dict[str, Any] = {
    "responses": {
        200: {"model": PayloadsIn, "description": "the payloads, opened or sealed"},
        **problems(401, 403, 404, 422),
    },
}


# The caller is checked before the body is read, so a stranger learns nothing from it.
Checked = Annotated[None, Depends(_check_caller)]


@router.post("/decode", summary="Open sealed payloads (for the Temporal Web UI)", **_DOC)
async def decode_payloads(request: Request, _: Checked, body: PayloadsIn) -> Response:
    return await _apply(request, body, lambda codec: codec.decode)


@router.post("/encode", summary="Seal payloads", **_DOC)
async def encode_payloads(request: Request, _: Checked, body: PayloadsIn) -> Response:
    return await _apply(request, body, lambda codec: codec.encode)


SignedIn = Annotated[None, Depends(_check_console_caller)]


@console_router.post("/decode", summary="Open sealed payloads (the Web UI, signed in)", **_DOC)
async def decode_for_console(request: Request, _: SignedIn, body: PayloadsIn) -> Response:
    return await _apply(request, body, lambda codec: codec.decode)


@console_router.post("/encode", summary="Seal payloads (the Web UI, signed in)", **_DOC)
async def encode_for_console(request: Request, _: SignedIn, body: PayloadsIn) -> Response:
    return await _apply(request, body, lambda codec: codec.encode)


@router.options("/decode", include_in_schema=False)
@router.options("/encode", include_in_schema=False)
@console_router.options("/decode", include_in_schema=False)
@console_router.options("/encode", include_in_schema=False)
async def codec_preflight(request: Request) -> Response:
    return JSONResponse({}, headers=_cors(request))
