"""Dependencies shared by the routers: the engine, the Temporal client, the caller."""

from __future__ import annotations

import hmac
import json
import math
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from api.errors import Problem
from api.rate_limit import BURST, RateLimits
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
    # A partner key's scopes (oms.keys); empty for the other roles.
    scopes: frozenset[str] = frozenset()
    # The key's row (None for the bootstrap admin key) and its own rate limit, if any.
    key_id: int | None = None
    rate_limit_per_s: float | None = None

    def has_scope(self, scope: str) -> bool:
        """The scope, or one of its per-channel forms (``orders:read:<channel>`` has
        ``orders:read`` for this question); admin has every scope."""
        if self.role == "admin":
            return True
        return any(s == scope or s.startswith(scope + ":") for s in self.scopes)

    def readable_channels(self) -> list[str] | None:
        """The channels whose orders the caller may read; None for every channel."""
        if self.role == "channel":
            return [self.channel] if self.channel else []
        if self.role != "partner" or "orders:read" in self.scopes:
            return None
        return sorted(
            s.removeprefix("orders:read:") for s in self.scopes if s.startswith("orders:read:")
        )

    def can_see(self, channel: str) -> bool:
        readable = self.readable_channels()
        return readable is None or channel in readable

    def can_submit(self, channel: str) -> bool:
        if self.role == "admin":
            return True
        if self.role == "channel":
            return self.channel == channel
        return self.role == "partner" and f"orders:write:{channel}" in self.scopes


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


def _unknown_key() -> Problem:
    return Problem(
        401,
        "unknown, revoked or expired API key",
        kind="unauthenticated",
        headers={"WWW-Authenticate": "Bearer"},
    )


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
        raise _unknown_key()
    return Principal(
        row.name,
        row.role,
        row.channel,
        frozenset(row.scopes or ()),
        int(row.id),
        row.rate_limit_per_s,
    )


# When each key's use was last recorded by this process: at most once a minute.
TOUCH_EVERY_S = 60.0
_touched: dict[int, float] = {}


async def _record_use(engine: AsyncEngine, key_id: int) -> None:
    now = time.monotonic()
    if now - _touched.get(key_id, -TOUCH_EVERY_S) < TOUCH_EVERY_S:
        return
    _touched[key_id] = now
    await keys.touch(engine, key_id)


def _rate_limited(request: Request, caller: Principal, settings: Settings) -> None:
    """Take one request from the key's bucket; 429 with Retry-After when it is empty.
    The bootstrap admin key (no row) is never limited, nor is any key while the limit
    is 0."""
    rate = caller.rate_limit_per_s or settings.key_rate_limit_per_s
    limits: RateLimits | None = getattr(request.app.state, "rate_limits", None)
    if caller.key_id is None or not rate or limits is None:
        return
    verdict = limits.take(caller.key_id, rate)
    headers = {
        "RateLimit-Limit": str(verdict.limit),
        "RateLimit-Remaining": str(verdict.remaining),
        "RateLimit-Reset": str(verdict.reset_s),
    }
    if not verdict.allowed:
        raise Problem(
            429,
            f"this key may make {rate:g} requests a second (bursts of {rate * BURST:g}); "
            f"retry in {verdict.retry_after_s} s",
            kind="rate-limited",
            headers={"Retry-After": str(verdict.retry_after_s), **headers},
        )
    request.state.rate_limit_headers = headers


async def current_principal(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    caller = await principal_for_key(
        credentials.credentials if credentials else "", engine, settings
    )
    _rate_limited(request, caller, settings)
    if caller.key_id is not None:
        await _record_use(engine, caller.key_id)
    return caller


CallerDep = Annotated[Principal, Depends(current_principal)]


def require(*roles: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    async def check(caller: CallerDep) -> Principal:
        if caller.role not in roles:
            raise Problem(403, f"this action needs the role {' or '.join(roles)}", kind="forbidden")
        return caller

    return check


def require_scope(scope: str, *roles: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """Admin, the ``roles`` given, and a partner key holding ``scope`` (or a per-channel
    form of it: the route then checks the channel) pass; anyone else gets 403."""

    async def check(caller: CallerDep) -> Principal:
        if caller.role == "admin" or caller.role in roles:
            return caller
        if caller.role == "partner" and caller.has_scope(scope):
            return caller
        others = " or ".join(("admin", *roles))
        raise Problem(
            403,
            f"this action needs the scope {scope} (or the role {others})",
            kind="forbidden",
        )

    return check


Operator = Annotated[Principal, Depends(require("operator", "admin"))]
Admin = Annotated[Principal, Depends(require("admin"))]
# Partner keys pass where their scopes say: submit orders (orders:write:<channel>, checked
# per channel by the route), read orders (orders:read), sync stock, read channels; the
# webhooks the OMS sends are managed with webhooks:manage.
Submitter = Annotated[Principal, Depends(require_scope("orders:write", "channel"))]
Reader = Annotated[Principal, Depends(require_scope("orders:read", "channel", "operator"))]
StockSyncer = Annotated[Principal, Depends(require_scope("stock:sync", "operator"))]
ChannelReader = Annotated[Principal, Depends(require_scope("channels:read", "operator"))]
WebhookManager = Annotated[Principal, Depends(require_scope("webhooks:manage"))]
