"""``oms worker``, added to the core's ``oms`` through the entry point ``oms.commands``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from oms import loop as event_loop
from oms.commands import exit_now
from oms.settings import get_settings

MAX_PROCESSES = 64


def add_worker(sub: Any) -> None:
    worker = sub.add_parser("worker", help="run the Temporal worker")
    worker.add_argument(
        "--processes",
        type=int,
        default=1,
        help="worker processes, each with its own Temporal client and worker (default 1): "
        "Python runs one workflow task at a time per process",
    )
    worker.add_argument(
        "--no-singletons",
        action="store_true",
        help="poll the task queue only: leave the schedules' upkeep, the recovery sweep and "
        "the backorder waker to another worker (oms dev --workers N runs them in worker-1)",
    )
    worker.set_defaults(fn=cmd_worker)


def cmd_worker(args: argparse.Namespace) -> None:
    if not 1 <= args.processes <= MAX_PROCESSES:
        sys.stderr.write(f"error: --processes must be between 1 and {MAX_PROCESSES}\n")
        exit_now(2)
    settings = get_settings()
    if args.processes == 1:
        from worker.main import run_worker

        event_loop.run(run_worker(settings, singletons=not args.no_singletons), settings)
        exit_now(0)
    from worker.processes import run_processes

    exit_now(run_processes(args.processes, settings))
