"""``oms import start``: start the workflows of a channel's open imported orders.

    oms import start --channel C [--rate N] [--fixed-rate]

Each open order the import wrote (paid, reserved or dispatched in the old system) starts
its workflow at that stage (``oms.imports.starter``), at most ``--rate`` a second (2 by
default), slower while Temporal answers slowly (``oms.imports.pace``; ``--fixed-rate``:
``--rate`` throughout), so the live system keeps its latency. A progress bar on a
terminal, a summary at the end. Killed or stopped half way, the same command starts what
is left, and nothing twice. Exit 0 once every order of the channel is started; 1 when
Temporal stopped answering (run it again); 2 for bad arguments or a database that cannot
be used.

The database is ``DATABASE_URL`` (or ``oms dev``'s embedded one), Temporal
``TEMPORAL_ADDRESS``, as for the worker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from oms.settings import Settings

DEFAULT_RATE = 2.0
MAX_RATE = 10_000.0


def add_parser(sub: Any) -> None:
    """``start`` under ``oms import``'s subcommands."""
    start = sub.add_parser(
        "start",
        help="start the workflows of a channel's open imported orders, at a bounded rate",
    )
    start.add_argument("--channel", required=True, help="the channel the orders were imported to")
    start.add_argument(
        "--rate",
        type=float,
        default=DEFAULT_RATE,
        help=f"workflows started per second at most (default {DEFAULT_RATE:g})",
    )
    start.add_argument(
        "--fixed-rate",
        action="store_true",
        help="start at --rate throughout, without slowing down when Temporal answers slowly",
    )
    start.set_defaults(fn=cmd_start)


def cmd_start(args: argparse.Namespace) -> None:
    from oms.commands import exit_now

    exit_now(run(args, _settings()))


def _settings() -> Settings:
    """The database of ``oms dev`` when no ``DATABASE_URL`` is set, and its payload key
    when ``OMS_PAYLOAD_KEYS`` is not: the orders' input is sealed as the API seals it."""
    from oms.cli import _settings_with_database

    return with_payload_keys(_settings_with_database())


def with_payload_keys(settings: Settings) -> Settings:
    """``oms dev``'s payload key (``.oms/secrets.json``) when the environment names none,
    so that what goes to Temporal is sealed as the API seals it (as ``oms channels``)."""
    if settings.payload_keys:
        return settings
    secrets = Path(settings.home) / "secrets.json"
    if secrets.exists():
        keys = json.loads(secrets.read_text()).get("payload_keys")
        if keys:
            return settings.model_copy(update={"payload_keys": keys})
    return settings


def run(args: argparse.Namespace, settings: Settings) -> int:
    from oms.logging import configure_logging

    if not (0 < args.rate <= MAX_RATE):
        sys.stderr.write(f"error: --rate must be above 0 and at most {MAX_RATE:g}\n")
        return 2
    if not args.channel.strip():
        sys.stderr.write("error: --channel must name a channel\n")
        return 2
    configure_logging(settings.log_format, settings.log_level)  # to stderr: stdout is ours
    fixed = bool(getattr(args, "fixed_rate", False))
    return asyncio.run(_start(args.channel, args.rate, settings, fixed))


async def _start(channel: str, rate: float, settings: Settings, fixed: bool) -> int:
    from oms import channel_registry
    from oms.db.engine import make_engine
    from oms.imports.pace import SLOW_START_S
    from oms.imports.starter import start_open
    from oms.temporal_client import connect

    channel_registry.configure(settings.payload_keys)
    engine = make_engine(settings, pool_size=2)
    began = time.perf_counter()
    bar = _Bar() if sys.stdout.isatty() else None
    try:
        try:
            client = await asyncio.wait_for(connect(settings), 10)
        except Exception as exc:
            sys.stderr.write(f"error: could not reach Temporal: {exc}\n")
            return 1
        try:
            result = await start_open(
                engine,
                client,
                channel,
                rate_per_s=rate,
                progress=bar.show if bar else None,
                settings=settings,
                slow_s=None if fixed else SLOW_START_S,
            )
        except OSError as exc:  # the database cannot be reached
            sys.stderr.write(f"\nerror: the database cannot be used: {exc}\n")
            return 2
        except Exception as exc:  # Temporal stopped answering: what is left starts next time
            sys.stderr.write(
                f"\nerror: stopped ({type(exc).__name__}: {exc}); run the command again to "
                "start the rest\n"
            )
            return 1
    finally:
        await engine.dispose()
    seconds = time.perf_counter() - began
    done = result.started + result.already_running
    rate_seen = result.started / seconds if seconds > 0 else 0.0
    if bar:
        bar.end()
    print(
        f"{channel}: {result.started} started, {result.already_running} already running "
        f"({done} in {seconds:.1f} s, {rate_seen:.1f} started/s)"
    )
    return 0


class _Bar:
    """Orders handled so far, on one terminal line, at most ten times a second."""

    def __init__(self) -> None:
        self._shown = 0.0

    def show(self, done: int) -> None:
        now = time.monotonic()
        if now - self._shown >= 0.1:
            self._shown = now
            sys.stdout.write(f"\rstarting: {done} orders")
            sys.stdout.flush()

    def end(self) -> None:
        sys.stdout.write("\n")
