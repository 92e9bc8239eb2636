"""The ``raise_alert`` activity: an alert for operators, through ``oms.alerts``."""

from __future__ import annotations

from temporalio import activity

from oms.alerts import AlertStore
from oms.contract import AlertSteps
from oms.domain.messages import AlertRequest


class AlertActivities(AlertSteps):
    def __init__(self, store: AlertStore) -> None:
        self._store = store

    @activity.defn
    async def raise_alert(self, req: AlertRequest) -> int:
        return await self._store.raise_alert(req)
