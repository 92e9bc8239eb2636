"""Open imported orders started at the stage they reached (``oms import start``).

The writer stores each open imported order as an ``orders`` row in ``received`` with its
``imported`` part (the stage, what the old system did); this starts their workflows, the
channel's rows oldest first, each as a live order starts (``oms.order_start.start_order``:
the same input from the channel's settings, ``REJECT_DUPLICATE`` on ``order-<id>``), with
the view's ``imported`` part on the input, so the workflow starts at that stage.

Bounded: a token bucket lets at most ``rate_per_s`` starts through a second (a burst of a
fifth of a second's worth at most) with a few starts under way at once, and the pace
follows Temporal's answers (``oms.imports.pace``): it halves while starts are accepted
slowly and climbs back while they are quick, so a large import leaves the live system its
latency. Resumable: a row whose workflow has taken a step no
longer reads as not started, and a start of one that runs already is refused by Temporal
and counted ``already_running``, so a second call (after a kill, or while the first runs)
starts what is left and nothing twice.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.converter import value_to_type

from oms import channel_registry
from oms.domain.messages import OrderView
from oms.imports.pace import SLOW_START_S, Pace, TokenBucket
from oms.order_start import start_order
from oms.settings import Settings
from oms.store import imports

PAGE = 500  # rows read at a time
# Starts under way at once: a few, enough for the rate when a start takes 200 ms.
MIN_IN_FLIGHT, MAX_IN_FLIGHT = 4, 32


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
    settings: Settings | None = None,
    in_flight: int | None = None,
    slow_s: float | None = SLOW_START_S,
) -> StartResult:
    """Start the workflow of every open imported order of ``channel`` not started yet.

    ``progress`` is called with the number of orders handled so far (started or found
    running) after each one. ``in_flight``: starts under way at once (by default a fifth
    of a second's worth of the rate, 4 to 32). ``slow_s``: the start answer time above
    which the pace slows (``oms.imports.pace``; None: ``rate_per_s`` throughout).
    ``settings``: the task queue and the order
    timings (the environment's ``OMS_*`` when not given). Raises what ``start_order`` raises when
    Temporal cannot be reached, after the starts under way have ended: a later call goes
    on from there."""
    settings = settings or Settings()
    config = await channel_registry.load_channel(engine, channel)
    pace = Pace(TokenBucket(rate_per_s), slow_s)
    result = StartResult()
    if in_flight is None:
        in_flight = max(MIN_IN_FLIGHT, min(MAX_IN_FLIGHT, math.ceil(rate_per_s / 5)))
    slots = asyncio.Semaphore(max(1, in_flight))
    running: set[asyncio.Task[None]] = set()
    failures: list[BaseException] = []

    async def start_one(view: OrderView) -> None:
        try:
            await pace.bucket.take()
            began = time.monotonic()
            if await start_order(client, settings, view, "", channel=config):
                result.started += 1
            else:
                result.already_running += 1
            pace.answered(time.monotonic() - began)
            if progress is not None:
                progress(result.started + result.already_running)
        except Exception as exc:  # Temporal away: no new starts; the caller hears of it
            failures.append(exc)
        finally:
            slots.release()

    after: tuple[datetime, str] | None = None
    try:
        while not failures:
            async with engine.connect() as conn:
                rows = await imports.open_imported_not_started(conn, channel, PAGE, after)
            for row in rows:
                await slots.acquire()
                if failures:
                    slots.release()
                    break
                task = asyncio.create_task(start_one(value_to_type(OrderView, row.view, [])))
                running.add(task)
                task.add_done_callback(running.discard)
            if len(rows) < PAGE:
                break
            after = (rows[-1].created_at, rows[-1].id)
    finally:
        await asyncio.gather(*running, return_exceptions=True)
    if failures:
        raise failures[0]
    return result
