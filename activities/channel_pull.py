"""``pull_channel``: read a pull channel's changed orders since its cursor and hand each to
the intake.

One attempt: the channel's config, the platform's clock, the windows from the cursor up
to the clock less the lag (oms.channels.pull_windows), at most ``OMS_PULL_MAX_WINDOWS``
of them or ``OMS_PULL_RUN_S`` of work. Each window is read page by page to its end, every
order of every page is taken (a few at once), and only then does the cursor move to the
window's end, in one statement that never moves it back.

Killed anywhere (worker gone, database or intake failing, heartbeat missed), the next
attempt starts again at the cursor and reads the unfinished window again: the orders of
that window already taken are taken again, which the intake makes a no-op (it is
idempotent by channel and platform order id), and the cursor never passed an order that
was not taken. A platform that is down is retried, after its Retry-After when it gave
one, never skipped; past ``OMS_PULL_ALERT_AFTER_S`` of failing, one ``channel_pull_failing``
alert is raised, and acknowledged by the system when a pull works again. A platform that
refuses (credentials, parameters) fails the run at once with a ``channel_pull_refused``
alert; the cursor stays where it was. An order the OMS cannot take (the intake's
``ChannelOrderInvalid``) raises a ``channel_order_invalid`` alert and the pull goes on: one
bad order never stops a channel.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from oms import alerts as alert_service
from oms.adapters.marketplace import (
    MarketplaceClient,
    PlatformRefused,
    PlatformUnavailable,
    client_for,
)
from oms.alerts import AlertStore
from oms.backlog import read_sample
from oms.channel_registry import load_channel
from oms.channels import intake
from oms.channels.config import ChannelConfig
from oms.channels.pull_rules import RULES, PullRules
from oms.channels.pull_windows import (
    Window,
    beyond_horizon,
    first_start,
    narrowed,
    next_window,
    plan,
)
from oms.contract import ChannelPullSteps, PullError
from oms.domain.messages import AlertRequest
from oms.domain.pull import PullRequest, PullResult
from oms.logging import get_logger
from oms.settings import Settings
from oms.store import pull_cursors

log = get_logger(__name__)

FAILING = "channel_pull_failing"
REFUSED = "channel_pull_refused"
INVALID = "channel_order_invalid"
# A platform's Retry-After is followed up to this long; past it the retry policy's own
# backoff would have come sooner anyway.
MAX_RETRY_AFTER_S = 600.0


class Take(Protocol):
    """The intake's ``take`` (oms.channels.intake)."""

    async def __call__(
        self,
        engine: AsyncEngine,
        client: Client,
        settings: Settings,
        channel: ChannelConfig,
        payload: dict[str, Any],
        *,
        source: str = "pull",
        delivery_id: str | None = None,
    ) -> Any: ...


LoadChannel = Callable[[AsyncEngine, str], Awaitable[ChannelConfig | None]]
ClientFor = Callable[[ChannelConfig], MarketplaceClient]


def _platform_client(channel: ChannelConfig) -> MarketplaceClient:
    return client_for(channel.platform, channel.credentials)


