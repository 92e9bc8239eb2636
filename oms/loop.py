"""The event loop of the long-running processes: the worker, the API, the simulators, and
the bench (whose bare worker must run as the real worker does).

``uvloop`` by default: the same asyncio API on libuv, with less CPU per socket read,
callback and timer. ``OMS_EVENT_LOOP=asyncio`` runs the standard library's loop instead
(say, to profile or to rule the loop out when chasing a bug). See docs/performance.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from oms.settings import Settings

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T], settings: Settings) -> T:
    """``asyncio.run(main)`` on the loop the settings name."""
    if settings.event_loop == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main)
    return asyncio.run(main)


def uvicorn_loop(settings: Settings) -> str:
    """The ``loop`` argument for uvicorn."""
    return "uvloop" if settings.event_loop == "uvloop" else "asyncio"
