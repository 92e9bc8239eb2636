"""The worker's tuning options, in one place for every worker built from the settings.

``Worker(...)`` keyword arguments (task slots, pollers, sticky cache, the workflow runner)
for the real worker and for the bare workflow worker of ``oms bench``, so the two always run
with the same tuning. Task slots, pollers and the cache are the SDK's defaults; the workflow
runner is the SDK's sandbox only when ``OMS_WORKFLOW_SANDBOX`` asks for it.
"""

from __future__ import annotations

from typing import Any

from temporalio.worker import UnsandboxedWorkflowRunner

from oms.settings import Settings


def worker_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``temporalio.worker.Worker`` beyond client, queue and code."""
    if settings.workflow_sandbox:
        return {}  # the SDK's default runner: the sandbox
    return {"workflow_runner": UnsandboxedWorkflowRunner()}