class ChannelPullActivities(ChannelPullSteps):
    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        alerts: AlertStore,
        *,
        channels: LoadChannel = load_channel,
        clients: ClientFor = _platform_client,
        take: Take = intake.take,
        temporal: Client | None = None,
        backlog: Callable[[], Awaitable[int | None]] | None = None,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._alerts = alerts
        self._channels = channels
        self._clients = clients
        self._take = take
        self._temporal = temporal  # the worker's own client when None
        self._backlog = backlog or self._read_backlog

    @activity.defn
    async def pull_channel(self, req: PullRequest) -> PullResult:
        channel = await self._channels(self._engine, req.channel)
        skipped = _skipped(channel)
        if channel is None or skipped is not None:
            log.info("channel_pull_skipped", channel=req.channel, reason=skipped)
            return PullResult(skipped=skipped)
        try:
            async with _heartbeating():
                result = await self._pull_with(channel)
        except PlatformUnavailable as exc:
            await self._failing(channel, f"unavailable: {exc}", FAILING)
            delay = exc.retry_after
            raise ApplicationError(
                f"{channel.platform} unavailable: {exc}",
                type=PullError.PLATFORM_UNAVAILABLE,
                next_retry_delay=(
                    timedelta(seconds=min(delay, MAX_RETRY_AFTER_S)) if delay else None
                ),
            ) from exc
        except PlatformRefused as exc:
            await self._failing(channel, f"refused: {exc.code}: {exc.message}", REFUSED)
            raise ApplicationError(
                f"{channel.platform} refused: {exc.code}: {exc.message}",
                type=PullError.PLATFORM_REFUSED,
                non_retryable=True,
            ) from exc
        except Exception as exc:  # the intake or the database: retried as any other step
            await self._failing(channel, f"{type(exc).__name__}: {exc}", FAILING)
            raise
        await self._recovered(channel)
        return result

    async def _pull_with(self, channel: ChannelConfig) -> PullResult:
        rules = RULES.get(channel.platform)
        if rules is None:
            raise PlatformRefused("no_pull_rules", f"{channel.platform} is not pulled")
        platform = self._clients(channel)
        try:
            return await self._pull(channel, rules, platform)
        finally:
            await platform.aclose()

    async def _pull(
        self, channel: ChannelConfig, rules: PullRules, platform: MarketplaceClient
    ) -> PullResult:
        settings = self._settings
        now = await platform.now()
        start = first_start(now, rules, settings.pull_lookback_s)
        cursor = await pull_cursors.begin(self._engine, channel.name, start)
        if beyond_horizon(cursor, now, rules):
            raise PlatformRefused(
                "beyond_horizon",
                f"the cursor {cursor.isoformat()} is older than {channel.platform} answers "
                f"({rules.horizon_s:.0f} s): an operator sets it anew (pull_cursors.set_cursor)",
            )
        # A window the previous attempt died in is read again, narrower (pull_windows).
        width = narrowed(_unfinished(), cursor)
        windows = plan(cursor, now, rules, channel.pull_lag_s, settings.pull_max_windows, width)
        if width is not None:
            log.info("channel_window_narrowed", channel=channel.name, width_s=width)
        deadline = time.monotonic() + settings.pull_run_s
        done = taken = invalid = 0
        for window in windows:
            waiting = await self._backlog_full()
            if waiting is not None:
                log.info(
                    "channel_pull_deferred",
                    channel=channel.name,
                    backlog=waiting,
                    limit=settings.backlog_limit,
                    cursor=cursor.isoformat(),
                )
                return PullResult(
                    done, taken, cursor.isoformat(), invalid=invalid, deferred="backlog_full"
                )
            count, refused = await self._read(channel, platform, window)
            moved = await pull_cursors.advance(self._engine, channel.name, window.end, count)
            done, taken, invalid, cursor = done + 1, taken + count, invalid + refused, window.end
            log.info(
                "channel_window_pulled",
                channel=channel.name,
                start=window.start.isoformat(),
                end=window.end.isoformat(),
                taken=count,
                invalid=refused,
            )
            if not moved:  # another pull is ahead of this one: leave it the rest
                log.warning("channel_pull_overtaken", channel=channel.name)
                return PullResult(done, taken, cursor.isoformat(), invalid=invalid)
            if time.monotonic() > deadline:
                break
        more = next_window(cursor, now, rules, channel.pull_lag_s) is not None
        return PullResult(done, taken, cursor.isoformat(), more, invalid=invalid)

    async def _backlog_full(self) -> int | None:
        """The work waiting when it is at ``OMS_BACKLOG_LIMIT`` (a pull would add to it
        what the API refuses), else None; unknown counts as not full, as for the API."""
        limit = self._settings.backlog_limit
        if limit <= 0:
            return None
        waiting = await self._backlog()
        return waiting if waiting is not None and waiting >= limit else None

    async def _read_backlog(self) -> int | None:
        client = self._temporal or activity.client()
        sample, _ = await read_sample(self._engine, client, self._settings)
        return sample.backlog

    async def _read(
        self, channel: ChannelConfig, platform: MarketplaceClient, window: Window
    ) -> tuple[int, int]:
        """Every order of the window, taken: how many, and how many of them the OMS could
        not take (alerted)."""
        page: str | None = None
        seen: set[str] = set()
        count = invalid = 0
        while True:
            _working_on(window, page)
            await pull_cursors.progress(self._engine, channel.name, window.end, page)
            pulled = await platform.changed(window.start, window.end, page)
            invalid += await self._take_all(channel, pulled.orders)
            count += len(pulled.orders)
            if pulled.next is None:
                return count, invalid
            if pulled.next in seen:  # a client that goes round in circles never ends
                raise RuntimeError(f"{channel.platform} returned page {pulled.next!r} twice")
            seen.add(pulled.next)
            page = pulled.next

    async def _take_all(self, channel: ChannelConfig, orders: list[dict[str, Any]]) -> int:
        """Take the page's orders, a few at once; how many the OMS cannot take (each one
        alerted before the cursor may pass it)."""
        client = self._temporal or activity.client()
        bound = asyncio.Semaphore(max(1, self._settings.pull_concurrency))
        invalid: list[str] = []

        async def one(order: dict[str, Any]) -> None:
            async with bound:
                try:
                    await self._take(self._engine, client, self._settings, channel, order)
                except intake.ChannelOrderInvalid as exc:
                    invalid.append(await self._invalid(channel, order, exc))
                except intake.WorkflowUnreachable as exc:
                    raise ApplicationError(
                        f"Temporal did not answer: {exc}", type="WorkflowUnreachable"
                    ) from exc

        try:
            async with asyncio.TaskGroup() as group:
                for order in orders:
                    group.create_task(one(order))
        except ExceptionGroup as failed:  # the first failure, as if taken one by one
            raise failed.exceptions[0] from None
        return len(invalid)

    async def _invalid(
        self, channel: ChannelConfig, order: dict[str, Any], exc: intake.ChannelOrderInvalid
    ) -> str:
        """An order the OMS cannot take (it does not map, a SKU nobody stocks): an alert
        with the fields at fault, named by a digest of the payload (no personal data in
        alerts), and the pull goes on: one bad order never stops a channel."""
        raw = json.dumps(order, sort_keys=True, separators=(",", ":"), default=str)
        digest = hashlib.sha256(raw.encode()).hexdigest()[:16]
        detail = {
            "subject": f"{channel.name}/{digest}",
            "channel": channel.name,
            "platform": channel.platform,
            "payload_sha256": digest,
            "error": str(exc)[:500],
            "errors": exc.errors[:20],
        }
        await self._alerts.raise_alert(AlertRequest("", INVALID, detail))
        log.warning("channel_order_invalid", channel=channel.name, payload_sha256=digest)
        return digest

    async def _failing(self, channel: ChannelConfig, error: str, kind: str) -> None:
        """Record the failure; alert once it has lasted (a refusal: at once). Never hides
        the failure itself: a database that is down too is only logged here."""
        try:
            failure = await pull_cursors.failed(self._engine, channel.name, error)
            log.warning(
                "channel_pull_failed",
                channel=channel.name,
                error=error[:300],
                failing_s=round(failure.failing_s, 1),
            )
            # One alert per spell of failures, kept until the pulls recover (an operator's
            # acknowledgement does not bring a new one every run).
            due = kind == REFUSED or failure.failing_s >= self._settings.pull_alert_after_s
            if not due or failure.alert_id is not None:
                return
            detail = {
                "subject": channel.name,
                "channel": channel.name,
                "platform": channel.platform,
                "error": error[:500],
                "failing_s": round(failure.failing_s, 1),
            }
            alert_id = await self._alerts.raise_alert(AlertRequest("", kind, detail))
            await pull_cursors.alerted(self._engine, channel.name, alert_id)
        except Exception as exc:
            log.warning("channel_pull_failure_not_recorded", channel=channel.name, error=str(exc))

    async def _recovered(self, channel: ChannelConfig) -> None:
        was_failing, alert_id = await pull_cursors.recovered(self._engine, channel.name)
        if not was_failing:
            return
        log.info("channel_pull_recovered", channel=channel.name, alert_id=alert_id)
        if alert_id is not None:
            await alert_service.acknowledge(
                self._engine, alert_id, "oms", "recovered: the channel pulls again"
            )


