"""Channel intake: a platform's order into the OMS (placeholder: the interface only).

``take`` is idempotent by (channel, platform order id): taking the same payload twice
changes nothing, and a newer state of a known order moves it on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from oms.channels.config import ChannelConfig
from oms.settings import Settings


@dataclass
class Taken:
    order_id: str
    outcome: str


async def take(
    engine: AsyncEngine,
    client: Client,
    settings: Settings,
    channel: ChannelConfig,
    payload: dict[str, Any],
    *,
    source: str = "pull",
    delivery_id: str | None = None,
) -> Taken:
    raise NotImplementedError("channel intake")
