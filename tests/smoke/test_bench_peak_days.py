"""``oms bench --overload`` and ``--peak``, tiny, against a booted ``oms dev`` with a small
backlog limit: the overload is refused with 429s that carry Retry-After, nothing else
goes wrong, and every accepted order ends (docs/peak-days.md)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from devtools.ports import free_port
from tests.smoke.test_bench import ZeroDelayDevSystem
from tests.smoke.test_oms_dev import OMS

LIMIT = 20


class SmallBacklogDevSystem(ZeroDelayDevSystem):
    """At zero simulator delay, with a backlog limit a few seconds of overload reach."""

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "OMS_BACKLOG_LIMIT": str(LIMIT), "OMS_BACKLOG_CHECK_S": "0.5"}


@pytest.fixture
def dev(tmp_path: Path):
    ports = {name: free_port() for name in ("api", "sim", "temporal", "ui")}
    system = SmallBacklogDevSystem(tmp_path / "oms-home", ports)
    yield system
    if system.proc is not None and system.proc.poll() is None:
        system.stop()


def _bench(dev: SmallBacklogDevSystem, *args: str) -> dict:
    result = subprocess.run(
        [OMS, "bench", *args, "--json"],
        env=dev.env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(result.stdout)


def test_overload_is_refused_with_retry_after_and_nothing_accepted_is_lost(dev):
    dev.start()
    report = _bench(dev, "--overload", "--capacity-s", "10", "--minutes", "0.4", "--factor", "3")
    posts = report["posts"]
    assert report["invariants"] == {"passed": True, "violations": []}
    assert posts["other_total"] == 0, posts["other"]  # no 5xx, no error of any kind
    assert posts["accepted"] > 0 and posts["refused_429"] > 0
    assert posts["refused_without_retry_after"] == 0
    assert 1 <= posts["retry_after_s"]["min"] <= posts["retry_after_s"]["max"] <= 60
    assert posts["sent"] == posts["accepted"] + posts["refused_429"]
    assert report["accepted_done"] == posts["accepted"]
    assert report["drain_s"] is not None and report["drain_s"] >= 0
    assert posts["post_ms_accepted"]["p99"] > 0 and posts["post_ms_refused"]["p99"] > 0
    overload = report["backlog"]["overload"]
    assert overload["limit"] == LIMIT and overload["backlog"]["max"] >= LIMIT
    assert report["backlog"]["drain"]["backlog"]["end"] < LIMIT
    assert all(report["rss_mb"]["overload"][role]["max"] > 0 for role in ("api", "worker"))

    # A day compressed to seconds on the same system: every stretch sent, every accepted
    # order ended, per-stretch figures and the estimate of an uncompressed peak hour.
    day = _bench(dev, "--peak", "--phase-s", "3,3,4,3", "--quiet-rate", "0.5")
    assert day["invariants"] == {"passed": True, "violations": []}
    assert day["peak_rate"] == 10
    stretches = day["stretches"]
    assert list(stretches) == ["quiet", "ramp", "peak", "tail"]
    assert all(s["sent"] > 0 and s["other"] == 0 for s in stretches.values())
    assert stretches["peak"]["arrivals_per_s"] > stretches["quiet"]["arrivals_per_s"] * 5
    assert day["accepted_done"] == day["accepted"] > 0
    dispatch = stretches["peak"]["order_to_dispatch"]
    if stretches["peak"]["accepted"]:
        assert dispatch["n"] == stretches["peak"]["accepted"] and dispatch["p50_s"] >= 0
    for role in ("api", "worker", "temporal", "postgres"):
        assert stretches["peak"]["rss_mb"][role]["max"] > 0, role
    assert day["peak_hour_estimate"]["estimate"] is True
    assert dev.stop() == 0
