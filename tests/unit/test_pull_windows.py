"""Window planning for pull channels: contiguous windows, never wider than the platform
allows, never closer to its clock than the lag, never a hole, whatever the clock does."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from oms.channels.pull_rules import RULES, PullRules
from oms.channels.pull_windows import (
    Window,
    beyond_horizon,
    first_start,
    lag_of,
    narrowed,
    next_window,
    plan,
)

T0 = datetime(2026, 11, 11, 0, 0, tzinfo=UTC)
TAOBAO = RULES["taobao"]
PDD = RULES["pdd"]


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def test_a_window_is_capped_by_the_platform_width_and_ends_behind_its_clock():
    # far behind: a full window
    assert next_window(T0, T0 + s(86400), TAOBAO, 60) == Window(T0, T0 + s(1800))
    # close to the clock: it ends the lag before now
    assert next_window(T0, T0 + s(600), TAOBAO, 60) == Window(T0, T0 + s(540))
    # a channel's own lag wins (a sandbox platform's minimum is shorter); without one,
    # the platform's minimum
    assert next_window(T0, T0 + s(600), PDD, 10) == Window(T0, T0 + s(590))
    assert next_window(T0, T0 + s(600), PDD, None) == Window(T0, T0 + s(420))
    assert lag_of(PDD, 10) == s(10) and lag_of(PDD, None) == s(180)


def test_no_window_when_the_cursor_is_at_the_lag_or_the_clock_went_back():
    assert next_window(T0, T0 + s(60), TAOBAO, 60) is None
    assert next_window(T0, T0 + s(59), TAOBAO, 60) is None
    assert next_window(T0, T0 - s(3600), TAOBAO, 60) is None
    assert plan(T0, T0 - s(3600), TAOBAO, 60, 20) == []


def test_the_first_start_looks_back_at_most_to_the_horizon():
    short = PullRules(1800, 100, False, 0, 3600, 10, 10)
    assert first_start(T0, TAOBAO, 86400) == T0 - s(86400)
    assert first_start(T0, short, 86400) == T0 - s(3600)
    assert not beyond_horizon(T0 - s(3600), T0, short)
    assert beyond_horizon(T0 - s(3601), T0, short)


def test_a_plan_stops_at_its_limit_and_goes_on_from_there():
    now = T0 + s(86400)
    first = plan(T0, now, TAOBAO, 0, 20)
    assert len(first) == 20 and first[-1].end == T0 + s(20 * 1800)
    rest = plan(first[-1].end, now, TAOBAO, 0, 100)
    assert len(rest) == 48 - 20 and rest[-1].end == now


rules_strategy = st.builds(
    PullRules,
    max_window_s=st.sampled_from([60.0, 1800.0, 3600.0, 21600.0]),
    page_size=st.just(100),
    backwards=st.booleans(),
    min_lag_s=st.sampled_from([0.0, 120.0, 180.0]),
    horizon_s=st.just(90 * 86400.0),
    requests_per_s=st.just(10.0),
    burst=st.just(10),
)


@settings(max_examples=300, deadline=None)
@given(
    rules=rules_strategy,
    lag=st.floats(0, 900),
    # the platform's clock as each run sees it: mostly forwards, sometimes back
    steps=st.lists(st.floats(-600, 20000), min_size=1, max_size=30),
    limit=st.integers(1, 5),
    # an attempt that died in its first window asks for a narrower one now and then
    widths=st.lists(st.none() | st.floats(60, 7200), min_size=30, max_size=30),
)
def test_windows_over_any_clock_cover_everything_once(rules, lag, steps, limit, widths):
    cursor = start = T0
    now = T0
    windows: list[Window] = []
    for step, width in zip(steps, widths, strict=False):
        now += s(step)
        planned = plan(cursor, now, rules, lag, limit, first_width_s=width)
        assert len(planned) <= limit
        if planned and width is not None:
            assert planned[0].end - planned[0].start <= s(width)
        for window in planned:
            assert window.start == cursor  # contiguous: no hole, no overlap
            assert window.end > window.start
            assert window.end - window.start <= s(rules.max_window_s)
            assert window.end <= now - lag_of(rules, lag)
            cursor = window.end
        windows += planned
    # The union of the windows is exactly [first start, last end), each instant once.
    covered = sum(((w.end - w.start) for w in windows), timedelta())
    assert covered == cursor - start
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    # Nothing ready was left unread when the limit allowed it.
    if not planned or len(planned) < limit:
        assert next_window(cursor, now, rules, lag) is None


@settings(max_examples=200, deadline=None)
@given(rules=rules_strategy, lag=st.floats(0, 900), behind=st.floats(0, 3 * 86400))
def test_enough_runs_reach_the_lag_from_anywhere(rules, lag, behind):
    now = T0 + s(behind)
    windows = plan(T0, now, rules, lag, 1_000_000)
    reached = windows[-1].end if windows else T0
    assert reached == max(T0, now - lag_of(rules, lag))


def test_a_window_an_attempt_died_in_is_read_narrower_from_the_same_start():
    unfinished = Window(T0, T0 + s(1800))
    assert narrowed(unfinished, T0) == 900
    assert narrowed(Window(T0, T0 + s(90)), T0) == 60  # never below a minute
    assert narrowed(unfinished, T0 + s(1800)) is None  # that window was finished after all
    assert narrowed(None, T0) is None
    windows = plan(T0, T0 + s(86400), TAOBAO, 0, 3, first_width_s=900)
    assert windows == [
        Window(T0, T0 + s(900)),
        Window(T0 + s(900), T0 + s(2700)),
        Window(T0 + s(2700), T0 + s(4500)),
    ]
