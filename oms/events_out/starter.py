"""Starting an endpoint's delivery workflow, shared by the API (create, enable) and the
worker (at start, for every enabled endpoint).

Idempotent: the workflow id is ``webhook-endpoint-<id>``; starting one that runs changes
nothing (``USE_EXISTING``), and one that ended (its endpoint was disabled) may start again.
"""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from oms.contract import WEBHOOK_ENDPOINT_WORKFLOW
from oms.events_out.messages import EndpointRun


def endpoint_workflow_id(endpoint_id: str) -> str:
    return f"webhook-endpoint-{endpoint_id}"


async def ensure_endpoint_workflow(client: Client, task_queue: str, endpoint_id: str) -> None:
    await client.start_workflow(
        WEBHOOK_ENDPOINT_WORKFLOW,
        EndpointRun(endpoint_id),
        id=endpoint_workflow_id(endpoint_id),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
