"""The Temporal Schedules that pull a channel's orders (one per pull channel).

This module is the interface the channel API and CLI call; the poller that fills it in
creates, updates and removes the schedules. Until then no channel is pulled: every function
here does nothing, and ``pull_now`` says so by returning False.
"""

from __future__ import annotations

from temporalio.client import Client

from oms.channels.config import ChannelConfig
from oms.settings import Settings


async def ensure_pull_schedule(client: Client, settings: Settings, cfg: ChannelConfig) -> None:
    """Create or update the channel's pull schedule (idempotent)."""


async def remove_pull_schedule(client: Client, name: str) -> None:
    """Remove the channel's pull schedule, if it has one (idempotent)."""


async def pull_now(client: Client, name: str) -> bool:
    """Trigger a pull of the channel now; False when there is no pull to trigger."""
    return False
