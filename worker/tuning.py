"""The worker's tuning options, in one place for every worker built from the settings.

``Worker(...)`` keyword arguments (task slots, pollers, sticky cache) for the real worker and
for the bare workflow worker of ``oms bench``, so the two always run with the same tuning.
Empty for now: the SDK's defaults.
"""

from __future__ import annotations

from typing import Any

from oms.settings import Settings


def worker_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``temporalio.worker.Worker`` beyond client, queue and code."""
    return {}
