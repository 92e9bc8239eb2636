"""Pinduoduo's open platform gateway: ``POST /pdd/api/router`` with ``type`` =
``pdd.order.number.list.increment.get`` (orders updated in a window),
``pdd.logistics.online.send`` (ship) and ``pdd.time.get``.

The increment call takes ``start_updated_at``/``end_updated_at`` (unix seconds) at most
30 minutes apart, and ``end_updated_at`` must lie at least the platform's lag behind its
clock (PDD's rule is 3 minutes: ``OMS_SIM_MARKET_PDD_LAG_S``, small in tests). Errors come as
``error_response`` {error_code, error_msg, sub_code, sub_msg} with HTTP 200.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from oms.adapters.marketplace import sign_params
from simulators.marketplace.common import Market, market_of, parse_int, read_params, unavailable
from simulators.marketplace.shapes import cn_time, pdd_order

router = APIRouter(prefix="/pdd", tags=["marketplace: pdd"])
MAX_WINDOW_S = 1800
MAX_PAGE_SIZE = 100


def error(code: int, msg: str, sub_code: str = "", sub_msg: str = "") -> JSONResponse:
    body: dict[str, Any] = {
        "error_code": code,
        "error_msg": msg,
        "sub_code": sub_code,
        "sub_msg": sub_msg,
        "request_id": uuid.uuid4().hex[:16],
    }
    return JSONResponse({"error_response": body})


def invalid(sub_msg: str) -> JSONResponse:
    return error(10000, "参数错误", "invalid_parameter", sub_msg)


@router.post("/api/router")
async def gateway(request: Request) -> JSONResponse:
    market = market_of(request)
    if (wait := market.faults.refusal("pdd")) is not None:
        return unavailable(wait)
    params = await read_params(request)
    if params.get("client_id") != market.app_key:
        return error(10019, "client_id不存在", "invalid_client_id", "unknown client_id")
    if params.get("sign", "").upper() != sign_params(params, market.app_secret):
        return error(10016, "签名错误", "invalid_sign", "sign does not match")
    kind = params.get("type", "")
    if kind == "pdd.order.number.list.increment.get":
        return increment(params, market)
    if kind == "pdd.logistics.online.send":
        return online_send(params, market)
    if kind == "pdd.time.get":
        return JSONResponse({"time_get_response": {"time": cn_time(market.store.clock.now())}})
    return error(10001, "接口不存在", "unknown_type", f"unknown type {kind!r}")


def increment(params: dict[str, str], market: Market) -> JSONResponse:
    try:
        start_s = int(params["start_updated_at"])
        end_s = int(params["end_updated_at"])
        page = parse_int(params.get("page"), 1)
        page_size = parse_int(params.get("page_size"), 100)
        lucky = parse_int(params.get("is_lucky_flag"), 0)
    except (KeyError, ValueError):
        return invalid("start_updated_at and end_updated_at (unix seconds) are required")
    if end_s <= start_s:
        return invalid("end_updated_at must be later than start_updated_at")
    if end_s - start_s > MAX_WINDOW_S:
        return invalid("the window may be at most 30 minutes")
    now = market.store.clock.now().timestamp()
    if end_s > now - market.pdd_lag_s:
        return invalid(f"end_updated_at must be at least {market.pdd_lag_s:g} s before now")
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE or lucky not in (0, 1, 2):
        return invalid("page >= 1, page_size between 1 and 100, is_lucky_flag 0, 1 or 2")
    orders = market.store.listed(
        "pdd", datetime.fromtimestamp(start_s, UTC), datetime.fromtimestamp(end_s, UTC)
    )
    chunk = orders[(page - 1) * page_size : page * page_size]
    return JSONResponse(
        {
            "order_sn_increment_get_response": {
                "total_count": len(orders),
                "has_next": page * page_size < len(orders),
                "order_sn_list": [pdd_order(o) for o in chunk],
            }
        }
    )


def online_send(params: dict[str, str], market: Market) -> JSONResponse:
    names = ("order_sn", "logistics_id", "tracking_number")
    missing = [n for n in names if not params.get(n)]
    if missing:
        return invalid(f"{missing[0]} is required")
    request = {n: params[n] for n in names}
    result = market.store.ship(
        "pdd", params["order_sn"], params["tracking_number"], params["logistics_id"], request
    )
    if not result.ok:
        return error(50001, "业务失败", f"order_{result.code}", result.message)
    return JSONResponse({"logistics_online_send_response": {"is_success": True}})
