"""The ``channel.pull`` workflow on the time-skipping server, with a fake ``pull_channel``:
a platform that is down is retried without a limit, the waits doubling to a minute or
following its Retry-After; a refusal is not retried; a channel behind catches up in one
run, within its bound."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from oms.codec import data_converter
from oms.contract import ChannelPullSteps, PullError
from oms.domain.pull import PullRequest, PullResult
from oms.settings import Settings
from tests.conftest import TEST_PAYLOAD_KEYS
from worker.tuning import worker_options
from workflows.channel_pull import ROUNDS, ChannelPullWorkflow


@dataclass
class FakePull(ChannelPullSteps):
    """Fails with what ``failures`` holds, one per attempt, then answers ``answers`` in
    turn (the last one again once they run out). Records when each attempt was due."""

    failures: list[ApplicationError] = field(default_factory=list)
    answers: list[PullResult] = field(default_factory=lambda: [PullResult(1, 3, "t")])
    due: list[datetime] = field(default_factory=list)

    @activity.defn
    async def pull_channel(self, req: PullRequest) -> PullResult:
        self.due.append(activity.info().started_time)
        if self.failures:
            raise self.failures.pop(0)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def unavailable(retry_after_s: float | None = None) -> ApplicationError:
    return ApplicationError(
        "taobao unavailable: 503",
        type=PullError.PLATFORM_UNAVAILABLE,
        next_retry_delay=timedelta(seconds=retry_after_s) if retry_after_s else None,
    )


@dataclass
class Puller:
    env: WorkflowEnvironment
    fake: FakePull
    task_queue: str

    async def start(self) -> WorkflowHandle[ChannelPullWorkflow, PullResult]:
        return await self.env.client.start_workflow(
            ChannelPullWorkflow.run,
            PullRequest("shop-cn"),
            id=f"channel-pull-shop-cn-{uuid.uuid4().hex[:8]}",
            task_queue=self.task_queue,
        )

    async def finish(self, handle: WorkflowHandle[ChannelPullWorkflow, PullResult]) -> None:
        """Move the server's clock until the run has ended (its retries are timers)."""
        for _ in range(200):
            description = await handle.describe()
            if description.close_time is not None:
                return
            await self.env.sleep(timedelta(seconds=10))
            await asyncio.sleep(0.01)
        raise AssertionError("the pull never ended")


@pytest.fixture
async def puller(time_skipping: WorkflowEnvironment) -> AsyncIterator[Puller]:
    fake = FakePull()
    task_queue = f"pull-{uuid.uuid4().hex[:12]}"
    worker = Worker(
        time_skipping.client,
        task_queue=task_queue,
        workflows=[ChannelPullWorkflow],
        activities=[fake.pull_channel],
        **worker_options(Settings(workflow_sandbox=True)),
    )
    async with worker:
        yield Puller(time_skipping, fake, task_queue)


def gaps(due: list[datetime]) -> list[int]:
    """Seconds between attempts (the server's clock, give or take the test's own ms)."""
    return [round((b - a).total_seconds()) for a, b in itertools.pairwise(due)]


async def replays(handle: WorkflowHandle[ChannelPullWorkflow, PullResult]) -> None:
    replayer = Replayer(
        workflows=[ChannelPullWorkflow], data_converter=data_converter(TEST_PAYLOAD_KEYS)
    )
    history = await handle.fetch_history()
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


async def test_a_platform_down_is_retried_without_limit_the_waits_capped_at_a_minute(puller):
    puller.fake.failures = [unavailable() for _ in range(9)]
    handle = await puller.start()
    await puller.finish(handle)
    result = await handle.result()
    assert result == PullResult(1, 3, "t")
    assert len(puller.fake.due) == 10
    assert gaps(puller.fake.due) == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    await replays(handle)


async def test_the_platforms_retry_after_is_followed(puller):
    puller.fake.failures = [unavailable(300), unavailable()]
    handle = await puller.start()
    await puller.finish(handle)
    assert (await handle.result()).windows == 1
    assert gaps(puller.fake.due) == [300, 2]


async def test_a_refusal_is_not_retried_and_fails_the_run(puller):
    puller.fake.failures = [
        ApplicationError("bad key", type=PullError.PLATFORM_REFUSED, non_retryable=True)
    ]
    handle = await puller.start()
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    assert isinstance(failed.value.cause, ActivityError)
    assert isinstance(failed.value.cause.cause, ApplicationError)
    assert failed.value.cause.cause.type == PullError.PLATFORM_REFUSED
    assert len(puller.fake.due) == 1
    await replays(handle)


async def test_a_channel_behind_catches_up_in_one_run(puller):
    puller.fake.answers = [
        PullResult(20, 40, "a", more=True),
        PullResult(20, 10, "b", more=True),
        PullResult(3, 1, "c", more=False),
    ]
    handle = await puller.start()
    assert await handle.result() == PullResult(43, 51, "c", more=False)
    assert len(puller.fake.due) == 3
    await replays(handle)


async def test_a_run_asks_at_most_its_rounds_and_leaves_the_rest_to_the_next(puller):
    puller.fake.answers = [PullResult(20, 5, "x", more=True)]
    handle = await puller.start()
    result = await handle.result()
    assert len(puller.fake.due) == ROUNDS
    assert result == PullResult(20 * ROUNDS, 5 * ROUNDS, "x", more=True)


async def test_a_channel_that_is_not_pulled_ends_the_run_at_once(puller):
    puller.fake.answers = [PullResult(skipped="disabled")]
    handle = await puller.start()
    assert await handle.result() == PullResult(skipped="disabled")
    assert len(puller.fake.due) == 1
