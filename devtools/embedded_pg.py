"""The embedded PostgreSQL's lock files, after a crash, a reboot or a kill.

``pgserver`` trusts ``postmaster.pid``: if the pid written there belongs to any running
process, it takes PostgreSQL for running and hands out a URL nobody answers on. After a
power loss that pid is gone, a zombie, or (after a reboot) some unrelated process, and
PostgreSQL itself refuses to start while the socket lock file names a live pid. Both files
are removed when the process they name is not this data directory's postmaster.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from devtools.supervisor import alive, backoff_s


def _pid_in(path: Path) -> int | None:
    try:
        first = path.read_text().splitlines()[0].strip()
    except (OSError, IndexError):
        return None
    return int(first) if first.isdigit() else None


def serves(pid: int, pgdata: Path) -> bool:
    """Whether ``pid`` is a live (not zombie) PostgreSQL process of ``pgdata``: every
    PostgreSQL server process runs with its data directory as working directory."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return Path(proc.cwd()).resolve() == pgdata.resolve()
    except (psutil.Error, OSError):
        return False


def running_postmaster(pgdata: Path) -> int | None:
    """The pid of this data directory's postmaster if it runs, else None."""
    pid = _pid_in(pgdata / "postmaster.pid")
    return pid if pid is not None and serves(pid, pgdata) else None


def _socket_lock(pgdata: Path) -> Path | None:
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        port, socket_dir = lines[3].strip(), lines[4].strip()
    except (OSError, IndexError):
        return None
    return Path(socket_dir) / f".s.PGSQL.{port}.lock" if socket_dir and port.isdigit() else None


def clear_stale_locks(pgdata: Path) -> list[Path]:
    """Remove lock files left by a PostgreSQL that no longer runs; returns what was removed."""
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists() or running_postmaster(pgdata) is not None:
        return []
    removed = []
    lock = _socket_lock(pgdata)
    for path in (lock, pid_file):
        if path is not None and path.exists():
            path.unlink()
            removed.append(path)
    return removed


def server_processes(pgdata: Path) -> list[psutil.Process]:
    """Every live process of this data directory's PostgreSQL (postmaster and children)."""
    found = []
    for proc in psutil.process_iter(["name"]):
        if "postgres" in (proc.info.get("name") or "") and serves(proc.pid, pgdata):
            found.append(proc)
    return found


def forget_dead_handles(pgdata: Path) -> None:
    """pgserver stops PostgreSQL when the last process that opened it exits, counting them in
    ``.handle_pids.json``. A run that was killed (kill -9) never removed itself, which would
    keep every later run from stopping the server: drop the pids that are gone."""
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text())
    except ValueError:
        pids = []
    live = [pid for pid in pids if isinstance(pid, int) and alive(pid)]
    if live != pids:
        handles.write_text(json.dumps(live))


class EmbeddedPostgres:
    """The ``pgserver`` PostgreSQL of ``oms dev``, started again if it dies."""

    def __init__(self, pgdata: Path, say: Callable[[str], None]) -> None:
        self.pgdata = pgdata
        self.say = say
        self.server: Any = None
        self._retry_at = 0.0
        self._failures = 0

    def start(self) -> str:
        warnings.filterwarnings("ignore", module="platformdirs")
        import pgserver

        forget_dead_handles(self.pgdata)
        for path in clear_stale_locks(self.pgdata):
            self.say(f"removed {path.name} left by a PostgreSQL that no longer runs")
        self.server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        return str(self.server.get_uri())

    @property
    def pid(self) -> int | None:
        return running_postmaster(self.pgdata)

    def tend(self) -> bool:
        """Start PostgreSQL again if it is gone; True when it was restarted."""
        if self.pid is not None or time.monotonic() < self._retry_at:
            return False
        self.say("PostgreSQL is not running; starting it again")
        try:
            for path in clear_stale_locks(self.pgdata):
                self.say(f"removed {path.name} left by a PostgreSQL that no longer runs")
            self.server.ensure_postgres_running()
        except Exception as exc:  # report and try again after a pause
            self._failures += 1
            self._retry_at = time.monotonic() + backoff_s(self._failures)
            self.say(f"PostgreSQL did not start ({type(exc).__name__}); retrying")
            return False
        self._failures = 0
        self.say(f"PostgreSQL restarted (pid {self.pid})")
        return True

    def cleanup(self) -> None:
        if self.server is not None:
            self.server.cleanup()
