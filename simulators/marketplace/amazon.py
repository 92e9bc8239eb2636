"""Amazon's Selling Partner Orders API, as far as the OMS uses it:
``GET /amazon/orders/v0/orders`` (getOrders by last update, NextToken paging) and
``POST /amazon/orders/v0/orders/{id}/shipmentConfirmation``.

``LastUpdatedBefore`` must lie at least the platform's lag behind its clock (2 minutes on
Amazon: ``OMS_SIM_MARKET_AMAZON_LAG_S``). getOrders is rate limited by a token bucket
(``OMS_SIM_MARKET_AMAZON_RATE`` per second, burst ``OMS_SIM_MARKET_AMAZON_BURST``): an empty
bucket answers 429 with ``x-amzn-RateLimit-Limit`` and ``Retry-After``. Orders come oldest
update first, each with its items embedded (the real API wants a getOrderItems call per
order; the sandbox saves the OMS that round trip). NextToken is a cursor (the last update
and id returned), so an order modified while pages are read never shifts the others.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from simulators.marketplace.common import market_of, unavailable
from simulators.marketplace.shapes import AMAZON_MARKETPLACE, amazon_order, iso_z
from simulators.marketplace.store import UnknownOrder

router = APIRouter(prefix="/amazon", tags=["marketplace: amazon"])
MAX_PAGE_SIZE = 100


def errors(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Any:
    return JSONResponse(
        {"errors": [{"code": code, "message": message, "details": ""}]},
        status_code=status,
        headers=headers,
    )


def parse_iso(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _token(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _untoken(text: str) -> dict[str, Any]:
    data = json.loads(base64.urlsafe_b64decode(text.encode()))
    if not isinstance(data, dict) or not {"after", "before", "key", "size"} <= set(data):
        raise ValueError("not a token")
    return data


@router.get("/orders/v0/orders")
async def get_orders(request: Request) -> Any:
    market = market_of(request)
    if (wait := market.faults.refusal("amazon")) is not None:
        return unavailable(wait, {"errors": [{"code": "ServiceUnavailable", "message": ""}]})
    if (wait := market.amazon_bucket.take()) is not None:
        return errors(
            429,
            "QuotaExceeded",
            "You exceeded your quota for the requested resource.",
            {"x-amzn-RateLimit-Limit": f"{market.amazon_rate:g}", "Retry-After": f"{wait:.3f}"},
        )
    q = request.query_params
    if not q.get("MarketplaceIds"):
        return errors(400, "InvalidInput", "MarketplaceIds is required")
    now = market.store.clock.now()
    latest = now - timedelta(seconds=market.amazon_lag_s)
    try:
        if q.get("NextToken"):
            cursor = _untoken(q["NextToken"])
            after, before = parse_iso(cursor["after"]), parse_iso(cursor["before"])
            key: tuple[str, str] | None = (cursor["key"][0], cursor["key"][1])
            size = int(cursor["size"])
        else:
            if not q.get("LastUpdatedAfter"):
                return errors(400, "InvalidInput", "LastUpdatedAfter or NextToken is required")
            after = parse_iso(q["LastUpdatedAfter"])
            before = parse_iso(q["LastUpdatedBefore"]) if q.get("LastUpdatedBefore") else latest
            key = None
            size = int(q.get("MaxResultsPerPage", MAX_PAGE_SIZE))
    except (ValueError, KeyError, TypeError, IndexError):
        return errors(400, "InvalidInput", "malformed date, page size or NextToken")
    if before > latest:
        lag = market.amazon_lag_s
        return errors(400, "InvalidInput", f"LastUpdatedBefore must be at least {lag:g} s ago")
    if before <= after:
        return errors(400, "InvalidInput", "LastUpdatedBefore must be later than LastUpdatedAfter")
    if not 1 <= size <= MAX_PAGE_SIZE:
        return errors(400, "InvalidInput", "MaxResultsPerPage must be between 1 and 100")
    listed = [
        (iso_z(o.modified) or "", o.id, o) for o in market.store.listed("amazon", after, before)
    ]
    listed.sort(key=lambda row: (row[0], row[1]))
    if key is not None:
        listed = [row for row in listed if (row[0], row[1]) > key]
    page = listed[:size]
    payload: dict[str, Any] = {
        "Orders": [amazon_order(o) for _, _, o in page],
        "LastUpdatedBefore": iso_z(before),
    }
    if len(listed) > size:
        last = page[-1]
        payload["NextToken"] = _token(
            {
                "after": iso_z(after),
                "before": iso_z(before),
                "key": [last[0], last[1]],
                "size": size,
            }
        )
    return JSONResponse(
        {"payload": payload}, headers={"x-amzn-RateLimit-Limit": f"{market.amazon_rate:g}"}
    )


@router.post("/orders/v0/orders/{order_id}/shipmentConfirmation")
async def confirm_shipment(order_id: str, request: Request) -> Any:
    market = market_of(request)
    if (wait := market.faults.refusal("amazon")) is not None:
        return unavailable(wait, {"errors": [{"code": "ServiceUnavailable", "message": ""}]})
    try:
        body = json.loads(await request.body())
        package = body["packageDetail"]
        tracking = str(package["trackingNumber"])
        carrier = str(package["carrierCode"])
        marketplace = str(body["marketplaceId"])
    except (ValueError, KeyError, TypeError):
        return errors(
            400, "InvalidInput", "marketplaceId and packageDetail{carrierCode, trackingNumber}"
        )
    if marketplace != AMAZON_MARKETPLACE:
        return errors(400, "InvalidInput", f"unknown marketplaceId {marketplace}")
    try:
        market.store.get("amazon", order_id)
    except UnknownOrder:
        return errors(404, "NotFound", f"order {order_id} not found")
    result = market.store.ship("amazon", order_id, tracking, carrier, body)
    if not result.ok:
        return errors(400, "InvalidInput", f"{result.code}: {result.message}")
    return Response(status_code=204)
