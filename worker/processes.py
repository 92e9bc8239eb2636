"""``oms worker --processes N``: N worker processes under one parent.

Python runs one workflow task at a time per process (the GIL, and the SDK's workflow
runner), so a busy worker scales with processes, as Temporal's guidance for the Python SDK
says: each child is a process of its own (``python -m worker.processes <index>``) with its
own Temporal client, worker and database pool, all polling the same task queue. The server
spreads the tasks among them; a workflow cached in one child (its sticky queue) moves to
another when that child dies, after the sticky timeout, and its activities are retried
elsewhere after their timeouts, as with one worker that restarts.

What a worker does besides polling runs in child 0 only (the singletons): the WMS stock
sync schedule, the search attributes, the recovery sweep and the backorder waker. Each is
idempotent (an order's workflow id makes a second start a no-op, a second wake-up is a
hint, the schedule is made to match), so two of them would do no harm, only double work;
while child 0 restarts, orders still recheck on their own timers and the sweep and the
waker catch up when it is back.

The parent runs no Temporal client. It restarts a child that exits (after a second), and
on SIGTERM or SIGINT stops them all; each child dies with it (``die_with_parent``).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

from oms.logging import configure_logging, get_logger
from oms.process import die_with_parent, stop_processes
from oms.settings import Settings

log = get_logger(__name__)

RESTART_AFTER_S = 1.0
STOP_GRACE_S = 30.0


def _spawn(index: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "worker.processes", str(index)], preexec_fn=die_with_parent
    )


def run_processes(count: int, settings: Settings) -> int:
    """Run ``count`` worker processes until SIGTERM or SIGINT; the exit status."""
    configure_logging(settings.log_format, settings.log_level)
    stopping = False

    def _on_signal(signum: int, _: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    children = [_spawn(index) for index in range(count)]
    restart_at: dict[int, float] = {}
    log.info("worker_processes_started", processes=count, pids=[c.pid for c in children])
    try:
        while not stopping:
            now = time.monotonic()
            for index, child in enumerate(children):
                if index not in restart_at and child.poll() is not None:
                    log.warning(
                        "worker_process_exited",
                        process=index,
                        pid=child.pid,
                        code=child.returncode,
                        restart_in_s=RESTART_AFTER_S,
                    )
                    restart_at[index] = now + RESTART_AFTER_S
                elif index in restart_at and now >= restart_at[index]:
                    del restart_at[index]
                    children[index] = _spawn(index)
                    log.info("worker_process_restarted", process=index, pid=children[index].pid)
            time.sleep(0.2)
    finally:
        stop_processes(children, grace=STOP_GRACE_S)
    return 0


def _child(index: int) -> None:
    """One worker process; child 0 also runs the singletons."""
    from oms import loop as event_loop
    from oms.commands import exit_now
    from oms.settings import get_settings
    from worker.main import run_worker

    settings = get_settings()
    event_loop.run(run_worker(settings, singletons=index == 0, process=index), settings)
    exit_now(0)


if __name__ == "__main__":
    _child(int(sys.argv[1]))
