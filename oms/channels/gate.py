"""Writing a new order of a configured channel under the channel's switch lock, so that
the mode it gets (live or shadow, oms.channels.cutover) is the channel's mode at the
order's ``created_at``: the lock, the read of the mode, the moment and the order's row are
one transaction, and a switch of mode or pilot takes the same lock exclusive
(``oms.store.channels``). Used by every intake: pushed and pulled platform orders
(``oms.channels.intake``) and ``POST /v1/orders`` for a channel that has a row.

The first event (``order_received``) records what the shadow report reads later: the
``mode``, and for a shadow order whether a shortage would have failed it (``backorder``)
and the cancel window it would have waited (``release_delay_s``).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from oms.channels.canonical import PlatformState
from oms.channels.config import ChannelConfig, Mode
from oms.channels.cutover import mode_for
from oms.domain.messages import OrderView, PlatformView
from oms.order_start import order_input
from oms.settings import Settings
from oms.store import channels, orders


async def insert_order(
    engine: AsyncEngine,
    settings: Settings,
    channel: ChannelConfig | None,
    view: OrderView,
    order: dict[str, Any],
    first: dict[str, Any],
) -> bool:
    """Record the new order (``order``: the columns of ``oms.store.orders.insert``
    but ``view`` and ``now``, taken from ``view``) and its first event ``first``; False
    when it exists already. For a configured channel, ``view`` is stamped in place with
    the moment and the mode (an order of a channel without a platform part, sent to
    ``POST /v1/orders``, gets one when the channel sends it to shadow)."""
    async with engine.begin() as conn:
        gate = await channels.intake_gate(conn, view.channel)
        if gate is not None:
            stamp(
                view,
                gate.now,
                gate.platform,
                mode_for(gate.mode, gate.live_countries, view.shipping_address.country),
            )
            mode = view.platform.mode if view.platform is not None else Mode.LIVE.value
            first = {**first, "mode": mode}
            if mode == Mode.SHADOW:
                inp = order_input(settings, view, "", channel)
                first["backorder"] = inp.backorder
                first["release_delay_s"] = inp.release_delay_s
        row = {
            **order,
            "view": json.dumps(asdict(view)),
            "now": datetime.fromisoformat(view.created_at),
        }
        return await orders.insert_in(conn, row, json.dumps(first))


def stamp(view: OrderView, now: datetime, platform: str, mode: str) -> None:
    """The order's moment and mode, as decided under the lock."""
    view.created_at = view.updated_at = now.isoformat()
    if view.platform is not None:
        view.platform.mode = mode
    elif mode == Mode.SHADOW:
        view.platform = PlatformView(platform, PlatformState.PAID.value, "", mode=mode)
