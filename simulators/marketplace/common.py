"""What every platform API of the marketplace simulator shares: the ``Market`` held by the
app, reading a gateway call's parameters, the platforms' time formats, and the answers to a
call refused by an injected fault.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import JSONResponse

from simulators.marketplace.shapes import SHANGHAI
from simulators.marketplace.store import MarketStore, PlatformFaults, TokenBucket


@dataclass
class Market:
    store: MarketStore
    faults: PlatformFaults
    amazon_bucket: TokenBucket
    app_key: str
    app_secret: str
    pdd_lag_s: float
    amazon_lag_s: float
    amazon_rate: float


def market_of(request: Request) -> Market:
    """The app's market, with every change that fell due applied (so the lifecycle runs
    even in an app served without its background loop)."""
    market: Market = request.app.state.market
    market.store.advance()
    return market


async def read_params(request: Request) -> dict[str, str]:
    """A gateway call's parameters: the query string, then a url-encoded form or a JSON
    object body (later ones win; multipart is not taken), every value as text, as the
    platforms' signatures see them."""
    params: dict[str, str] = dict(request.query_params)
    kind = request.headers.get("content-type", "")
    if "json" in kind:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = {}
        if isinstance(body, dict):
            for key, value in body.items():
                params[key] = value if isinstance(value, str) else json.dumps(value)
    elif kind.startswith("application/x-www-form-urlencoded"):
        text = (await request.body()).decode("utf-8", errors="replace")
        params.update(parse_qsl(text, keep_blank_values=True))
    return params


def parse_cn_time(text: str) -> datetime:
    """``YYYY-MM-DD HH:MM:SS`` in Asia/Shanghai, as a UTC-aware time (ValueError if not)."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI).astimezone(UTC)


def parse_int(text: str | None, default: int) -> int:
    if text is None or text == "":
        return default
    return int(text)


def unavailable(retry_after: float, body: dict[str, Any] | None = None) -> JSONResponse:
    """503 for an injected outage or failure, with how long to wait."""
    return JSONResponse(
        body or {"detail": "the platform is unavailable (simulated)"},
        status_code=503,
        headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
    )
