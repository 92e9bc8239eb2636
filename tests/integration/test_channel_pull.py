"""Pull channels against the real PostgreSQL and Temporal: the ``pull_channel`` activity
with a fake platform and a recording intake (every order taken, once per window read; a
poller killed mid-window loses nothing and moves the cursor only past what was taken; a
platform down is retried, alerted once, and closed when it recovers), and a Schedule made
by ``ensure_pull_schedule`` that runs the workflow and moves the cursor."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from temporalio.client import ScheduleOverlapPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from activities.channel_pull import ChannelPullActivities
from oms.adapters.marketplace import (
    MarketplaceClient,
    PlatformRefused,
    PlatformUnavailable,
    PulledPage,
)
from oms.alerts import AlertStore
from oms.channels.config import ChannelConfig
from oms.channels.intake import ChannelOrderInvalid, Taken, WorkflowUnreachable
from oms.contract import PullError
from oms.domain.pull import PullRequest, PullResult
from oms.pull_schedules import (
    NoPullSchedule,
    ensure_pull_schedule,
    pull_now,
    remove_pull_schedule,
    schedule_id,
    sync_pull_schedules,
)
from oms.store import pull_cursors
from oms.store.pull_cursors import pull_status
from worker.tuning import worker_options
from workflows.channel_pull import ChannelPullWorkflow

# The platform's clock: 3 h of orders behind it, a day of lookback before the first pull.
NOW = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)
LAG = 60.0  # taobao has no minimum lag of its own: the channel's


def at(minutes: float) -> datetime:
    return NOW - timedelta(hours=3) + timedelta(minutes=minutes)


class FakePlatform(MarketplaceClient):
    """A platform with orders changed at given times; pages of ``page_size``; a clock
    the test sets; down or refusing when the test says so."""

    platform = "taobao"

    def __init__(self, orders: dict[str, datetime], page_size: int = 3) -> None:
        self.orders = orders
        self.page_size = page_size
        self.clock = NOW
        self.down: PlatformUnavailable | None = None
        self.refusal: PlatformRefused | None = None
        self.windows: list[tuple[datetime, datetime, str | None]] = []
        self.closed = 0
        self.slow_s = 0.0  # each page held back this long (a rate limit)

    def _answer(self) -> None:
        if self.down is not None:
            raise self.down
        if self.refusal is not None:
            raise self.refusal

    async def now(self) -> datetime:
        self._answer()
        return self.clock

    async def changed(self, start: datetime, end: datetime, page: str | None) -> PulledPage:
        self._answer()
        await asyncio.sleep(self.slow_s)
        self.windows.append((start, end, page))
        inside = sorted((t, order_id) for order_id, t in self.orders.items() if start <= t < end)
        offset = int(page or 0)
        chunk = inside[offset : offset + self.page_size]
        following = offset + self.page_size
        return PulledPage(
            orders=[{"tid": order_id, "modified": t.isoformat()} for t, order_id in chunk],
            next=str(following) if following < len(inside) else None,
            total=len(inside),
        )

    async def ship(self, request: dict[str, Any]) -> dict[str, Any]:
        # Pulling never reports a shipment: that is the order's feedback activity.
        raise AssertionError(f"the poller asked the platform to ship {request}")

    async def aclose(self) -> None:
        self.closed += 1


@dataclass
class RecordingIntake:
    """The intake's ``take``: records every platform order id it was given; fails (the
    poller killed) at the ``fail_at``-th call when set."""

    taken: list[str] = field(default_factory=list)
    fail_at: int | None = None
    calls: int = 0
    invalid: set[str] = field(default_factory=set)  # orders that do not map
    unreachable: bool = False  # Temporal does not answer

    async def __call__(self, engine, client, settings, channel, payload, **kw: Any) -> Taken:
        self.calls += 1
        if self.fail_at is not None and self.calls == self.fail_at:
            raise ConnectionError("worker killed")
        if payload["tid"] in self.invalid:
            raise ChannelOrderInvalid(
                "the order does not map", [{"field": "orders[0].outer_sku_id", "message": "empty"}]
            )
        if self.unreachable:
            raise WorkflowUnreachable("no answer in 5 s")
        await asyncio.sleep(0)  # let the others of the page run meanwhile
        self.taken.append(payload["tid"])
        return Taken(order_id=f"o-{payload['tid']}", outcome="created")


@dataclass
class Pull:
    channel: ChannelConfig
    platform: FakePlatform
    intake: RecordingIntake
    activities: ChannelPullActivities
    env: ActivityEnvironment

    async def run(self) -> PullResult:
        return await self.env.run(self.activities.pull_channel, PullRequest(self.channel.name))

    async def failure(self) -> ApplicationError:
        with pytest.raises(ApplicationError) as failed:
            await self.run()
        return failed.value


def spread(count: int, every_min: float) -> dict[str, datetime]:
    """``count`` orders, one every ``every_min`` minutes from three hours ago."""
    return {f"T{n:03d}": at(n * every_min) for n in range(count)}


@pytest.fixture
def make_pull(engine, settings, system):
    def make(orders: dict[str, datetime], backlog: Any = None, **overrides: Any) -> Pull:
        channel = ChannelConfig(
            name=f"tb-{uuid.uuid4().hex[:8]}",
            platform="taobao",
            intake="pull",
            pull_lag_s=LAG,
            pull_interval_s=3600,
        )
        platform = FakePlatform(orders)
        intake = RecordingIntake()

        async def channels(_engine: Any, name: str) -> ChannelConfig | None:
            return channel if name == channel.name else None

        tuned = settings.model_copy(update={"pull_lookback_s": 4 * 3600, **overrides})
        activities = ChannelPullActivities(
            engine,
            tuned,
            AlertStore(engine),
            channels=channels,
            clients=lambda _channel: platform,
            take=intake,
            backlog=backlog,
        )
        return Pull(channel, platform, intake, activities, ActivityEnvironment(system.client))

    return make


async def _alerts(engine, channel: str) -> list[Any]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT id, kind, status, acknowledged_by, note, detail FROM alerts "
                "WHERE subject = :channel ORDER BY id"
            ),
            {"channel": channel},
        )
        return list(rows)


async def test_every_order_is_taken_once_across_windows_and_pages(make_pull, engine):
    # One order every 7 minutes for three hours (one at each window's first instant too),
    # and one too close to the platform's clock to be read yet.
    orders = spread(26, 7) | {"EDGE": at(60), "LATE": NOW - timedelta(seconds=30)}
    pull = make_pull(orders)

    first = await pull.run()

    expected = {o for o, t in orders.items() if t < NOW - timedelta(seconds=LAG)}
    assert sorted(pull.intake.taken) == sorted(expected)  # each once
    assert "LATE" not in pull.intake.taken
    # Four hours back to a minute before the clock, 30 minutes at most per window.
    assert first.windows == 8 and first.taken == len(expected) and not first.more
    assert first.cursor == (NOW - timedelta(seconds=LAG)).isoformat()
    starts = [(s, e) for s, e, page in pull.platform.windows if page is None]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(starts))
    assert any(page is not None for _, _, page in pull.platform.windows)  # pages followed
    assert pull.platform.closed == 1

    # The clock moves on: the late order is read, nothing is read twice.
    pull.platform.clock = NOW + timedelta(minutes=5)
    second = await pull.run()
    assert second.windows == 1 and pull.intake.taken.count("LATE") == 1
    assert len(pull.intake.taken) == len(orders)
    status = await pull_status(engine, pull.channel.name)
    assert status["cursor"] == (NOW + timedelta(minutes=4)).isoformat()
    assert status["taken"] == len(orders)
    assert status["window_end"] is None and status["last_error"] is None


async def test_while_the_backlog_is_full_a_pull_stops_at_a_window_edge_and_the_next_goes_on(
    make_pull, engine
):
    # The backlog as the poller reads it before each window: under the limit for the
    # first two windows, then at it; later drained.
    readings = iter([10, 99, 100, 150])
    limit = 100

    async def backlog() -> int | None:
        return next(readings, 0)

    orders = spread(26, 7)
    pull = make_pull(orders, backlog=backlog, backlog_limit=limit)

    deferred = await pull.run()
    assert deferred.deferred == "backlog_full" and deferred.windows == 2 and not deferred.more
    cursor = (await pull_cursors.load(engine, pull.channel.name)).cursor
    assert cursor is not None and deferred.cursor == cursor.isoformat()
    # Two windows read, each order of them taken once; nothing past the cursor was read.
    assert sorted(pull.intake.taken) == sorted(o for o, t in orders.items() if t < cursor)
    assert all(end <= cursor for _, end, _ in pull.platform.windows)
    status = await pull_status(engine, pull.channel.name)
    assert status["last_error"] is None  # waiting on the backlog is no failure

    # Still full at the next run: nothing read. Then drained: the rest, once each.
    reads = len(pull.platform.windows)
    again = await pull.run()
    assert again.deferred == "backlog_full" and again.windows == 0
    assert len(pull.platform.windows) == reads
    last = await pull.run()
    assert last.deferred is None and not last.more
    assert sorted(pull.intake.taken) == sorted(orders)


async def test_with_no_backlog_limit_the_backlog_is_never_read(make_pull):
    async def backlog() -> int | None:
        raise AssertionError("read with the limit off")

    pull = make_pull(spread(5, 7), backlog=backlog, backlog_limit=0)
    done = await pull.run()
    assert done.deferred is None and sorted(pull.intake.taken) == sorted(spread(5, 7))


async def test_a_poller_killed_mid_window_loses_nothing_and_doubles_only_that_window(
    make_pull, engine
):
    orders = spread(26, 7)
    pull = make_pull(orders)
    pull.intake.fail_at = 12  # in the window of [2h30 ago, 2h ago) in this spread
    beats: list[tuple[Any, ...]] = []
    pull.env.on_heartbeat = lambda *details: beats.append(details)

    with pytest.raises(ConnectionError):
        await pull.run()
    cursor = (await pull_cursors.load(engine, pull.channel.name)).cursor
    # The cursor is the end of a window, and every order before it was taken.
    assert cursor is not None and cursor < NOW
    before = {o for o, t in orders.items() if t < cursor}
    assert before <= set(pull.intake.taken)
    failing = await pull_status(engine, pull.channel.name)
    assert "worker killed" in failing["last_error"] and failing["failing_since"]
    assert failing["window_end"] is not None  # where it was when it was killed

    # Temporal gives the next attempt the last heartbeat: the window it died in, which
    # is read again from the same start, half as wide.
    assert beats[-1][0] == cursor.isoformat()
    pull.env.info = replace(pull.env.info, attempt=2, heartbeat_details=list(beats[-1]))
    pull.intake.fail_at = None
    read_before = len(pull.platform.windows)
    again = await pull.run()

    start, end, _ = pull.platform.windows[read_before]
    assert (start, end) == (cursor, cursor + timedelta(minutes=15))
    assert set(pull.intake.taken) == set(orders)  # every order taken
    doubled = {o for o in orders if pull.intake.taken.count(o) > 1}
    killed_window = {o for o, t in orders.items() if cursor <= t < cursor + timedelta(minutes=30)}
    assert doubled and doubled <= killed_window  # the intake's dedup absorbs those
    assert again.cursor == (NOW - timedelta(seconds=LAG)).isoformat()
    status = await pull_status(engine, pull.channel.name)
    assert status["last_error"] is None and status["failing_since"] is None


async def test_a_platform_down_is_retried_alerted_once_and_closed_when_it_recovers(
    make_pull, engine
):
    pull = make_pull(spread(10, 10))
    await pull.run()
    cursor = (await pull_cursors.load(engine, pull.channel.name)).cursor
    taken = len(pull.intake.taken)

    pull.platform.down = PlatformUnavailable("503 Service Unavailable", retry_after=7)
    pull.platform.clock = NOW + timedelta(hours=1)
    first = await pull.failure()
    assert first.type == PullError.PLATFORM_UNAVAILABLE and not first.non_retryable
    assert first.next_retry_delay == timedelta(seconds=7)
    assert await _alerts(engine, pull.channel.name) == []  # not failing for long yet

    # Five minutes of failing later: one alert, however many attempts follow.
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE pull_cursors SET failing_since = now() - interval '301 seconds' "
                "WHERE channel = :channel"
            ),
            {"channel": pull.channel.name},
        )
    for _ in range(3):
        await pull.failure()
    (alert,) = await _alerts(engine, pull.channel.name)
    assert (alert.kind, alert.status) == ("channel_pull_failing", "open")
    assert alert.detail["channel"] == pull.channel.name
    assert "503" in alert.detail["error"]
    assert (await pull_cursors.load(engine, pull.channel.name)).cursor == cursor
    assert len(pull.intake.taken) == taken

    pull.platform.down = None
    recovered = await pull.run()
    assert recovered.windows == 2  # the hour it was down, read now
    (closed,) = await _alerts(engine, pull.channel.name)
    assert (closed.status, closed.acknowledged_by) == ("acknowledged", "oms")
    status = await pull_status(engine, pull.channel.name)
    assert status["last_error"] is None and status["failing_since"] is None


async def test_an_order_that_cannot_be_taken_is_alerted_and_the_pull_goes_on(make_pull, engine):
    pull = make_pull(spread(10, 10))
    pull.intake.invalid = {"T003", "T007"}

    result = await pull.run()

    assert (result.taken, result.invalid) == (10, 2)
    assert sorted(pull.intake.taken) == sorted(set(spread(10, 10)) - {"T003", "T007"})
    assert result.cursor == (NOW - timedelta(seconds=LAG)).isoformat()
    async with engine.connect() as conn:
        rows = list(
            await conn.execute(
                text("SELECT subject, detail FROM alerts WHERE detail->>'channel' = :channel"),
                {"channel": pull.channel.name},
            )
        )
    assert len(rows) == 2
    assert all(r.subject.startswith(f"{pull.channel.name}/") for r in rows)
    assert all(r.detail["errors"][0]["field"] == "orders[0].outer_sku_id" for r in rows)
    assert all("T00" not in str(r.detail) for r in rows)  # no payload in the alert

    # Read again (a retry after a kill): the same two alerts, still open, no new ones.
    await pull_cursors.set_cursor(engine, pull.channel.name, NOW - timedelta(hours=4))
    await pull.run()
    async with engine.connect() as conn:
        again = await conn.execute(
            text("SELECT count(*) FROM alerts WHERE detail->>'channel' = :channel"),
            {"channel": pull.channel.name},
        )
        assert again.scalar_one() == 2


async def test_temporal_not_answering_the_intake_retries_the_window(make_pull, engine):
    pull = make_pull(spread(5, 10))
    pull.intake.unreachable = True
    failed = await pull.failure()
    assert failed.type == "WorkflowUnreachable" and not failed.non_retryable
    assert (await pull_status(engine, pull.channel.name))["taken"] == 0
    pull.intake.unreachable = False
    assert (await pull.run()).taken == 5


async def test_a_refusal_is_not_retried_alerts_at_once_and_keeps_the_cursor(make_pull, engine):
    pull = make_pull(spread(5, 10))
    await pull.run()
    cursor = (await pull_cursors.load(engine, pull.channel.name)).cursor
    pull.platform.refusal = PlatformRefused("invalid_session", "the access token expired")
    pull.platform.clock = NOW + timedelta(hours=1)

    refused = await pull.failure()

    assert refused.type == PullError.PLATFORM_REFUSED and refused.non_retryable
    (alert,) = await _alerts(engine, pull.channel.name)
    assert alert.kind == "channel_pull_refused" and "invalid_session" in alert.detail["error"]
    assert (await pull_cursors.load(engine, pull.channel.name)).cursor == cursor


async def test_a_cursor_older_than_the_platform_answers_waits_for_an_operator(make_pull, engine):
    pull = make_pull(spread(5, 10))
    await pull_cursors.set_cursor(engine, pull.channel.name, NOW - timedelta(days=91))
    refused = await pull.failure()
    assert refused.type == PullError.PLATFORM_REFUSED and "beyond_horizon" in refused.message
    assert pull.platform.windows == []  # nothing read, nothing skipped
    (alert,) = await _alerts(engine, pull.channel.name)
    assert alert.kind == "channel_pull_refused"

    await pull_cursors.set_cursor(engine, pull.channel.name, NOW - timedelta(hours=4))
    assert (await pull.run()).taken == 5
    (closed,) = await _alerts(engine, pull.channel.name)
    assert closed.status == "acknowledged"


async def test_a_first_pull_while_the_platform_is_down_is_tracked_too(make_pull, engine):
    pull = make_pull(spread(5, 10))
    pull.platform.down = PlatformUnavailable("timeout")
    failed = await pull.failure()
    assert failed.next_retry_delay is None  # no Retry-After: the retry policy decides
    status = await pull_status(engine, pull.channel.name)
    assert status["cursor"] is None and "timeout" in status["last_error"]
    pull.platform.down = None
    assert (await pull.run()).taken == 5


async def test_a_run_is_bounded_and_says_there_is_more(make_pull):
    pull = make_pull(spread(26, 7), pull_max_windows=3)
    result = await pull.run()
    assert (result.windows, result.more) == (3, True)
    assert result.cursor == (NOW - timedelta(hours=4) + timedelta(minutes=90)).isoformat()


async def test_a_page_held_back_by_a_rate_limit_still_heartbeats(make_pull, monkeypatch):
    import activities.channel_pull

    monkeypatch.setattr(activities.channel_pull, "HEARTBEAT_EVERY_S", 0.02)
    pull = make_pull(spread(2, 10), pull_max_windows=1)
    pull.platform.slow_s = 0.3
    beats: list[tuple[Any, ...]] = []
    pull.env.on_heartbeat = lambda *details: beats.append(details)
    await pull.run()
    assert len(beats) >= 5  # while the one page was held back, not only when it came
    assert all(beat[:2] == beats[0][:2] for beat in beats)  # the window being read


async def test_channels_that_do_not_pull_are_skipped(make_pull):
    pull = make_pull(spread(5, 10))
    pull.channel.enabled = False
    assert (await pull.run()).skipped == "disabled"
    pull.channel.enabled, pull.channel.intake = True, "push"
    assert (await pull.run()).skipped == "not_pull"
    unknown = await pull.env.run(pull.activities.pull_channel, PullRequest("nobody"))
    assert unknown.skipped == "unknown_channel"
    assert pull.intake.taken == [] and pull.platform.windows == []


# --- the Schedule ------------------------------------------------------------------------


@pytest.fixture
async def pull_worker(system, make_pull) -> AsyncIterator[tuple[Pull, Any]]:
    """A worker of its own running the pull workflow with the fake platform and intake."""
    pull = make_pull(spread(12, 10))
    settings = system.settings.model_copy(
        update={"task_queue": f"oms-test-pull-{uuid.uuid4().hex[:6]}"}
    )
    worker = Worker(
        system.client,
        task_queue=settings.task_queue,
        workflows=[ChannelPullWorkflow],
        activities=[pull.activities.pull_channel],
        **worker_options(settings),
    )
    async with worker:
        yield pull, settings


async def _cursor_moves(
    engine, channel: str, within: float = 30, to: datetime | None = None
) -> dict[str, Any]:
    """The channel's pull status once its cursor moved (to ``to``, when given: a pull
    reads its windows one after the other, and the test waits for the last)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        status = await pull_status(engine, channel)
        moved = status["cursor"] is not None and status["taken"] > 0
        if moved and (to is None or status["cursor"] == to.isoformat()):
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"the cursor of {channel} never moved")


