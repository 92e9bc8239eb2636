"""The fault book of the simulators: decisions per request, JSON in and out, validation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from oms.settings import Settings
from simulators.faults import FaultBook, FaultError


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_no_faults_by_default() -> None:
    book = FaultBook(seed=1)
    for partner in ("gateway", "wms", "carrier"):
        assert book.refusal(partner) is None
        assert not book.should_timeout(partner)
        assert not book.should_duplicate(partner)
        assert book.answer_delay(partner) == 0
    assert book.to_json()["gateway"] == {
        "error_rate": 0.0,
        "timeout_rate": 0.0,
        "timeout_s": 30.0,
        "latency_s": 0.0,
        "outage_until": None,
    }
    assert book.to_json()["carrier"]["duplicate_rate"] == 0.0


def test_rates_of_one_always_fire() -> None:
    book = FaultBook(
        {
            "gateway": {"error_rate": 1},
            "wms": {"timeout_rate": 1, "timeout_s": 2, "latency_s": 0.5},
            "carrier": {"duplicate_rate": 1},
        }
    )
    assert all(book.refusal("gateway") for _ in range(20))
    assert book.answer_delay("wms") == 2.5
    assert all(book.should_duplicate("carrier") for _ in range(20))
    assert book.refusal("wms") is None and book.refusal("carrier") is None


def test_fractional_rates_follow_the_seed() -> None:
    def draws(seed: int) -> list[bool]:
        book = FaultBook({"gateway": {"error_rate": 0.5}}, seed=seed)
        return [book.should_error("gateway") for _ in range(200)]

    assert draws(7) == draws(7)
    assert 60 < sum(draws(7)) < 140


def test_outage_for_seconds_then_cleared() -> None:
    clock = Clock()
    book = FaultBook({"carrier": {"outage_s": 30}}, clock=clock)
    assert book.get("carrier").outage_until == 1_030.0
    assert book.in_outage("carrier")
    assert "outage" in (book.refusal("carrier") or "")
    clock.now = 1_030.0
    assert not book.in_outage("carrier")
    book.update({"carrier": {"outage_s": 60}})
    assert book.in_outage("carrier")
    book.update({"carrier": {"outage_s": 0}})
    assert book.get("carrier").outage_until is None
    assert book.refusal("carrier") is None


def test_update_merges_and_round_trips() -> None:
    book = FaultBook({"gateway": {"error_rate": 0.2, "latency_s": 1}})
    book.update({"gateway": {"error_rate": 0.1}})
    assert book.get("gateway").error_rate == 0.1
    assert book.get("gateway").latency_s == 1.0
    copy = FaultBook()
    copy.update(json.loads(json.dumps(book.to_json())))
    assert copy.to_json() == book.to_json()


@pytest.mark.parametrize(
    "update",
    [
        {"bank": {"error_rate": 0.1}},
        {"gateway": {"eror_rate": 0.1}},
        {"gateway": {"duplicate_rate": 0.5}},  # only the carrier posts duplicates
        {"gateway": {"error_rate": 1.5}},
        {"gateway": {"latency_s": -1}},
        {"gateway": {"error_rate": "0.1"}},
        {"gateway": {"error_rate": True}},
        {"gateway": {"latency_s": float("inf")}},
        {"gateway": 0.1},
        ["gateway"],
    ],
)
def test_bad_updates_are_refused_and_change_nothing(update: Any) -> None:
    book = FaultBook({"wms": {"error_rate": 0.3}})
    before = book.to_json()
    with pytest.raises(FaultError):
        book.update(update)
    # All or nothing, even when a good partner comes before the bad one.
    with pytest.raises(FaultError):
        book.update({"wms": {"error_rate": 0.9}, "gateway": {"nope": 1}})
    assert book.to_json() == before


def test_settings_read_faults_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    config = {
        "gateway": {"error_rate": 0.2, "timeout_rate": 0.05},
        "wms": {"latency_s": 0.5},
        "carrier": {"duplicate_rate": 0.3, "outage_s": 30},
    }
    monkeypatch.setenv("OMS_SIM_FAULTS", json.dumps(config))
    settings = Settings()
    assert settings.sim_faults == config
    book = FaultBook(settings.sim_faults, clock=Clock())
    assert book.get("gateway").timeout_rate == 0.05
    assert book.get("carrier").outage_until == 1_030.0
    monkeypatch.delenv("OMS_SIM_FAULTS")
    assert Settings().sim_faults == {}
