"""Child processes: tied to their parent's life, and stopped in order."""

from __future__ import annotations

import signal
import subprocess
import sys
import time


def die_with_parent() -> None:
    """Runs in a child (before exec, or first thing): on Linux, ask the kernel to stop it
    if its parent dies (kill -9, a closed terminal), so no orphan keeps working or keeps a
    port busy."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def stop_processes(processes: list[subprocess.Popen[bytes]], grace: float = 10.0) -> None:
    """SIGTERM to each, then SIGKILL to those still running after ``grace`` seconds."""
    for proc in processes:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in processes:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
