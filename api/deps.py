"""Dependencies shared by the routers: the engine, the Temporal client, the caller."""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from api.errors import Problem
from oms.keys import hash_key
from oms.settings import Settings
from oms.store import keys


def _json_number(literal: str) -> int | float:
    """A JSON number written with a fraction or an exponent: an integer when its value is
    one. JSON (and JSON Schema, which the OpenAPI document speaks) has numbers, not ints
    and floats: ``2.0`` is the integer 2 and valid where an integer is, ``2.5`` is not."""
    value = float(literal)
    if math.isfinite(value) and value.is_integer():
        return int(value)
    return value


class JsonRequest(Request):
    """Reads a JSON body the way JSON means it: integral numbers are integers, and bytes
    that are not UTF-8 are malformed JSON (a 422 naming the body), not a 400."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = json.loads(body, parse_float=_json_number)
            except UnicodeDecodeError as exc:
                raise json.JSONDecodeError("the body is not UTF-8 text", "", exc.start) from exc
        return self._json


class JsonRoute(APIRoute):
    """The route class of every router: its JSON bodies are read by ``JsonRequest``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            return await handler(JsonRequest(request.scope, request.receive))

        return handle


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    channel: str | None = None

    def can_see(self, channel: str) -> bool:
        return self.role != "channel" or self.channel == channel


# Dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in a thread
# pool, a thread hand-off per request for what is an attribute read.
async def get_engine(request: Request) -> AsyncEngine:
    return request.app.state.engine  # type: ignore[no-any-return]


def settings_of(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_settings(request: Request) -> Settings:
    return settings_of(request)


async def get_temporal(request: Request) -> Client:
    client = await request.app.state.temporal.get()
    if client is None:
        raise Problem(
            503,
            "the workflow engine is not reachable; retry shortly",
            kind="temporal-unavailable",
            headers={"Retry-After": "5"},
            dependency="temporal",
        )
    return client  # type: ignore[no-any-return]


async def get_temporal_if_up(request: Request) -> Client | None:
    return await request.app.state.temporal.get()  # type: ignore[no-any-return]


EngineDep = Annotated[AsyncEngine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
# For intake: an order is recorded even while Temporal is unreachable, and started later.
MaybeTemporalDep = Annotated[Client | None, Depends(get_temporal_if_up)]

# Declared as a security scheme so /docs offers an "Authorize" button for the API key.
_bearer = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer <key>`")
bearer_scheme = _bearer


async def principal_for_key(key: str, engine: AsyncEngine, settings: Settings) -> Principal:
    """The principal an API key stands for; 401 when there is none or it is unknown."""
    key = key.strip()
    if not key:
        raise Problem(
            401,
            "send an API key as 'Authorization: Bearer <key>'",
            kind="unauthenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )
    admin_key = settings.admin_api_key
    if admin_key and hmac.compare_digest(key.encode(), admin_key.encode()):
        return Principal("admin", "admin")
    row = await keys.active_by_hash(engine, hash_key(key))
    if row is None:
        raise Problem(
            401,
            "unknown or revoked API key",
            kind="unauthenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Principal(row.name, row.role, row.channel)


async def current_principal(
    engine: EngineDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return await principal_for_key(credentials.credentials if credentials else "", engine, settings)


CallerDep = Annotated[Principal, Depends(current_principal)]


def require(*roles: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    async def check(caller: CallerDep) -> Principal:
        if caller.role not in roles:
            raise Problem(403, f"this action needs the role {' or '.join(roles)}", kind="forbidden")
        return caller

    return check


Operator = Annotated[Principal, Depends(require("operator", "admin"))]
Admin = Annotated[Principal, Depends(require("admin"))]
Submitter = Annotated[Principal, Depends(require("channel", "admin"))]
Reader = Annotated[Principal, Depends(require("channel", "operator", "admin"))]
