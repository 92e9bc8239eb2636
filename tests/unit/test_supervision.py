"""oms dev's supervision: children restarted with backoff, PostgreSQL lock files judged by
the process they name."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from devtools.embedded_pg import clear_stale_locks, running_postmaster, serves
from devtools.supervisor import MAX_BACKOFF_S, Supervisor, backoff_s


def _exits(code: int):
    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"])

    return start


def test_backoff_doubles_from_half_a_second_up_to_a_cap():
    assert [backoff_s(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff_s(50) == MAX_BACKOFF_S == 10.0


def test_a_child_that_dies_is_reported_and_started_again_after_its_backoff():
    said: list[str] = []
    supervisor = Supervisor(said.append)
    child = supervisor.add("worker", _exits(3))
    assert child.proc is not None
    child.proc.wait()
    first_pid = child.proc.pid

    now = time.monotonic()
    assert supervisor.tend(now) is True
    assert "worker exited unexpectedly (code 3); restarting in 0.5 s" in said
    assert child.proc.pid == first_pid  # not yet: the backoff runs
    assert supervisor.tend(now + 0.6) is True
    assert child.proc.pid != first_pid
    assert child.restarts == 1
    child.proc.wait()
    supervisor.tend(now + 0.7)
    assert said[-1].endswith("restarting in 1 s")  # a second failure in a row waits longer


def test_a_running_child_is_left_alone():
    supervisor = Supervisor(lambda _: None)
    child = supervisor.add(
        "api", lambda: subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    )
    try:
        assert supervisor.tend() is False
        assert supervisor.pids() == {"api": child.proc.pid if child.proc else None}
    finally:
        assert child.proc is not None
        child.proc.kill()
        child.proc.wait()


def _postmaster_pid_file(pgdata: Path, pid: int, socket_dir: Path) -> None:
    pgdata.mkdir(parents=True, exist_ok=True)
    lines = [str(pid), str(pgdata), "1700000000", "5432", str(socket_dir), "", "", "ready"]
    (pgdata / "postmaster.pid").write_text("\n".join(lines) + "\n")
    (socket_dir / ".s.PGSQL.5432.lock").write_text(f"{pid}\n")


def test_lock_files_naming_an_unrelated_live_process_are_removed(tmp_path: Path):
    pgdata = tmp_path / "pgdata"
    unrelated = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        _postmaster_pid_file(pgdata, unrelated.pid, tmp_path)
        assert running_postmaster(pgdata) is None
        removed = clear_stale_locks(pgdata)
    finally:
        unrelated.kill()
        unrelated.wait()
    assert {p.name for p in removed} == {"postmaster.pid", ".s.PGSQL.5432.lock"}
    assert not (pgdata / "postmaster.pid").exists()


def test_lock_files_naming_a_zombie_or_a_gone_process_are_removed(tmp_path: Path):
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    time.sleep(0.5)  # it has exited; not reaped yet, so it is a zombie
    assert not serves(zombie.pid, tmp_path)
    _postmaster_pid_file(tmp_path / "a", zombie.pid, tmp_path)
    assert clear_stale_locks(tmp_path / "a")
    zombie.wait()
    _postmaster_pid_file(tmp_path / "b", zombie.pid, tmp_path)  # now gone altogether
    assert clear_stale_locks(tmp_path / "b")


def test_lock_files_of_a_process_running_in_the_data_directory_are_kept(tmp_path: Path):
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    # PostgreSQL runs with its data directory as working directory; so does this stand-in.
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], cwd=pgdata)
    try:
        _postmaster_pid_file(pgdata, live.pid, tmp_path)
        assert running_postmaster(pgdata) == live.pid
        assert clear_stale_locks(pgdata) == []
        assert (pgdata / "postmaster.pid").exists()
    finally:
        live.kill()
        live.wait()
