"""The arithmetic and the checks of ``oms bench``, without a system to measure."""

from __future__ import annotations

from decimal import Decimal

from temporalio.api.enums.v1 import EventType

from devtools.bench.figures import (
    DISPATCHED,
    PARTNER,
    HistoryCount,
    count_history,
    cpu_per_unit,
    latency_ms,
    mean_and_max,
    order_problems,
    partner_gaps,
    payment_problems,
    percentile,
    stock_problems,
)

E = EventType


def test_percentiles_interpolate_between_ranks_and_are_none_without_samples():
    assert percentile([], 50) is None
    assert percentile([3.0], 99) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile(list(map(float, range(101))), 99) == 99.0


def test_latency_is_reported_in_milliseconds_with_its_sample_count():
    assert latency_ms([0.01, 0.02, 0.03]) == {"p50": 20.0, "p99": 29.8, "max": 30.0, "n": 3}
    assert latency_ms([]) == {"p50": None, "p99": None, "max": None, "n": 0}


def test_a_history_counts_its_events_tasks_activities_signals_and_children():
    types = [
        E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
        E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
        E.EVENT_TYPE_WORKFLOW_TASK_STARTED,
        E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
        E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
        E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
        E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
    ]
    assert count_history(types) == HistoryCount(7, 1, 1, 1, 1)


def test_an_order_adds_its_childrens_counts_and_orders_are_summed_up_by_mean_and_max():
    order = HistoryCount(100, 20, 10, 0, 1) + HistoryCount(80, 15, 9, 9, 0)
    assert order == HistoryCount(180, 35, 19, 9, 1)
    summary = mean_and_max([order, HistoryCount(200, 37, 19, 9, 1)])
    assert summary["events"] == {"mean": 190.0, "max": 200}
    assert summary["workflow_tasks"] == {"mean": 36.0, "max": 37}
    assert mean_and_max([]) == {}


def test_cpu_per_unit_divides_each_process_groups_seconds_and_keeps_unknowns_unknown():
    before = {"worker": 10.0, "postgres": None, "api": 1.0}
    after = {"worker": 12.0, "postgres": 5.0, "api": 1.5}
    assert cpu_per_unit(before, after, 4) == {"worker": 0.5, "postgres": None, "api": 0.125}
    assert cpu_per_unit(before, after, 0)["worker"] is None


def test_partner_gaps_run_from_the_dispatch_to_each_webhook_signal():
    marks = [(DISPATCHED, 1.0), (PARTNER, 1.5), (PARTNER, 1.75), (PARTNER, 2.25)]
    ship, steps = partner_gaps(marks)
    assert ship == 0.5
    assert steps == [0.25, 0.5]
    assert partner_gaps(marks[:1]) == (None, [])
    assert partner_gaps(marks[1:]) == (None, [0.25, 0.5])


def test_every_submitted_order_must_be_in_the_read_model_and_delivered():
    views = {"a": {"status": "delivered"}, "b": {"status": "failed"}}
    assert order_problems(["a", "b", "c"], views) == [
        "b: failed, not delivered",
        "c: not in the read model",
    ]


def _entry(kind: str, amount: str, status: str = "succeeded") -> dict[str, str]:
    return {"kind": kind, "amount": amount, "status": status}


def test_payments_balance_with_one_authorization_and_captures_adding_up_to_the_total():
    split = [_entry("authorize", "3.00"), _entry("capture", "1.00"), _entry("capture", "2.00")]
    assert payment_problems("o", Decimal("3.00"), split) == []
    failed_retry = [_entry("authorize", "3.00", "failed"), *split]
    assert payment_problems("o", Decimal("3.00"), failed_retry) == []


def test_a_second_authorization_or_a_short_capture_is_a_violation():
    twice = [_entry("authorize", "1.00"), _entry("authorize", "1.00"), _entry("capture", "1.00")]
    assert payment_problems("o", Decimal("1.00"), twice) == ["o: 2 settled authorizations, not 1"]
    short = [_entry("authorize", "1.00")]
    assert payment_problems("o", Decimal("1.00"), short) == ["o: captured 0 of a 1.00 order"]


def test_stock_balances_when_on_hand_dropped_by_the_units_delivered_and_nothing_is_reserved():
    assert stock_problems("S@W", 10, {"on_hand": 7, "reserved": 0}, 3) == []
    assert stock_problems("S@W", 10, {"on_hand": 8, "reserved": 1}, 3) == [
        "S@W: on_hand 8, expected 10 - 3 delivered",
        "S@W: 1 still reserved",
    ]
    assert stock_problems("S@W", 10, None, 3) == ["S@W: no stock row"]
