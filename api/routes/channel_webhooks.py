"""Platform webhooks: a sales platform's own payload, signed its own way, taken into the
OMS (``POST /v1/channels/{channel}/webhooks``).

The signature is the platform's (Shopify ``X-Shopify-Hmac-Sha256``, WooCommerce
``X-WC-Webhook-Signature``, Standard Webhooks headers for a native channel) over the raw
body, with the channel's secret: no API key is needed, and a bad signature is 401 and
changes nothing. A delivery the platform sends again (same ``X-Shopify-Webhook-Id``,
``X-WC-Webhook-Delivery-ID`` or ``webhook-id``) gets 200 with the first outcome and is
not taken twice; the intake is idempotent besides, by (channel, platform order id).

While the backlog is full (``api.backlog``), a delivery that would create an order new to
the OMS is refused with 429 ``backlog-full`` and ``Retry-After``, and nothing is written:
Shopify and native senders deliver it again later. WooCommerce is the exception: it
disables a webhook after five failed deliveries in a row, which would stop the channel's
orders for good, so its orders are taken whatever the backlog (docs/peak-days.md).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.backlog import BacklogFull, BacklogSampler
from api.deps import Admin, EngineDep, JsonRoute, MaybeTemporalDep, SettingsDep
from api.errors import Problem
from api.schemas import problems
from oms.channel_registry import load_channel
from oms.channels.intake import ChannelOrderInvalid, WorkflowUnreachable, take, unseal
from oms.channels.signatures import delivery_id, verify
from oms.logging import get_logger
from oms.store import channel_orders

router = APIRouter(prefix="/v1", tags=["channels"], route_class=JsonRoute)
log = get_logger(__name__)

# Platforms that give up on (disable) a webhook after a few failed deliveries: refusing
# one of their deliveries for a backlog would lose orders, not defer them.
NEVER_REFUSED = frozenset({"woocommerce"})

_ANSWER = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string"},
        "outcome": {
            "type": "string",
            "enum": ["created", "updated", "unchanged", "ignored"],
            "description": "created: a new order; updated: the order was told what changed "
            "on the platform; unchanged: nothing new; ignored: first seen closed or "
            "already shipped",
        },
        "state": {"type": "string"},
        "duplicate": {"type": "boolean"},
    },
    "required": ["order_id", "outcome"],
}


@router.post(
    "/channels/{channel}/webhooks",
    status_code=202,
    summary="A sales platform's own webhook (its payload and its signature)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The platform's order exactly as it sends it (Shopify and "
            "WooCommerce order webhooks, or a native channel's order JSON).",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
    responses={
        200: {
            "description": "A delivery taken before: its first outcome, `duplicate: true`.",
            "content": {"application/json": {"schema": _ANSWER}},
        },
        202: {
            "description": "Taken.",
            "content": {"application/json": {"schema": _ANSWER}},
        },
        **problems(
            401,
            404,
            409,
            413,
            422,
            429,
            503,
            _401="A missing or wrong platform signature (``invalid-signature``).",
            _404="No such channel, or it is disabled (``not-found``).",
            _409="The channel does not take pushed orders (``not-a-push-channel``).",
            _422="Not JSON, or an order the OMS cannot take (``channel-order-invalid``), "
            "with the fields at fault.",
            _429="The system's backlog is at its limit and this delivery would create a new "
            "order (``backlog-full``): nothing was written; deliver it again after "
            "``Retry-After`` seconds. Never for WooCommerce channels.",
        ),
    },
)
async def platform_webhook(
    channel: str,
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    client: MaybeTemporalDep,
) -> Any:
    config = await load_channel(engine, channel)
    if config is None or not config.enabled:
        raise Problem(404, f"no channel {channel!r}", kind="not-found")
    if not config.pushes:
        raise Problem(
            409,
            f"channel {channel!r} takes its orders by pull, not by webhook",
            kind="not-a-push-channel",
        )
    raw = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    if not config.secret or not verify(config.platform, raw, headers, config.secret):
        log.warning("channel_webhook_bad_signature", channel=channel)
        raise Problem(401, "missing or invalid platform signature", kind="invalid-signature")
    delivery = delivery_id(config.platform, headers)
    if delivery:
        earlier = await channel_orders.receipt(engine, channel, delivery)
        if earlier is not None:
            answer = {"order_id": earlier.order_id, "outcome": earlier.outcome, "duplicate": True}
            return JSONResponse(answer, status_code=200)
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Problem(422, f"the body is not JSON: {exc}", kind="validation-error") from exc
    if not isinstance(payload, dict):
        raise Problem(422, "the body is not a JSON object", kind="validation-error")
    backlog: BacklogSampler = request.app.state.backlog
    admit = None if config.platform in NEVER_REFUSED else lambda: backlog.admit("webhooks")
    try:
        taken = await take(
            engine,
            client,
            settings,
            config,
            payload,
            source="push",
            delivery_id=delivery,
            admit=admit,
        )
    except BacklogFull as exc:
        raise exc.problem() from None
    except ChannelOrderInvalid as exc:
        raise Problem(422, str(exc), kind="channel-order-invalid", errors=exc.errors) from exc
    except WorkflowUnreachable as exc:
        raise Problem(
            503,
            "the order could not reach its workflow yet; the platform's retry (or the same "
            "request again) is safe",
            kind="temporal-unavailable",
            headers={"Retry-After": "5"},
            dependency="temporal",
        ) from exc
    if delivery:
        await channel_orders.keep_receipt(engine, channel, delivery, taken.order_id, taken.outcome)
    return JSONResponse(
        {"order_id": taken.order_id, "outcome": taken.outcome, "state": taken.state},
        status_code=202,
    )


@router.get(
    "/orders/{order_id}/platform",
    summary="A channel order's platform side: its state and the raw payload as received",
    responses=problems(401, 403, 404),
)
async def platform_side(
    order_id: str, caller: Admin, engine: EngineDep, settings: SettingsDep
) -> dict[str, Any]:
    """What the order's platform last said of it, and its payload as the platform sent it
    (opened from its sealed copy): for checking or fixing a mapping. Admins only: the
    payload holds the buyer's personal data."""
    row = await channel_orders.get(engine, order_id)
    if row is None:
        raise Problem(404, f"order {order_id} did not come from a sales platform", kind="not-found")
    log.info("platform_payload_read", order_id=order_id, by=caller.name)
    return {
        "order_id": row.order_id,
        "channel": row.channel,
        "external_id": row.external_id,
        "platform": row.platform,
        "state": row.state,
        "platform_status": row.platform_status,
        "platform_updated_at": row.platform_updated_at.isoformat(),
        "payload": json.loads(unseal(settings, row.payload)),
    }
