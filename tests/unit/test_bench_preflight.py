"""``oms bench`` refuses, before it starts, a system whose simulators or cancel window make
orders wait, and says how to start one for a benchmark."""

from __future__ import annotations

import pytest

from devtools.bench.preflight import START_LINE, pace_problems, refusal
from devtools.bench.target import BenchError, Target, require_zero_pace

ZERO = {"OMS_SIM_SHIP_DELAY_S": 0.0, "OMS_SIM_CARRIER_STEP_S": 0.0, "OMS_RELEASE_DELAY_S": 0.0}


def _target(pace: dict[str, float] | None) -> Target:
    return Target("http://127.0.0.1:1", "127.0.0.1:2", "key", None, {}, pace)


def test_a_plain_make_dev_is_refused_with_the_start_line() -> None:
    plain = {**ZERO, "OMS_SIM_SHIP_DELAY_S": 3.0, "OMS_RELEASE_DELAY_S": 10.0}
    assert pace_problems(plain) == ["OMS_SIM_SHIP_DELAY_S=3", "OMS_RELEASE_DELAY_S=10"]
    with pytest.raises(BenchError) as refused:
        require_zero_pace(_target(plain))
    assert str(refused.value) == refusal(pace_problems(plain))
    assert START_LINE in str(refused.value) and "OMS_RELEASE_DELAY_S=10" in str(refused.value)


def test_an_oms_dev_that_does_not_record_its_pace_is_refused() -> None:
    with pytest.raises(BenchError, match="restart it"):
        require_zero_pace(_target(None))


def test_zero_delays_and_a_system_not_started_by_oms_dev_pass(capsys) -> None:
    require_zero_pace(_target(ZERO))
    require_zero_pace(_target({}))  # OMS_API_URL: not known here, said on stderr
    assert "not known" in capsys.readouterr().err


def test_the_run_files_processes_are_grouped_by_role():
    """oms dev --api 2 --workers 2 names api-1, api-2, worker-1, worker-2: the benches add
    each role's processes up; the front is a role of its own."""
    from devtools.bench.target import role_groups

    pids = {"api-1": 11, "api-2": 12, "front": 13, "worker-1": 21, "worker-2": 22}
    pids |= {"temporal": 31, "sim": None, "api-notes": 41}
    assert role_groups(pids, 51) == {
        "api": [11, 12],
        "front": [13],
        "worker": [21, 22],
        "temporal": [31],
        "api-notes": [41],
        "postgres": [51],
    }
    assert role_groups({"api": 1, "worker": 2}, None) == {"api": [1], "worker": [2]}
