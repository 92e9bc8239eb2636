"""One Temporal Schedule per pull channel: ``channel-pull-<name>`` starts the
``channel.pull`` workflow every ``pull_interval_s`` of the channel.

The worker makes the schedules match the configured channels at every start
(:func:`sync_pull_schedules`); the channel API keeps them matching when a channel is
added, changed or removed (:func:`ensure_pull_schedule`, :func:`remove_pull_schedule`);
``oms channels pull NAME`` runs one now (:func:`pull_now`). A run still going when the
next is due makes that one skip, so a channel is never pulled twice at once, and runs
missed while Temporal or the worker was down are not made up: the next run reads from
the cursor whatever they would have read. An operator's pause stays across updates.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from oms.channels.config import ChannelConfig
from oms.contract import CHANNEL_PULL_WORKFLOW
from oms.domain.pull import PullRequest
from oms.logging import get_logger
from oms.settings import Settings

log = get_logger(__name__)

PREFIX = "channel-pull-"
MIN_INTERVAL_S = 1.0


class NoPullSchedule(LookupError):
    """The channel has no pull schedule (not a pull channel, disabled, or unknown)."""


def schedule_id(channel: str) -> str:
    return f"{PREFIX}{channel}"


def pull_schedule(settings: Settings, channel: ChannelConfig) -> Schedule:
    every = timedelta(seconds=max(channel.pull_interval_s, MIN_INTERVAL_S))
    return Schedule(
        action=ScheduleActionStartWorkflow(
            CHANNEL_PULL_WORKFLOW,
            PullRequest(channel.name),
            id=schedule_id(channel.name),  # the schedule appends each run's time
            task_queue=settings.task_queue,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.SKIP,
            catchup_window=max(every, timedelta(seconds=10)),
        ),
        state=ScheduleState(note=f"orders of channel {channel.name} from {channel.platform}"),
    )


async def ensure_pull_schedule(client: Client, settings: Settings, channel: ChannelConfig) -> None:
    """Create or update the channel's schedule; remove it if the channel does not pull
    (push only, or disabled)."""
    if not (channel.enabled and channel.pulls):
        await remove_pull_schedule(client, channel.name)
        return
    schedule = pull_schedule(settings, channel)
    name = schedule_id(channel.name)
    try:
        await client.create_schedule(name, schedule)
    except ScheduleAlreadyRunningError:

        def replace(current: ScheduleUpdateInput) -> ScheduleUpdate:
            schedule.state = current.description.schedule.state  # a pause stays
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(name).update(replace)
    log.info("schedule_ready", schedule=name, every_s=channel.pull_interval_s)


async def remove_pull_schedule(client: Client, name: str) -> bool:
    """Delete the channel's schedule (runs under way finish); whether there was one."""
    try:
        await client.get_schedule_handle(schedule_id(name)).delete()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        return False
    log.info("schedule_deleted", schedule=schedule_id(name))
    return True


async def pull_schedule_ids(client: Client) -> list[str]:
    """Every ``channel-pull-*`` schedule of the namespace."""
    found = []
    async for listed in await client.list_schedules():
        if listed.id.startswith(PREFIX):
            found.append(listed.id)
    return found


async def sync_pull_schedules(
    client: Client, settings: Settings, channels: list[ChannelConfig]
) -> None:
    """Make the schedules match ``channels``: one per channel that pulls, none other."""
    wanted = {schedule_id(c.name) for c in channels if c.enabled and c.pulls}
    for channel in channels:
        await ensure_pull_schedule(client, settings, channel)
    for existing in await pull_schedule_ids(client):
        if existing not in wanted:
            await remove_pull_schedule(client, existing.removeprefix(PREFIX))


async def pull_now(client: Client, name: str) -> None:
    """Run the channel's pull now (skipped if one is under way, like a scheduled run)."""
    try:
        await client.get_schedule_handle(schedule_id(name)).trigger()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NoPullSchedule(name) from exc
        raise
