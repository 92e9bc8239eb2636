"""The scaled-out shape on one machine: ``oms dev --api 2 --workers 2`` (two API processes
behind ``oms front``, two worker processes supervised one by one), broken by a bounded
``oms chaos`` that kills one API and one worker at a time while orders come in through the
front; the books must balance, and every process must have done its share."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from devtools.ports import free_port
from tests.smoke.test_oms_dev import OMS, DevSystem


@pytest.fixture
def dev(tmp_path: Path):
    ports = {name: free_port() for name in ("api", "sim", "temporal", "ui")}
    system = DevSystem(tmp_path / "oms-home", ports)
    yield system
    if system.proc is not None and system.proc.poll() is None:
        system.stop()


def _counter(text: str, name: str) -> float:
    """The sum of a Prometheus counter's samples (all labels)."""
    pattern = re.compile(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", re.MULTILINE)
    return sum(float(value) for value in pattern.findall(text))


def _get(url: str, within: float = 60) -> str:
    """A process killed last may still be starting: its metrics answer once it is up."""
    deadline = time.monotonic() + within
    while True:
        try:
            return httpx.get(url, timeout=10).text
        except httpx.HTTPError:
            assert time.monotonic() < deadline, f"{url} does not answer"
            time.sleep(1)


def test_oms_chaos_through_the_front_kills_one_api_and_one_worker_at_a_time(dev):
    dev.start("--api", "2", "--workers", "2")
    run = json.loads((dev.home / "run.json").read_text())
    assert {"api-1", "api-2", "front", "worker-1", "worker-2"} <= set(run["pids"])
    assert "api" not in run["pids"] and "worker" not in run["pids"]
    assert run["api_url"] == f"http://127.0.0.1:{dev.ports['api']}"  # the front's address
    assert len(run["api_urls"]) == 2
    banner = "".join(dev.output)
    assert "API 2" in banner and "Worker 2" in banner and "/front/health" in banner

    result = subprocess.run(
        [
            OMS,
            "chaos",
            "--orders",
            "60",
            "--concurrency",
            "4",
            "--kills",
            "3",
            "--api-kills",
            "3",
            "--window",
            "30",
            "--settle-timeout",
            "180",
            "--seed",
            "11",
            # Temporal's and PostgreSQL's crashes are the short form's (test_oms_dev.py).
            "--no-temporal-restart",
            "--no-postgres-restart",
        ],
        env=dev.env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "violations             0" in report
    assert "orders accepted        60" in report
    assert "worker kills           3" in report
    assert "API kills              3" in report
    killed = re.search(r"kills by process\s+(.*)", report)
    assert killed is not None and re.search(r"api-\d \d", killed.group(1)), report

    # Both APIs served chaos's requests (the front counts what each was given since it
    # started; an API's own counters start again when it does) and answer on their own.
    front = httpx.get(f"{run['api_url']}/front/health", timeout=10).json()
    assert len(front["backends"]) == 2
    assert all(b["requests"] >= 10 for b in front["backends"]), front
    assert front["failures"]["refused"] >= 1, front  # a killed API was skipped
    for url in run["metrics"]["apis"]:
        assert "oms_http_requests_total" in _get(url)
    # Both workers ran tasks: workflow tasks and activities on each one's own metrics.
    for url in run["metrics"]["workers"]:
        deadline = time.monotonic() + 60
        while True:
            text = _get(url)
            tasks = _counter(text, "temporal_workflow_task_execution_latency_count")
            activities = _counter(text, "temporal_activity_execution_latency_count")
            if tasks > 0 and activities > 0:
                break
            assert time.monotonic() < deadline, f"{url}: no tasks ({tasks}, {activities})"
            time.sleep(1)
    assert dev.stop() == 0
    assert "front exited unexpectedly" not in "".join(dev.output)
