"""``oms bench`` against a booted ``oms dev`` at zero simulator delay: every figure is there and
the books of its orders balance."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from devtools.ports import free_port
from tests.smoke.test_oms_dev import OMS, DevSystem


class ZeroDelayDevSystem(DevSystem):
    """``oms dev`` as docs/performance.md asks for it: no simulator delays, no cancel window."""

    @property
    def env(self) -> dict[str, str]:
        return {
            **super().env,
            "OMS_SIM_SHIP_DELAY_S": "0",
            "OMS_SIM_CARRIER_STEP_S": "0",
            "OMS_RELEASE_DELAY_S": "0",
            "OMS_RISK_HOLD_SCORE": "0",
        }


@pytest.fixture
def dev(tmp_path: Path):
    ports = {name: free_port() for name in ("api", "sim", "temporal", "ui")}
    system = ZeroDelayDevSystem(tmp_path / "oms-home", ports)
    yield system
    if system.proc is not None and system.proc.poll() is None:
        system.stop()


def _oms(dev: ZeroDelayDevSystem, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OMS, *args], env=dev.env, capture_output=True, text=True, timeout=180)


def test_oms_bench_measures_orders_against_the_bare_engine_and_checks_the_books(dev):
    dev.start()
    result = _oms(dev, "bench", "--orders", "10", "--concurrency", "5", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["invariants"] == {"passed": True, "violations": []}
    assert report["orders_per_s"] > 0 and report["bare_per_s"] > 0 and report["ratio"] > 0
    for name in ("full", "half", "bare"):
        phase = report["phases"][name]
        assert phase["completed"] == 10 and phase["errors"] == 0
        assert phase["start_ms"]["p99"] is not None and phase["e2e_ms"]["p99"] is not None
    assert report["phases"]["half"]["arrivals_per_s"] > 0
    history = report["history"]
    assert history["sampled_orders"] == 10
    assert history["order"]["events"]["mean"] >= history["order"]["workflow_tasks"]["mean"] * 3
    # The order hears from the warehouse and the carrier (signals); the bare engine does not.
    # (Its workflow tasks are no measure of that: an order's steps batch into fewer tasks
    # when its signals arrive together, 5.8 a run against the bare engine's 6.)
    assert history["order"]["signals"]["mean"] > history["bare"]["signals"]["mean"]
    assert history["bare"]["activities"] == {"mean": 5, "max": 5}
    assert history["release_delay_s"] == 0
    assert history["sim_dispatch_to_shipped_s"]["min"] is not None  # the webhooks were found
    assert history["sim_carrier_step_s"]["min"] is not None
    cpu = report["phases"]["full"]["cpu_s_per_unit"]
    assert all(cpu[role] > 0 for role in ("worker", "api", "temporal", "postgres"))
    assert report["worker_rss_mb"]["peak"] > 0

    # The waiting mode: orders held for an operator, measured, then rejected.
    result = _oms(dev, "bench", "--waiting", "6", "--concurrency", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    waiting = json.loads(result.stdout)["waiting"]
    assert waiting["first_error"] is None, waiting["first_error"]
    assert (waiting["placed"], waiting["on_hold_reached"], waiting["place_errors"]) == (6, 6, 0)
    assert waiting["worker_rss_mb"] > 0
    for read in ("list_newest", "list_on_hold", "summary"):
        assert waiting["reads_ms"][read]["n"] == 200 and waiting["reads_ms"][read]["p99"] > 0
    assert waiting["released"] == "rejected, 0 errors"

    # The soak mode: orders in a row, sampled per window, the books checked at the end.
    result = _oms(dev, "bench", "--soak", "--orders", "30", "--concurrency", "5", "--window", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    soak = json.loads(result.stdout)
    assert soak["invariants"] == {"passed": True, "violations": []}
    assert soak["completed"] == 30 and soak["orders_per_s"] > 0
    windows = soak["windows"]
    assert windows and windows[-1]["completed"] == 30
    assert all(w["rss_mb"]["worker"] > 0 and w["rss_mb"]["temporal"] > 0 for w in windows)
    assert windows[-1]["temporal_db_mb"] > 0
    assert "done" in result.stderr  # a progress line per window
    assert set(soak["growth"]) >= {"worker_rss_mb", "post_p99_ms", "e2e_p99_ms"}
    assert dev.stop() == 0


class CompressedWebhooksDevSystem(ZeroDelayDevSystem):
    """As above, with the webhook retry schedule in seconds, not hours."""

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "OMS_WEBHOOK_RETRY_SCHEDULE": "0,0.5,1,1,1,1,1,1,1,1,1,1"}


def test_oms_bench_events_out_delivers_every_event_once_and_in_order(tmp_path: Path):
    ports = {name: free_port() for name in ("api", "sim", "temporal", "ui")}
    dev = CompressedWebhooksDevSystem(tmp_path / "oms-home", ports)
    try:
        dev.start()
        result = _oms(
            dev,
            "bench",
            "--events-out",
            "--orders",
            "8",
            "--concurrency",
            "4",
            "--down-after-s",
            "1",
            "--down-s",
            "3",
            "--within",
            "150",
        )
        assert result.returncode == 0, result.stdout + result.stderr
        report = json.loads(result.stdout)
        assert report["ok"] is True, report["violations"]
        assert report["orders"] == 8 and report["events_produced"] >= 8 * 6
        assert report["events_delivered"] == report["events_produced"]
        assert report["duplicates_beyond_retries"] == 0 and report["out_of_order"] == 0
        assert report["attempts_refused"] > 0  # the failures and the outage happened
        assert report["fact_to_first_attempt_ms"]["p99"] is not None
    finally:
        if dev.proc is not None and dev.proc.poll() is None:
            dev.stop()
