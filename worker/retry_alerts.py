"""An alert when any step of an order keeps failing: at its fifth attempt, every activity
raises ``activity_retrying`` for its order (once: alerts are one open per order, step and
kind), so a gateway or WMS outage reaches an operator without anyone watching the Web UI."""

from __future__ import annotations

import re
from typing import Any

from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from oms.alerts import AlertStore
from oms.contract import AlertSteps
from oms.domain.messages import AlertRequest
from oms.logging import get_logger

log = get_logger(__name__)
ALERT_AT_ATTEMPT = 5
# Raising the alert must not raise an alert about itself.
ALERT_ACTIVITY = AlertSteps.raise_alert.__name__
_ORDER_ID = re.compile(r"^(?:order|shipment)-([0-9a-f]{20})")


class RetryAlerts(Interceptor):
    def __init__(self, store: AlertStore) -> None:
        self._store = store

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Inbound(next, self._store)


class _Inbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, store: AlertStore) -> None:
        super().__init__(next)
        self._store = store

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        found = _ORDER_ID.match(info.workflow_id or "")
        if info.attempt >= ALERT_AT_ATTEMPT and found and info.activity_type != ALERT_ACTIVITY:
            detail = {
                "activity": info.activity_type,
                "attempt": info.attempt,
                "workflow_id": info.workflow_id,
            }
            try:
                await self._store.raise_alert(
                    AlertRequest(found.group(1), "activity_retrying", detail)
                )
            except Exception as exc:  # the step itself matters more than its alert
                log.warning("retry_alert_failed", order_id=found.group(1), error=str(exc)[:200])
        return await self.next.execute_activity(input)
