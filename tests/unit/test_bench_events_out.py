"""``oms bench --events-out``'s own arithmetic and limits (the run itself: tests/smoke)."""

from __future__ import annotations

import pytest

from devtools.bench.events_out import EventsOutPlan, out_of_order
from devtools.bench.target import BenchError


def test_out_of_order_counts_a_seq_acknowledged_after_a_later_one():
    assert out_of_order({"a": [0, 1, 2, 5], "b": [0, 3]}) == 0
    assert out_of_order({"a": [0, 2, 1, 3], "b": [4, 0, 1]}) == 3


@pytest.mark.parametrize(
    "changes",
    [{"orders": 0}, {"fail_rate": 1.0}, {"down_s": -1}, {"concurrency": 0}, {"within_s": 0}],
)
def test_a_plan_out_of_bounds_is_refused(changes):
    with pytest.raises(BenchError):
        EventsOutPlan(**{"orders": 10, "concurrency": 2, **changes}).check()


def test_the_default_plan_is_the_published_one():
    plan = EventsOutPlan()
    plan.check()
    assert (plan.orders, plan.fail_rate, plan.down_s) == (10_000, 0.3, 20.0)
