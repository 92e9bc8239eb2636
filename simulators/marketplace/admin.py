"""Driving the marketplace from a test, a benchmark or a developer: make orders, move them
through their lifecycle, read what the OMS sent back, add push targets, take a platform down,
move the platform clock. Every call needs the OMS admin key when one is set.

- ``POST /sim/market/orders`` ``{platform, count, seed?, paid_ratio?, unpaid_then_paid_ratio?,
  closed_ratio?, refund_ratio?, skus?, delay_s?}`` -> ``{platform, ids}``
- ``POST /sim/market/orders/{platform}/{id}/{pay|close|refund|cancel}`` -> the order
- ``GET /sim/market/orders/{platform}?state=`` -> ``{orders: [{id, state, modified, native}]}``
- ``GET /sim/market/feedback`` -> every ship call received; ``GET /sim/market/stats``
- ``POST|GET /sim/market/push-targets``, ``DELETE /sim/market/push-targets/{id}``
- ``POST /sim/market/{platform}/down`` ``{seconds, failure_ratio?}``
- ``POST /sim/market/clock`` ``{offset_s}``
"""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from simulators.admin import refused_without_admin_key
from simulators.marketplace.common import market_of
from simulators.marketplace.generator import (
    MARKET_PLATFORMS,
    Action,
    MarketOrder,
    Mix,
    State,
    TransitionRefused,
)
from simulators.marketplace.pusher import Pusher, TargetError
from simulators.marketplace.shapes import render
from simulators.marketplace.store import UnknownOrder

router = APIRouter(prefix="/sim/market", tags=["marketplace admin"])
MAX_BATCH = 10_000
_ORDER_FIELDS = {"platform", "count", "seed", "skus", "delay_s"} | {
    "paid_ratio",
    "unpaid_then_paid_ratio",
    "closed_ratio",
    "refund_ratio",
}


def _bad(message: str, status: int = 422) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


async def _body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"{}")
    except ValueError:
        return None


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _summary(order: MarketOrder) -> dict[str, Any]:
    return {
        "platform": order.platform,
        "id": order.id,
        "state": order.state,
        "modified": order.modified.isoformat(),
        "version": order.version,
        "native": render(order),
    }


@router.post("/orders")
async def create_orders(request: Request, authorization: str | None = Header(None)) -> Any:
    if denied := refused_without_admin_key(request, authorization):
        return denied
    body = await _body(request)
    if not isinstance(body, dict):
        return _bad("expected a JSON object")
    if unknown := set(body) - _ORDER_FIELDS:
        return _bad(f"unknown fields: {', '.join(sorted(unknown))}")
    platform = body.get("platform")
    if platform not in MARKET_PLATFORMS:
        return _bad(f"platform must be one of {', '.join(MARKET_PLATFORMS)}")
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_BATCH:
        return _bad(f"count must be a whole number from 1 to {MAX_BATCH}")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        return _bad("seed must be a whole number")
    skus = body.get("skus")
    if skus is not None and (
        not isinstance(skus, list)
        or not skus
        or not all(isinstance(s, str) and s.strip() for s in skus)
    ):
        return _bad("skus must be a non-empty list of SKU strings")
    delay = body.get("delay_s", request.app.state.settings.sim_market_lifecycle_s)
    if not _number(delay) or delay < 0:
        return _bad("delay_s must be 0 or more")
    ratios = {k: body[k] for k in _ORDER_FIELDS if k.endswith("_ratio") and k in body}
    if not all(_number(v) for v in ratios.values()):
        return _bad("ratios must be numbers between 0 and 1")
    mix = Mix(**{k: float(v) for k, v in ratios.items()})
    try:
        mix.validate()
    except ValueError as exc:
        return _bad(str(exc))
    store = market_of(request).store
    kwargs: dict[str, Any] = {"seed": seed, "mix": mix, "delay_s": float(delay)}
    if skus:
        kwargs["skus"] = [s.strip() for s in skus]
    ids = store.create(platform, count, **kwargs)
    return JSONResponse({"platform": platform, "ids": ids}, status_code=201)


