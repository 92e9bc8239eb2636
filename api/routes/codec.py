"""The codec endpoint the Temporal Web UI calls to show sealed payloads in clear.

``POST /codec/decode`` and ``/codec/encode`` take and return Temporal's JSON form of
``Payloads`` (``{"payloads": [{"metadata": {...}, "data": "<base64>"}]}``). The browser
calls them across origins, so they answer CORS for the Web UI's origins. Open to callers
on this machine in development (the Web UI of ``oms dev``); everywhere else an operator or
admin key is required (the Web UI sends it with ``--ui-codec-pass-access-token`` or a
proxy adds it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Sequence

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from api.deps import get_settings, principal_for_key
from api.errors import Problem
from api.schemas import problems
from oms.codec import EncryptionCodec, PayloadKeyError

router = APIRouter(prefix="/codec", tags=["codec"])
Step = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]


def _cors(request: Request) -> dict[str, str]:
    origin = request.headers.get("origin", "")
    allowed = {o.strip() for o in get_settings(request).codec_origins.split(",") if o.strip()}
    if origin not in allowed:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "content-type,x-namespace,authorization",
        "Vary": "Origin",
    }


def _from_loopback(request: Request) -> bool:
    try:
        return request.client is not None and ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


async def _check_caller(request: Request) -> None:
    settings = get_settings(request)
    if settings.env == "development" and _from_loopback(request):
        return
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    caller = await principal_for_key(
        key if scheme.lower() == "bearer" else "", request.app.state.engine, settings
    )
    if caller.role not in ("operator", "admin"):
        raise Problem(403, "reading payloads needs the role operator or admin", kind="forbidden")


async def _apply(request: Request, step: Callable[[EncryptionCodec], Step]) -> Response:
    await _check_caller(request)
    codec = request.app.state.codec
    if codec is None:
        raise Problem(404, "payload encryption is not configured", kind="not-found")
    try:
        payloads = json_format.Parse(await request.body(), Payloads())
        result = await step(codec)(payloads.payloads)
    except (json_format.ParseError, PayloadKeyError, ValueError) as exc:
        raise Problem(
            422,
            f"not payloads this codec can open: {str(exc)[:200]}",
            kind="validation-error",
            errors=[{"field": "payloads", "message": str(exc)[:200]}],
        ) from exc
    body = json_format.MessageToJson(Payloads(payloads=result))
    return Response(body, media_type="application/json", headers=_cors(request))


_DOC = {
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "payloads": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "metadata": {
                                            "type": "object",
                                            "additionalProperties": {"type": "string"},
                                        },
                                        "data": {"type": "string"},
                                    },
                                },
                            }
                        },
                    }
                }
            },
        }
    },
    "responses": {
        200: {"description": "the payloads, decoded or encoded"},
        **problems(401, 403, 404, 422),
    },
}


@router.post("/decode", summary="Open sealed payloads (for the Temporal Web UI)", **_DOC)  # type: ignore[arg-type]
async def decode_payloads(request: Request) -> Response:
    return await _apply(request, lambda codec: codec.decode)


@router.post("/encode", summary="Seal payloads", **_DOC)  # type: ignore[arg-type]
async def encode_payloads(request: Request) -> Response:
    return await _apply(request, lambda codec: codec.encode)


@router.options("/decode", include_in_schema=False)
@router.options("/encode", include_in_schema=False)
async def codec_preflight(request: Request) -> Response:
    return JSONResponse({}, headers=_cors(request))
