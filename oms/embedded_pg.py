"""The embedded PostgreSQL's lock files, after a crash, a reboot or a kill.

``pgserver`` trusts ``postmaster.pid``: if the pid written there belongs to any running
process, it takes PostgreSQL for running and hands out a URL nobody answers on. After a
power loss that pid is gone, a zombie, or (after a reboot) some unrelated process, and
PostgreSQL itself refuses to start while the socket lock file names a live pid. Both files
are removed when the process they name is not this data directory's postmaster.
"""

from __future__ import annotations

from pathlib import Path

import psutil


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
