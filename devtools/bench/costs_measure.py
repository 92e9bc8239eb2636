"""What ``python -m devtools.bench.costs`` reads, as small functions: CPU seconds of a process
tree from ``/proc``, PostgreSQL's per-table counters and sizes, its WAL position and the
client connections in use, the Temporal dev server's SQLite file, and the size of a
workflow history. Each answers a snapshot; the bench subtracts two of them.

CPU is read from ``/proc/<pid>/stat`` (fields 14 to 17: utime, stime, cutime, cstime), one
pass over ``/proc`` per reading: a process's own time plus what its children already reaped
(``cutime``/``cstime``), added up over its live descendants (found by the parent field).
PostgreSQL's backends come and go; a backend that ended between two readings left its time
in the postmaster's ``cutime`` (the postmaster reaps it), so the sum never goes backwards.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TICKS_PER_S = os.sysconf("SC_CLK_TCK")


# --- CPU ---------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (which may hold spaces and
    parentheses: split after its last ``)``); None when the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return raw[raw.rindex(")") + 2 :].split()


def _cpu_s(fields: list[str]) -> float:
    # After the name: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17),
    # numbered from 1 with pid and name as 1 and 2: index = field number - 3.
    return sum(int(fields[i]) for i in range(11, 15)) / TICKS_PER_S


def process_cpu_s(pid: int) -> float | None:
    """User and system CPU seconds of ``pid`` itself and of its reaped children
    (utime + stime + cutime + cstime); None when it is gone."""
    fields = _stat_fields(pid)
    return None if fields is None else _cpu_s(fields)


@dataclass(frozen=True)
class ProcTable:
    """One pass over ``/proc``: each process's CPU seconds (its own and its reaped
    children's) and its parent."""

    cpu_s: dict[int, float]
    parent: dict[int, int]

    @classmethod
    def read(cls) -> ProcTable:
        cpu: dict[int, float] = {}
        parent: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            fields = _stat_fields(int(entry))
            if fields is None:  # ended while we listed
                continue
            cpu[int(entry)] = _cpu_s(fields)
            parent[int(entry)] = int(fields[1])
        return cls(cpu, parent)

    def tree_cpu_s(self, pid: int) -> float | None:
        """CPU seconds of ``pid`` and every live descendant, each with its reaped children;
        None when ``pid`` is gone. A descendant that ended before this reading left its
        time in its parent's ``cutime``."""
        if pid not in self.cpu_s:
            return None
        children: dict[int, list[int]] = {}
        for child, ppid in self.parent.items():
            children.setdefault(ppid, []).append(child)
        total, pending = 0.0, [pid]
        while pending:
            current = pending.pop()
            total += self.cpu_s[current]
            pending += children.get(current, [])
        return total


def tree_cpu_s(pid: int) -> float | None:
    """CPU seconds of ``pid`` and its descendants, dead or alive (see ``ProcTable``)."""
    return ProcTable.read().tree_cpu_s(pid)


def cpu_by_group(pids: Mapping[str, int | Sequence[int] | None]) -> dict[str, float | None]:
    """Each group's tree CPU seconds from one pass over ``/proc``: a group is one process or
    several (``oms dev --api 2``'s two APIs), summed; None where none is known or alive."""
    table = ProcTable.read()
    out: dict[str, float | None] = {}
    for name, given in pids.items():
        members = [given] if isinstance(given, int) else list(given or [])
        seconds = [s for s in (table.tree_cpu_s(pid) for pid in members if pid) if s is not None]
        out[name] = sum(seconds) if seconds else None
    return out


# --- PostgreSQL --------------------------------------------------------------------------


@dataclass(frozen=True)
class TableStats:
    inserted: int
    updated: int
    deleted: int
    hot_updated: int
    live: int
    total_bytes: int  # heap, indexes and TOAST (pg_total_relation_size)


TABLES_SQL = """
SELECT relname, n_tup_ins, n_tup_upd, n_tup_del, n_tup_hot_upd, n_live_tup,
       pg_total_relation_size(relid) AS total_bytes
FROM pg_stat_user_tables
"""


async def table_stats(conn: Any) -> dict[str, TableStats]:
    """Every user table's cumulative row counters and its size now. The counters are those
    the backends have reported: a backend sends its counts when its transaction ends, at
    most once a second, and an idle one within ten seconds; ``pg_stat_clear_snapshot``
    drops this session's cached copy so the reading is current."""
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    rows = await conn.fetch(TABLES_SQL)
    return {
        r["relname"]: TableStats(
            int(r["n_tup_ins"]),
            int(r["n_tup_upd"]),
            int(r["n_tup_del"]),
            int(r["n_tup_hot_upd"]),
            int(r["n_live_tup"]),
            int(r["total_bytes"]),
        )
        for r in rows
    }


def table_deltas(
    before: Mapping[str, TableStats], after: Mapping[str, TableStats]
) -> dict[str, dict[str, int]]:
    """Per table, what changed between two readings (a table made in between counts from
    zero); tables where nothing changed are left out."""
    zero = TableStats(0, 0, 0, 0, 0, 0)
    out: dict[str, dict[str, int]] = {}
    for name, end in after.items():
        start = before.get(name, zero)
        delta = {
            "inserted": end.inserted - start.inserted,
            "updated": end.updated - start.updated,
            "deleted": end.deleted - start.deleted,
            "hot_updated": end.hot_updated - start.hot_updated,
            "live": end.live - start.live,
            "bytes": end.total_bytes - start.total_bytes,
        }
        if any(delta.values()):
            out[name] = delta
    return out


async def wal_lsn(conn: Any) -> int:
    """The current WAL write position in bytes."""
    return int(await conn.fetchval("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))


ACTIVITY_SQL = """
SELECT count(*) AS connections,
       count(*) FILTER (WHERE state IS DISTINCT FROM 'idle') AS busy,
       count(*) FILTER (WHERE wait_event_type = 'Lock') AS lock_waits
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
"""


async def connections(conn: Any) -> dict[str, int]:
    """Client connections open now (all databases, this session's own left out), those in a
    statement or a transaction (not idle), and those waiting for a lock."""
    row = await conn.fetchrow(ACTIVITY_SQL)
    return {k: int(row[k]) for k in ("connections", "busy", "lock_waits")}


def peaks(samples: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """The highest value of each figure over the samples."""
    top: dict[str, int] = {}
    for sample in samples:
        for name, value in sample.items():
            top[name] = max(top.get(name, value), value)
    return top


# --- Temporal ----------------------------------------------------------------------------


def sqlite_size(path: Path) -> dict[str, int | None]:
    """The Temporal dev server's SQLite database: the main file, its write-ahead log and
    the bytes of the pages in use (page count less the free list, read through a
    read-only connection); None where a file is missing."""

    def size(p: Path) -> int | None:
        return p.stat().st_size if p.exists() else None

    used: int | None = None
    if path.exists():
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
            try:
                page = int(db.execute("PRAGMA page_size").fetchone()[0])
                pages = int(db.execute("PRAGMA page_count").fetchone()[0])
                free = int(db.execute("PRAGMA freelist_count").fetchone()[0])
                used = (pages - free) * page
            finally:
                db.close()
        except sqlite3.Error:
            used = None
    return {
        "file": size(path),
        "wal": size(path.with_name(path.name + "-wal")),
        "used_pages": used,
    }


def history_bytes(events: list[Any]) -> int:
    """A history's size as Temporal stores and sends it: its events as one serialized
    ``temporal.api.history.v1.History``."""
    from temporalio.api.history.v1 import History

    return History(events=events).ByteSize()
