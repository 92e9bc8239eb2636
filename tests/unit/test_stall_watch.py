"""A hung test ends the run with its name and where it waits (tests/stall_watch.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HUNG = """
import asyncio

async def parked_for_ever():
    await asyncio.Event().wait()

async def test_hangs():
    await parked_for_ever()

def test_after():
    pass
"""


def test_a_hung_test_is_named_shown_where_it_waits_and_interrupted(tmp_path: Path) -> None:
    (tmp_path / "test_hung.py").write_text(HUNG)
    root = Path(__file__).resolve().parents[2]
    started = time.monotonic()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            str(root / "pyproject.toml"),
            "--rootdir",
            str(tmp_path),
            "-p",
            "tests.stall_watch",
            "-p",
            "no:cacheprovider",
            str(tmp_path / "test_hung.py"),
        ],
        cwd=root,
        env={**os.environ, "OMS_TEST_STALL_S": "2"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    took = time.monotonic() - started
    out = run.stdout + run.stderr
    assert run.returncode not in (0, 3), out
    assert "test_hung.py::test_hangs has run for more than 2 s" in out, out
    assert "parked_for_ever" in out, out  # the asyncio task's stack
    assert "Thread 0x" in out and "_stalled" in out  # the threads, the watch among them
    assert "KeyboardInterrupt" in out or "Interrupted" in out, out
    assert took < 60, took
