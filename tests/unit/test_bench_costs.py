"""The measuring functions of ``python -m devtools.bench.costs`` that need no server: CPU of a
process tree from ``/proc`` (a busy child, live and reaped), the Temporal SQLite file's
size, a history's figures, and the arithmetic over two readings."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import ActivityTaskStartedEventAttributes, HistoryEvent

from devtools.bench.costs_figures import cpu_figures, history_figures, spread
from devtools.bench.costs_measure import (
    TableStats,
    cpu_by_group,
    peaks,
    process_cpu_s,
    sqlite_size,
    table_deltas,
    tree_cpu_s,
)

# A third of a second of CPU, then (for the second one) a long sleep: a known busy child.
BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.35: pass\n"


def test_tree_cpu_counts_a_reaped_child_and_a_live_one() -> None:
    first = f"{sys.executable} -c '{BURN}'"
    second = f"{sys.executable} -c '{BURN}time.sleep(90)'"
    # The shell waits for the first child (its time goes to the shell's cutime), then
    # starts the second, which stays alive after its half second of CPU.
    shell = subprocess.Popen(["sh", "-c", f"{first}; {second}"], start_new_session=True)
    try:
        deadline = time.monotonic() + 60  # CPU seconds come slowly on a loaded machine
        total, own = 0.0, 0.0
        while time.monotonic() < deadline:  # the first reaped, the second done burning
            total, own = tree_cpu_s(shell.pid) or 0.0, process_cpu_s(shell.pid) or 0.0
            if own >= 0.3 and total - own >= 0.3:
                break
            time.sleep(0.1)
        assert own >= 0.3  # the reaped child, in the shell's cutime/cstime
        assert total - own >= 0.3  # and the live one, found by its parent
        groups = cpu_by_group({"shell": shell.pid, "none": None})
        assert groups["none"] is None and (groups["shell"] or 0.0) >= total  # never backwards
        # A role of several processes (oms dev --api 2) adds them up; a gone one is left out.
        pair = cpu_by_group({"twice": [shell.pid, shell.pid, 0], "gone": [2**22 + 7]})
        assert pair["gone"] is None
        assert (pair["twice"] or 0.0) >= 2 * total
    finally:
        os.killpg(shell.pid, signal.SIGKILL)  # the shell and the child it waits for
        shell.wait()
    assert tree_cpu_s(shell.pid) is None and process_cpu_s(shell.pid) is None  # gone


def test_sqlite_size_counts_the_pages_in_use(tmp_path: Path) -> None:
    path = tmp_path / "temporal.db"
    assert sqlite_size(path) == {"file": None, "wal": None, "used_pages": None}
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (v BLOB)")
    db.commit()
    before = sqlite_size(path)
    db.executemany("INSERT INTO t VALUES (?)", [(b"x" * 1000,) for _ in range(200)])
    db.commit()
    after = sqlite_size(path)
    db.close()
    assert before["used_pages"] is not None and after["used_pages"] is not None
    assert after["used_pages"] - before["used_pages"] >= 200 * 1000
    assert after["wal"] is not None and after["wal"] > 0  # not checkpointed yet


def test_history_figures_count_tasks_attempts_and_bytes() -> None:
    def event(kind: int, **attrs: object) -> HistoryEvent:
        return HistoryEvent(event_type=kind, **attrs)  # type: ignore[arg-type]

    events = [
        event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED),
        event(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
        event(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
        event(
            EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
            activity_task_started_event_attributes=ActivityTaskStartedEventAttributes(attempt=3),
        ),
        event(EventType.EVENT_TYPE_MARKER_RECORDED),
        event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED),
        event(EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED),
    ]
    figures = history_figures(events)
    assert figures["events"] == 7 and figures["workflows"] == 1
    assert figures["workflow_tasks"] == 2  # completed and failed: both ran on a worker
    assert figures["activity_tasks"] == 1 and figures["activity_attempts"] == 3
    assert figures["local_activities"] == 1 and figures["signals"] == 1
    assert figures["bytes"] > 7 * 2  # each event is at least its type and its field tags


def test_readings_become_figures_per_order() -> None:
    before = {"orders": TableStats(10, 5, 0, 2, 10, 8192)}
    after = {
        "orders": TableStats(110, 505, 0, 402, 110, 8192 * 5),
        "order_events": TableStats(1000, 0, 0, 0, 1000, 8192 * 20),  # made in between
    }
    deltas = table_deltas(before, after)
    assert deltas["orders"] == {
        "inserted": 100,
        "updated": 500,
        "deleted": 0,
        "hot_updated": 400,
        "live": 100,
        "bytes": 8192 * 4,
    }
    assert deltas["order_events"]["inserted"] == 1000
    assert table_deltas(after, after) == {}
    assert peaks([{"connections": 3, "busy": 1}, {"connections": 2, "busy": 4}]) == {
        "connections": 3,
        "busy": 4,
    }
    assert spread([str(i) for i in range(10)], 3) == ["0", "3", "6"]
    assert spread(["a"], 5) == ["a"]
    # 100 orders in 10 s: the API used 5 s, idle 0.1 core (1 s of the 5 is background).
    cpu = cpu_figures(
        ({"api": 0.0, "postgres": 0.0}, {"api": 1.0, "postgres": 0.0}, 10.0),
        ({"api": 10.0, "postgres": 20.0}, {"api": 15.0, "postgres": 23.0}, 10.0),
        100,
        own_backend_s=1.0,  # the bench's own connection, taken off PostgreSQL's
    )
    assert cpu["api"] == {"gross": 0.05, "net": 0.04, "cores": 0.5, "idle_cores": 0.1}
    assert cpu["postgres"]["gross"] == 0.02