async def test_a_schedule_runs_the_pull_and_moves_the_cursor(system, engine, pull_worker):
    pull, settings = pull_worker
    name = pull.channel.name
    await ensure_pull_schedule(system.client, settings, pull.channel)
    await ensure_pull_schedule(system.client, settings, pull.channel)  # a restart updates it
    handle = system.client.get_schedule_handle(schedule_id(name))
    try:
        described = await handle.describe()
        await pull_now(system.client, name)
        status = await _cursor_moves(engine, name, to=NOW - timedelta(seconds=LAG))
    finally:
        await sync_pull_schedules(system.client, settings, [])  # no channel: none kept

    assert described.schedule.spec.intervals[0].every == timedelta(hours=1)
    assert described.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert status["taken"] == 12 and sorted(pull.intake.taken) == sorted(spread(12, 10))
    assert status["cursor"] == (NOW - timedelta(seconds=LAG)).isoformat()
    with pytest.raises(RPCError) as gone:
        await handle.describe()
    assert gone.value.status == RPCStatusCode.NOT_FOUND
    with pytest.raises(NoPullSchedule):
        await pull_now(system.client, name)


async def test_schedules_follow_the_channels(system, settings):
    pulled = ChannelConfig(name=f"jd-{uuid.uuid4().hex[:6]}", platform="jd", intake="both")
    pushed = ChannelConfig(name=f"shop-{uuid.uuid4().hex[:6]}", platform="shopify")
    await ensure_pull_schedule(system.client, settings, pulled)
    await ensure_pull_schedule(system.client, settings, pushed)  # push only: none
    try:
        paused = system.client.get_schedule_handle(schedule_id(pulled.name))
        await paused.pause(note="operator")
        pulled.pull_interval_s = 120
        await sync_pull_schedules(system.client, settings, [pulled, pushed])
        kept = await paused.describe()
        assert kept.schedule.spec.intervals[0].every == timedelta(minutes=2)
        assert kept.schedule.state.paused  # an operator's pause stays
        assert not await remove_pull_schedule(system.client, pushed.name)

        pulled.enabled = False
        await ensure_pull_schedule(system.client, settings, pulled)
        with pytest.raises(RPCError):
            await paused.describe()
    finally:
        await remove_pull_schedule(system.client, pulled.name)


async def test_the_worker_keeps_a_schedule_per_pull_channel_at_start(
    system, engine, settings, monkeypatch
):
    import worker.main

    pulled = ChannelConfig(name=f"pdd-{uuid.uuid4().hex[:6]}", platform="pdd", intake="pull")
    configured = [pulled]

    async def pull_channels(_engine: Any) -> list[ChannelConfig]:
        return list(configured)

    monkeypatch.setattr(worker.main, "pull_channels", pull_channels)
    handle = system.client.get_schedule_handle(schedule_id(pulled.name))
    try:
        await worker.main._ensure_namespace_setup(system.client, engine, settings)
        described = await handle.describe()
        assert described.schedule.spec.intervals[0].every == timedelta(seconds=30)
        configured.clear()  # the channel removed: the next start deletes its schedule
        await worker.main._ensure_namespace_setup(system.client, engine, settings)
        with pytest.raises(RPCError):
            await handle.describe()
    finally:
        await remove_pull_schedule(system.client, pulled.name)
