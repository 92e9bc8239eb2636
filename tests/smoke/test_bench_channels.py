"""``oms bench --channels-push`` and ``--channels-pull`` against a booted ``oms dev``: a tiny
run of each, every figure there and every check passed; and the pull bench's refusal of a
marketplace left at the platforms' own lags and rate limit."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from devtools.ports import free_port
from tests.smoke.test_bench import ZeroDelayDevSystem
from tests.smoke.test_oms_dev import OMS


class ChannelBenchDevSystem(ZeroDelayDevSystem):
    """``oms dev`` as docs/performance.md asks for the channel benches."""

    market: dict[str, str] = {
        "OMS_SIM_MARKET_PDD_LAG_S": "2",
        "OMS_SIM_MARKET_AMAZON_LAG_S": "2",
        "OMS_SIM_MARKET_AMAZON_RATE": "50",
        "OMS_SIM_MARKET_AMAZON_BURST": "100",
    }

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, **self.market}


@pytest.fixture
def dev(tmp_path: Path):
    ports = {name: free_port() for name in ("api", "sim", "temporal", "ui")}
    system = ChannelBenchDevSystem(tmp_path / "oms-home", ports)
    yield system
    if system.proc is not None and system.proc.poll() is None:
        system.stop()


def _oms(dev: ChannelBenchDevSystem, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OMS, *args], env=dev.env, capture_output=True, text=True, timeout=300)


def test_oms_bench_channels_push_and_pull(dev):
    dev.start()
    result = _oms(
        dev,
        "bench",
        "--channels-push",
        "--orders",
        "12",
        "--duplicate-ratio",
        "0.5",
        "--bad-signature-ratio",
        "0.3",
        "--within",
        "240",
        "--json",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    push = json.loads(result.stdout)
    assert push["invariants"] == {"passed": True, "violations": []}
    assert push["generated"] == 12 and push["statuses"] == {"delivered": 12}
    for channel in push["channels"].values():
        assert channel["generated"] == channel["orders_in_oms"] == 6
        assert channel["webhooks_sent"] >= 6
        assert channel["bad_signatures_sent"] == channel["bad_signatures_rejected"]
        assert channel["answers"]["401"] == channel["bad_signatures_sent"]
        assert channel["answers"]["202"] >= 6 and channel["answers"]["other"] == 0
        assert channel["push_to_order_s"]["n"] == 6
    assert push["push_to_order_s"]["p99"] is not None

    result = _oms(
        dev, "bench", "--channels-pull", "--orders", "40", "--kills", "1", "--within", "240",
        "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    pull = json.loads(result.stdout)
    assert pull["invariants"] == {"passed": True, "violations": []}
    assert (pull["generated"], pull["taken"], pull["lost"], pull["duplicated"]) == (40, 40, 0, 0)
    assert set(c["platform"] for c in pull["channels"].values()) == {
        "taobao",
        "jd",
        "pdd",
        "amazon",
    }
    assert all(c["taken"] == c["generated"] == 10 for c in pull["channels"].values())
    assert pull["kills"]["done"] == 1
    assert pull["intake_lag_s"]["n"] == 40 and pull["intake_lag_s"]["p99"] > 0
    assert dev.stop() == 0


def test_oms_bench_channels_pull_refuses_the_platforms_own_lags(tmp_path: Path):
    ports = {name: free_port() for name in ("api", "sim", "temporal", "ui")}
    system = ChannelBenchDevSystem(tmp_path / "oms-home", ports)
    system.market = {}  # the platforms' own: PDD 180 s, Amazon 120 s and one listing a minute
    try:
        system.start()
        result = _oms(system, "bench", "--channels-pull", "--orders", "8")
        assert result.returncode == 2
        assert "OMS_SIM_MARKET_PDD_LAG_S=180" in result.stderr
        assert "OMS_SIM_MARKET_AMAZON_RATE=50" in result.stderr  # the line to start with
    finally:
        if system.proc is not None and system.proc.poll() is None:
            system.stop()
