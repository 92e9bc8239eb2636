"""Configured channels as the worker reads them (placeholder: reads nothing yet).

The channel store replaces this module; until then no channel is configured, so no pull
schedule is kept.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from oms.channels.config import ChannelConfig


async def load_channel(engine: AsyncEngine, name: str) -> ChannelConfig | None:
    """The channel named ``name``, or None."""
    return None


async def pull_channels(engine: AsyncEngine) -> list[ChannelConfig]:
    """Enabled channels whose intake is pull or both."""
    return []
