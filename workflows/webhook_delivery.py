"""One endpoint's deliveries: a thin loop around the ``deliver_due`` activity.

The state is in PostgreSQL (what is due, each attempt, the schedule), so the workflow only
keeps the activity running: each run delivers for about a minute (woken by NOTIFY when
events come), then returns and the loop starts the next. A run that fails (the database
down, the worker gone) is retried with backoff and without limit; a run that finds the
endpoint disabled or deleted ends the workflow. Every ``LOOPS_PER_RUN`` runs it continues
as new, so its history stays short however long the endpoint lives.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from oms.contract import WEBHOOK_ENDPOINT_WORKFLOW, WebhookSteps
    from oms.events_out.messages import DeliverDue, EndpointRun

LOOPS_PER_RUN = 100

DELIVER: workflow.ActivityConfig = {
    # A run returns after about a minute (OMS_WEBHOOK_ACTIVITY_S) plus its last sends (15 s
    # timeout each); it heartbeats while it works, so a dead worker is noticed in 30 s.
    "start_to_close_timeout": timedelta(minutes=10),
    "heartbeat_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
    ),
}


@workflow.defn(name=WEBHOOK_ENDPOINT_WORKFLOW)
class WebhookEndpointWorkflow:
    @workflow.run
    async def run(self, inp: EndpointRun) -> None:
        for _ in range(LOOPS_PER_RUN):
            result = await workflow.execute_activity_method(
                WebhookSteps.deliver_due, DeliverDue(inp.endpoint_id), **DELIVER
            )
            if result.stop:
                return
        workflow.continue_as_new(EndpointRun(inp.endpoint_id, inp.loops + LOOPS_PER_RUN))
