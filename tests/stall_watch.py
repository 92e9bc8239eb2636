"""A watch on the test session: a test (its setup, call or teardown) still running after
``OMS_TEST_STALL_S`` seconds (default 1200) is reported and interrupted, so that a hang
ends the run with the hung test's name and where every thread and asyncio task was
waiting, instead of running into CI's time limit with nothing said.

The report goes to the terminal the session started on (a duplicate of its stdout taken
before any test runs: pytest's capture has the usual one). Then SIGINT, as a developer
would press Ctrl-C: pytest ends the session and prints its summary. A session that does
not end within a minute of two of them is left with status 3.
"""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import io
import os
import signal
import tempfile
import threading
import time

import pytest

DEFAULT_STALL_S = 1200.0
CHECK_EVERY_S = 5.0
GRACE_S = 60.0


class StallWatch:
    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self._out = os.dup(1)
        self._current: tuple[str, float] | None = None
        self._fired = False
        threading.Thread(target=self._watch, name="stall-watch", daemon=True).start()

    @pytest.hookimpl
    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self._current = (nodeid, time.monotonic())

    @pytest.hookimpl
    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self._current = None

    def _watch(self) -> None:
        while not self._fired:
            time.sleep(CHECK_EVERY_S)
            current = self._current
            if current is not None and time.monotonic() - current[1] > self.limit_s:
                self._fired = True
                self._stalled(current[0])

    def _stalled(self, nodeid: str) -> None:
        self._write(
            f"\n\n!!! {nodeid} has run for more than {self.limit_s:.0f} s "
            "(OMS_TEST_STALL_S): where it waits, then the session is interrupted\n"
        )
        self._write(dump())
        for _ in range(2):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(GRACE_S)
        self._write(f"\n!!! the session did not end after SIGINT: leaving ({nodeid})\n")
        os._exit(3)

    def _write(self, text: str) -> None:
        try:
            os.write(self._out, text.encode("utf-8", "replace"))
        except OSError:
            pass


def dump() -> str:
    """Every thread's stack and every pending asyncio task's, as text."""
    out = io.StringIO()
    with tempfile.TemporaryFile("w+") as threads:
        faulthandler.dump_traceback(threads, all_threads=True)
        threads.seek(0)
        out.write("--- threads ---\n" + threads.read())
    # The session's event loop belongs to the main thread: found among live objects, as
    # a loop's own functions answer only for the thread that runs it.
    loops = [o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop)]
    for loop in loops:
        if loop.is_closed():
            continue
        try:
            tasks = list(asyncio.all_tasks(loop))
        except RuntimeError:  # the set changed while read: once more
            tasks = list(asyncio.all_tasks(loop))
        out.write(f"--- {len(tasks)} asyncio tasks of {loop!r} ---\n")
        for task in tasks:
            out.write(f"{task!r}\n")
            task.print_stack(limit=12, file=out)
    return out.getvalue()


def pytest_configure(config: pytest.Config) -> None:
    """Watch this session (once, however this module is reached: tests/conftest.py or
    ``-p tests.stall_watch``)."""
    if not config.pluginmanager.has_plugin("oms-stall-watch"):
        limit_s = float(os.environ.get("OMS_TEST_STALL_S", DEFAULT_STALL_S))
        config.pluginmanager.register(StallWatch(limit_s), "oms-stall-watch")
