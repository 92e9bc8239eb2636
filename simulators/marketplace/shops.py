"""The ship calls of the push platforms: Shopify's
``POST /shopify/admin/api/2024-10/orders/{id}/fulfillments.json`` and WooCommerce's
``PUT /woocommerce/wp-json/wc/v3/orders/{id}`` (``status: completed`` with the tracking in
``meta_data``). Each is recorded in the feedback; the order becomes shipped, and its webhook
(``orders/updated``, ``order.updated``) goes out like any other change.
"""

from __future__ import annotations

import json
import random
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from simulators.marketplace.common import market_of, unavailable
from simulators.marketplace.shapes import woo_order
from simulators.marketplace.store import UnknownOrder

router = APIRouter(tags=["marketplace: shopify, woocommerce"])


async def _json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        return None


@router.post("/shopify/admin/api/2024-10/orders/{order_id}/fulfillments.json")
async def shopify_fulfil(order_id: str, request: Request) -> JSONResponse:
    market = market_of(request)
    if (wait := market.faults.refusal("shopify")) is not None:
        return unavailable(wait, {"errors": "Service Unavailable"})
    body = await _json_body(request)
    fulfillment = body.get("fulfillment") if isinstance(body, dict) else None
    if not isinstance(fulfillment, dict):
        return JSONResponse({"errors": {"fulfillment": ["is required"]}}, status_code=400)
    info = fulfillment.get("tracking_info") or {}
    tracking = str(fulfillment.get("tracking_number") or info.get("number") or "")
    carrier = str(fulfillment.get("tracking_company") or info.get("company") or "")
    try:
        market.store.get("shopify", order_id)
    except UnknownOrder:
        return JSONResponse({"errors": "Not Found"}, status_code=404)
    result = market.store.ship("shopify", order_id, tracking, carrier, body)
    if not result.ok:
        return JSONResponse({"errors": {"base": [result.message]}}, status_code=422)
    answer = {
        "id": random.randrange(10**12, 10**13),
        "order_id": int(order_id),
        "status": "success",
        "tracking_number": tracking,
        "tracking_company": carrier,
    }
    return JSONResponse({"fulfillment": answer}, status_code=201)


def _meta(meta: Any, *keys: str) -> str:
    for item in meta if isinstance(meta, list) else []:
        if isinstance(item, dict) and item.get("key") in keys:
            return str(item.get("value") or "")
    return ""


@router.put("/woocommerce/wp-json/wc/v3/orders/{order_id}")
async def woo_update(order_id: str, request: Request) -> JSONResponse:
    market = market_of(request)
    if (wait := market.faults.refusal("woocommerce")) is not None:
        return unavailable(wait, {"code": "unavailable", "message": "Service Unavailable"})
    body = await _json_body(request)
    if not isinstance(body, dict):
        return _woo_error(400, "rest_invalid_json", "the body is not a JSON object")
    try:
        order = market.store.get("woocommerce", order_id)
    except UnknownOrder:
        return _woo_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
    if body.get("status") != "completed":
        return _woo_error(
            400, "woocommerce_rest_invalid_status", "the sandbox only completes orders"
        )
    meta = body.get("meta_data")
    tracking = _meta(meta, "_tracking_number", "tracking_number")
    carrier = _meta(meta, "_tracking_provider", "tracking_provider", "carrier")
    result = market.store.ship("woocommerce", order_id, tracking, carrier, body)
    if not result.ok:
        return _woo_error(400, f"woocommerce_rest_{result.code}", result.message)
    return JSONResponse(woo_order(order))


def _woo_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, "data": {"status": status}}, status_code=status
    )
