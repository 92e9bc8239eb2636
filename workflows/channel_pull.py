"""One pull of a pull channel; started by the channel's ``channel-pull-<name>`` Schedule.

The activity reads a bounded amount (a few windows, about a minute) and says whether more
is ready; the workflow asks again a few times, so a channel that fell behind catches up
in one run, and then ends. A platform that is down is retried without a limit, the
waits doubling up to a minute (or the platform's own Retry-After): the cursor waits for
it, and the Schedule skips its next runs meanwhile (overlap SKIP), so one channel is
never pulled twice at once. A refusal ends the run failed; the next run tries again.
While the backlog is full (``OMS_BACKLOG_LIMIT``) the activity stops at a window's edge
and says so (``deferred``), with nothing more to read: the run ends and the platform's
orders wait there for the next.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from oms.contract import CHANNEL_PULL_WORKFLOW, ChannelPullSteps, PullError
    from oms.domain.pull import PullRequest, PullResult

PULL: workflow.ActivityConfig = {
    "start_to_close_timeout": timedelta(minutes=10),
    "heartbeat_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=60),
        non_retryable_error_types=[PullError.PLATFORM_REFUSED],
    ),
}
# Activity calls per run at most, each a fresh bounded pull.
ROUNDS = 10


@workflow.defn(name=CHANNEL_PULL_WORKFLOW)
class ChannelPullWorkflow:
    @workflow.run
    async def run(self, req: PullRequest) -> PullResult:
        total = PullResult()
        for _ in range(ROUNDS):
            result = await workflow.execute_activity_method(
                ChannelPullSteps.pull_channel, req, **PULL
            )
            total = PullResult(
                windows=total.windows + result.windows,
                taken=total.taken + result.taken,
                cursor=result.cursor or total.cursor,
                more=result.more,
                skipped=result.skipped,
                invalid=total.invalid + result.invalid,
                deferred=result.deferred,
            )
            if not result.more:
                break
        return total
