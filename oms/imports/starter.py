"""Open imported orders started at the stage they reached (to be built: issue 18, helper C).

Interface agreed between the import command, the writer and the starter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client


@dataclass
class StartResult:
    started: int = 0
    already_running: int = 0


async def start_open(
    engine: AsyncEngine,
    client: Client,
    channel: str,
    *,
    rate_per_s: float = 50.0,
    progress: Callable[[int], None] | None = None,
) -> StartResult:
    raise NotImplementedError
