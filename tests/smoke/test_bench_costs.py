"""``oms bench --costs`` against a booted ``oms dev`` at zero simulator delay: every order
delivered and every figure of the report there and positive."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from devtools.ports import free_port
from tests.smoke.test_bench import ZeroDelayDevSystem
from tests.smoke.test_oms_dev import OMS


def test_oms_bench_costs_reports_what_an_order_costs(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("api", "sim", "temporal", "ui")}
    dev = ZeroDelayDevSystem(tmp_path / "oms-home", ports)
    try:
        dev.start()
        result = subprocess.run(
            [OMS, "bench", "--costs", "--orders", "20", "--concurrency", "5", "--json"],
            env=dev.env,
            capture_output=True,
            text=True,
            timeout=150,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        report = json.loads(result.stdout)
        assert report["ok"] is True and report["violations"] == []
        assert report["statuses"] == {"delivered": 20} and report["orders_per_s"] > 0
        cpu = report["cpu_s_per_order"]
        for group in ("api", "worker", "temporal", "postgres", "sim"):
            assert cpu[group]["gross"] > 0 and cpu[group]["net"] is not None, group
        history = report["history_per_order"]
        assert history["sampled_orders"] == 20
        assert history["events"]["mean"] > history["workflow_tasks"]["mean"] > 0
        assert history["bytes"]["mean"] > 1000 and history["activity_tasks"]["mean"] > 0
        pg = report["postgres_per_order"]
        assert pg["tables"]["orders"]["inserted"] == 1.0  # one orders row per order
        assert pg["tables"]["order_events"]["inserted"] >= 5  # received ... delivered
        assert pg["rows_inserted"] > 5 and pg["bytes"] > 0 and pg["wal_bytes"] > 0
        assert all(name.startswith("sim_") for name in pg["simulator_tables"])
        assert pg["connections_peak"]["connections"] > 0
        assert report["temporal_sqlite_per_order"]["used_pages"] > 0
        assert dev.stop() == 0
    finally:
        if dev.proc is not None and dev.proc.poll() is None:
            dev.stop()