@router.post("/orders/{platform}/{order_id}/{action}")
async def act(
    platform: str,
    order_id: str,
    action: str,
    request: Request,
    authorization: str | None = Header(None),
) -> Any:
    if denied := refused_without_admin_key(request, authorization):
        return denied
    allowed = [a.value for a in Action if a is not Action.SHIP]
    if action not in allowed:
        return _bad(f"action must be one of {', '.join(allowed)}", 404)
    if platform not in MARKET_PLATFORMS:
        return _bad(f"unknown platform {platform!r}", 404)
    try:
        order = market_of(request).store.act(platform, order_id, action)
    except UnknownOrder as exc:
        return _bad(str(exc.args[0]), 404)
    except TransitionRefused as exc:
        return _bad(str(exc), 409)
    return JSONResponse(_summary(order))


@router.get("/orders/{platform}")
async def list_orders(
    platform: str,
    request: Request,
    state: str | None = None,
    authorization: str | None = Header(None),
) -> Any:
    if denied := refused_without_admin_key(request, authorization):
        return denied
    if platform not in MARKET_PLATFORMS:
        return _bad(f"unknown platform {platform!r}", 404)
    if state is not None and state not in {s.value for s in State}:
        return _bad(f"state must be one of {', '.join(s.value for s in State)}")
    orders = market_of(request).store.orders(platform, state)
    return JSONResponse({"orders": [_summary(o) for o in orders]})


@router.get("/feedback")
async def feedback(request: Request, authorization: str | None = Header(None)) -> Any:
    if denied := refused_without_admin_key(request, authorization):
        return denied
    return JSONResponse({"feedback": market_of(request).store.feedback})


@router.get("/stats")
async def stats(request: Request, authorization: str | None = Header(None)) -> Any:
    if denied := refused_without_admin_key(request, authorization):
        return denied
    pusher: Pusher = request.app.state.market_pusher
    return JSONResponse(
        market_of(request).store.stats()
        | {"push_targets": [t.to_json() for t in pusher.targets.values()]}
    )


@router.post("/push-targets")
async def add_push_target(request: Request, authorization: str | None = Header(None)) -> Any:
    if denied := refused_without_admin_key(request, authorization):
        return denied
    pusher: Pusher = request.app.state.market_pusher
    try:
        target = pusher.add_target(await _body(request))
    except TargetError as exc:
        return _bad(str(exc))
    return JSONResponse(target.to_json(), status_code=201)


@router.get("/push-targets")
async def list_push_targets(request: Request, authorization: str | None = Header(None)) -> Any:
    if denied := refused_without_admin_key(request, authorization):
        return denied
    pusher: Pusher = request.app.state.market_pusher
    return JSONResponse({"targets": [t.to_json() for t in pusher.targets.values()]})


@router.delete("/push-targets/{target_id}")
async def remove_push_target(
    target_id: str, request: Request, authorization: str | None = Header(None)
) -> Any:
    if denied := refused_without_admin_key(request, authorization):
        return denied
    pusher: Pusher = request.app.state.market_pusher
    if not await pusher.remove_target(target_id):
        return _bad(f"no push target {target_id}", 404)
    return JSONResponse({"removed": target_id})


@router.post("/clock")
async def set_clock(request: Request, authorization: str | None = Header(None)) -> Any:
    if denied := refused_without_admin_key(request, authorization):
        return denied
    body = await _body(request)
    if not isinstance(body, dict) or not _number(body.get("offset_s")):
        return _bad("expected {offset_s: seconds}")
    clock = market_of(request).store.clock
    clock.offset_s = float(body["offset_s"])
    return JSONResponse({"offset_s": clock.offset_s, "now": clock.now().isoformat()})


@router.post("/{platform}/down")
async def take_down(
    platform: str, request: Request, authorization: str | None = Header(None)
) -> Any:
    """Down for ``seconds`` (0 brings it back), and optionally a share of calls failing."""
    if denied := refused_without_admin_key(request, authorization):
        return denied
    if platform not in MARKET_PLATFORMS:
        return _bad(f"unknown platform {platform!r}", 404)
    body = await _body(request)
    if not isinstance(body, dict) or not _number(body.get("seconds")) or body["seconds"] < 0:
        return _bad("expected {seconds: 0 or more, failure_ratio?: 0..1}")
    ratio = body.get("failure_ratio")
    if ratio is not None and (not _number(ratio) or not 0 <= ratio <= 1):
        return _bad("failure_ratio must be between 0 and 1")
    faults = market_of(request).faults
    faults.down(platform, float(body["seconds"]))
    if ratio is not None:
        faults.ratios[platform] = float(ratio)
    return JSONResponse(
        {
            "platform": platform,
            "down_s": float(body["seconds"]),
            "failure_ratio": faults.ratios.get(platform, faults.failure_ratio),
        }
    )
