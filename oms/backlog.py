"""The work waiting: the larger of Temporal's task backlog on the task queue and the orders
accepted whose workflow has recorded no step yet (docs/peak-days.md). Read by each API
process's sampler (``api.backlog``: new orders refused with 429 at the limit) and by a pull
channel's poller before each window (``activities.channel_pull``: the pull waits for its
next run while the backlog is full)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from oms.settings import Settings
from oms.store import metrics as business

# The unstarted orders counted at most, when there is no limit (the gauge only).
UNLIMITED_CAP = 100_000
_KINDS = (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)


@dataclass(frozen=True)
class TaskQueueStats:
    """Temporal's figures for the task queue, workflow and activity tasks together."""

    backlog: int
    dispatch_per_s: float
    add_per_s: float
    oldest_s: float


@dataclass(frozen=True)
class Sample:
    """One reading; either part may be missing (None) when its source did not answer."""

    at: float  # time.monotonic()
    temporal: TaskQueueStats | None
    unstarted: int | None

    @property
    def backlog(self) -> int | None:
        tasks = None if self.temporal is None else self.temporal.backlog
        parts = [p for p in (tasks, self.unstarted) if p is not None]
        return max(parts) if parts else None


async def task_queue_stats(client: Client, settings: Settings) -> TaskQueueStats:
    backlog, dispatch, add, oldest = 0, 0.0, 0.0, 0.0
    for kind in _KINDS:
        answer = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=settings.temporal_namespace,
                task_queue=TaskQueue(name=settings.task_queue),
                task_queue_type=kind,
                report_stats=True,
            ),
            timeout=timedelta(seconds=2),
        )
        stats = answer.stats
        backlog += int(stats.approximate_backlog_count)
        dispatch += float(stats.tasks_dispatch_rate)
        add += float(stats.tasks_add_rate)
        age = stats.approximate_backlog_age
        oldest = max(oldest, age.seconds + age.nanos / 1e9)
    return TaskQueueStats(backlog, dispatch, add, oldest)


async def read_sample(
    engine: AsyncEngine, client: Client | None, settings: Settings
) -> tuple[Sample, list[str]]:
    """One reading now, each source within its timeout (``asyncio.timeout``, not
    ``wait_for``: on Python 3.11 that can lose a cancel), and what went wrong with either."""
    stats: TaskQueueStats | None = None
    unstarted: int | None = None
    errors = []
    try:
        if client is not None:
            async with asyncio.timeout(3.0):
                stats = await task_queue_stats(client, settings)
    except Exception as exc:  # down, slow, refused: that part is unknown
        errors.append(f"temporal: {str(exc)[:120] or type(exc).__name__}")
    try:
        # Capped at twice the limit: more would only cost the database.
        limit = settings.backlog_limit
        cap = limit * 2 if limit else UNLIMITED_CAP
        async with asyncio.timeout(2.0):
            unstarted = await business.unstarted_orders(engine, cap)
    except Exception as exc:
        errors.append(f"database: {str(exc)[:120] or type(exc).__name__}")
    return Sample(time.monotonic(), stats, unstarted), errors