# What this attempt is reading (window start, end, page), heartbeated with it: the next
# attempt learns from it which window the previous one died in.
_WORKING_ON: ContextVar[list[str | None]] = ContextVar("pull_working_on")
HEARTBEAT_EVERY_S = 5.0


def _working_on(window: Window, page: str | None) -> None:
    state = _WORKING_ON.get([])
    state[:] = [window.start.isoformat(), window.end.isoformat(), page]
    activity.heartbeat(*state)


def _unfinished() -> Window | None:
    """The window the previous attempt was reading when it died, from its heartbeat."""
    details = activity.info().heartbeat_details
    try:
        start, end = (datetime.fromisoformat(str(d)) for d in details[:2])
    except ValueError:
        return None
    return Window(start, end)


@asynccontextmanager
async def _heartbeating() -> AsyncIterator[None]:
    """Heartbeat every few seconds while the attempt runs: a platform call held back by
    the platform's rate limit, or a page of slow takes, may last longer than the
    heartbeat timeout, which is there to notice a worker that died."""
    state: list[str | None] = []
    token = _WORKING_ON.set(state)

    async def beat() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY_S)
            activity.heartbeat(*state)

    ticker = asyncio.create_task(beat())
    try:
        yield
    finally:
        ticker.cancel()
        _WORKING_ON.reset(token)


def _skipped(channel: ChannelConfig | None) -> str | None:
    if channel is None:
        return "unknown_channel"
    if not channel.enabled:
        return "disabled"
    if not channel.pulls:
        return "not_pull"
    return None
