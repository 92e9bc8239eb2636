"""JD's open platform gateway: ``POST /jd/routerjson`` with ``method`` =
``jingdong.pop.order.search`` (orders modified in a window) and
``jingdong.pop.order.shipment`` (ship); the business parameters travel as the JSON text
``360buy_param_json``, signed with the rest.

The search takes ``start_date``/``end_date`` (``YYYY-MM-DD HH:MM:SS``, Asia/Shanghai) at most
30 days apart, pages of up to 100, and lists paid orders only (JD shows no unpaid order to
the seller), newest modification first. JD's responses are spelled ``..._responce``.
"""

from __future__ import annotations

import json
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
from simulators.marketplace.shapes import jd_order

router = APIRouter(prefix="/jd", tags=["marketplace: jd"])
MAX_WINDOW = timedelta(days=30)
MAX_PAGE_SIZE = 100


def error(code: str, en: str, zh: str = "") -> JSONResponse:
    return JSONResponse({"error_response": {"code": code, "en_desc": en, "zh_desc": zh or en}})


@router.post("/routerjson")
async def gateway(request: Request) -> JSONResponse:
    market = market_of(request)
    if (wait := market.faults.refusal("jd")) is not None:
        return unavailable(wait)
    params = await read_params(request)
    if params.get("app_key") != market.app_key:
        return error("19", "Invalid app_key", "无效app_key")
    if params.get("sign", "").upper() != sign_params(params, market.app_secret):
        return error("14", "Invalid signature", "签名无效")
    try:
        business = json.loads(params.get("360buy_param_json") or "{}")
    except ValueError:
        business = None
    if not isinstance(business, dict):
        return error("61", "360buy_param_json is not a JSON object", "参数格式错误")
    method = params.get("method", "")
    if method == "jingdong.pop.order.search":
        return search(business, market)
    if method == "jingdong.pop.order.shipment":
        return shipment(business, market)
    return error("20", f"unknown method {method!r}", "方法不存在")


def search(business: dict[str, Any], market: Market) -> JSONResponse:
    try:
        start = parse_cn_time(str(business["start_date"]))
        end = parse_cn_time(str(business["end_date"]))
        page = parse_int(str(business.get("page", "1")), 1)
        page_size = parse_int(str(business.get("page_size", "100")), 100)
    except (KeyError, ValueError):
        return error("61", "start_date and end_date (YYYY-MM-DD HH:MM:SS) are required")
    if end <= start:
        return error("61", "end_date must be later than start_date")
    if end - start > MAX_WINDOW:
        return error("61", "start_date and end_date may be at most 30 days apart")
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        return error("61", "page >= 1 and page_size between 1 and 100")
    orders = market.store.listed("jd", start, end)
    states = {s for s in str(business.get("order_state", "")).split(",") if s}
    rendered = [jd_order(o) for o in orders]
    if states:
        rendered = [o for o in rendered if o["orderState"] in states]
    chunk = rendered[(page - 1) * page_size : page * page_size]
    return JSONResponse(
        {
            "jingdong_pop_order_search_responce": {
                "code": "0",
                "searchorderinfo_result": {
                    "apiResult": {"success": True, "code": "0"},
                    "orderTotal": len(rendered),
                    "orderInfoList": chunk,
                },
            }
        }
    )


def shipment(business: dict[str, Any], market: Market) -> JSONResponse:
    names = ("orderId", "logiCoprId", "logiNo")
    missing = [n for n in names if not business.get(n)]
    if missing:
        return error("61", f"{missing[0]} is required")
    request = {n: str(business[n]) for n in names}
    result = market.store.ship(
        "jd", request["orderId"], request["logiNo"], request["logiCoprId"], request
    )
    answer: dict[str, Any] = {"success": result.ok}
    if not result.ok:
        answer |= {"errorCode": result.code, "englishErr": result.message, "chineseErr": ""}
    return JSONResponse(
        {"jingdong_pop_order_shipment_responce": {"code": "0", "sopjosshipment_result": answer}}
    )
