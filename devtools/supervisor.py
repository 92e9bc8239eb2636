"""Keeping ``oms dev``'s child processes alive: a child that dies unexpectedly is started
again after a backoff (0.5 s doubling to 10 s; reset once it has run for ten seconds), and
each restart is reported, instead of one crash stopping the whole system."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Starter = Callable[[], "subprocess.Popen[bytes]"]
STABLE_AFTER_S = 10.0
MAX_BACKOFF_S = 10.0


def backoff_s(failures: int) -> float:
    """Seconds to wait before restart number ``failures`` (1, 2, ...) in a row."""
    return min(MAX_BACKOFF_S, 0.5 * 2 ** max(0, failures - 1))


@dataclass
class Child:
    name: str
    start: Starter
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0  # unexpected exits in a row
    restart_at: float | None = None
    restarts: int = 0

    def launch(self) -> None:
        self.proc = self.start()
        self.started_at = time.monotonic()
        self.restart_at = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None


@dataclass
class Supervisor:
    report: Callable[[str], None]
    children: dict[str, Child] = field(default_factory=dict)

    def add(self, name: str, start: Starter) -> Child:
        child = Child(name, start)
        child.launch()
        self.children[name] = child
        return child

    def tend(self, now: float | None = None) -> bool:
        """Notice exits and restart children whose backoff is over; True if a pid changed."""
        now = time.monotonic() if now is None else now
        changed = False
        for child in self.children.values():
            proc = child.proc
            if child.restart_at is None and proc is not None and proc.poll() is not None:
                if now - child.started_at >= STABLE_AFTER_S:
                    child.failures = 0
                child.failures += 1
                delay = backoff_s(child.failures)
                child.restart_at = now + delay
                self.report(
                    f"{child.name} exited unexpectedly (code {proc.returncode}); "
                    f"restarting in {delay:g} s"
                )
                changed = True
            if child.restart_at is not None and now >= child.restart_at:
                child.launch()
                child.restarts += 1
                self.report(f"{child.name} restarted (pid {child.pid})")
                changed = True
        return changed

    def pids(self) -> dict[str, int | None]:
        return {name: child.pid for name, child in self.children.items()}

    def processes(self) -> list[subprocess.Popen[bytes]]:
        return [c.proc for c in self.children.values() if c.proc is not None]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
