"""Taobao's TOP gateway, as far as the OMS uses it: ``POST /taobao/router/rest`` with
``method`` = ``taobao.trades.sold.increment.get`` (the trades modified in a window),
``taobao.trade.fullinfo.get``, ``taobao.logistics.offline.send`` (ship) and
``taobao.time.get``.

Every call is signed (``oms.adapters.marketplace.sign_params``); a wrong ``app_key`` or
``sign`` gets an ``error_response`` as TOP answers it, with HTTP 200. The increment call
takes ``start_modified``/``end_modified`` (``YYYY-MM-DD HH:MM:SS``, Asia/Shanghai) at most
30 minutes apart, pages of up to 100, and lists the trades modified in
``[start, end)`` newest first.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from oms.adapters.marketplace import sign_params
from simulators.marketplace.common import (
    Market,
    market_of,
    parse_cn_time,
    parse_int,
    read_params,
    unavailable,
)
from simulators.marketplace.shapes import cn_time, taobao_trade
from simulators.marketplace.store import UnknownOrder

router = APIRouter(prefix="/taobao", tags=["marketplace: taobao"])
MAX_WINDOW = timedelta(minutes=30)
MAX_PAGE_SIZE = 100


def error(code: int, msg: str, sub_code: str = "", sub_msg: str = "") -> JSONResponse:
    body: dict[str, Any] = {"code": code, "msg": msg, "request_id": uuid.uuid4().hex[:12]}
    if sub_code:
        body |= {"sub_code": sub_code, "sub_msg": sub_msg}
    return JSONResponse({"error_response": body})


def invalid(sub_msg: str) -> JSONResponse:
    return error(40, "Invalid arguments", "isv.invalid-parameter", sub_msg)


def signature_refusal(params: dict[str, str], market: Market) -> JSONResponse | None:
    if params.get("app_key") != market.app_key:
        return error(29, "Invalid app Key", "isv.appkey-not-exists", "unknown app_key")
    if params.get("sign", "").upper() != sign_params(params, market.app_secret):
        return error(25, "Invalid signature", "isv.invalid-signature", "sign does not match")
    return None


@router.post("/router/rest")
async def gateway(request: Request) -> JSONResponse:
    market = market_of(request)
    if (wait := market.faults.refusal("taobao")) is not None:
        return unavailable(wait)
    params = await read_params(request)
    if refused := signature_refusal(params, market):
        return refused
    method = params.get("method", "")
    if method == "taobao.trades.sold.increment.get":
        return increment(params, market)
    if method == "taobao.trade.fullinfo.get":
        return fullinfo(params, market)
    if method == "taobao.logistics.offline.send":
        return offline_send(params, market)
    if method == "taobao.time.get":
        return JSONResponse({"time_get_response": {"time": cn_time(market.store.clock.now())}})
    return error(22, "Invalid method", "isv.method-not-exists", f"unknown method {method!r}")


def increment(params: dict[str, str], market: Market) -> JSONResponse:
    missing = [n for n in ("start_modified", "end_modified") if not params.get(n)]
    if missing:
        return error(40, "Missing required arguments", "isv.missing-parameter", missing[0])
    try:
        start = parse_cn_time(params["start_modified"])
        end = parse_cn_time(params["end_modified"])
    except ValueError:
        return invalid("start_modified/end_modified: expected YYYY-MM-DD HH:MM:SS")
    if end <= start:
        return invalid("end_modified must be later than start_modified")
    if end - start > MAX_WINDOW:
        return invalid("start_modified and end_modified must be within 30 minutes of each other")
    try:
        page_no = parse_int(params.get("page_no"), 1)
        page_size = parse_int(params.get("page_size"), 40)
    except ValueError:
        return invalid("page_no/page_size: expected whole numbers")
    if page_no < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        return invalid("page_no must be 1 or more, page_size between 1 and 100")
    trades = market.store.listed("taobao", start, end)
    page = trades[(page_no - 1) * page_size : page_no * page_size]
    return JSONResponse(
        {
            "trades_sold_increment_get_response": {
                "total_results": len(trades),
                "has_next": page_no * page_size < len(trades),
                "trades": {"trade": [taobao_trade(t) for t in page]},
            }
        }
    )


def fullinfo(params: dict[str, str], market: Market) -> JSONResponse:
    try:
        trade = market.store.get("taobao", params.get("tid", ""))
    except UnknownOrder:
        return error(15, "Remote service error", "isv.trade-not-exist", "no such trade")
    return JSONResponse({"trade_fullinfo_get_response": {"trade": taobao_trade(trade)}})


def offline_send(params: dict[str, str], market: Market) -> JSONResponse:
    missing = [n for n in ("tid", "out_sid", "company_code") if not params.get(n)]
    if missing:
        return error(40, "Missing required arguments", "isv.missing-parameter", missing[0])
    request = {k: params[k] for k in ("tid", "out_sid", "company_code")}
    result = market.store.ship(
        "taobao", params["tid"], params["out_sid"], params["company_code"], request
    )
    if not result.ok:
        return error(
            15,
            "Remote service error",
            f"isv.logistics-offline-service-error:{result.code}",
            result.message,
        )
    return JSONResponse({"logistics_offline_send_response": {"shipping": {"is_success": True}}})
