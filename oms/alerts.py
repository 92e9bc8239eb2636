"""Alerts: exceptions operators must see (late orders, stale holds, steps retrying, failed
captures, refused or silent shipments). The ``alerts`` table is written through
``oms.store.alerts`` only.

One open alert per order, subject and kind (a unique partial index): raising one that is
open already changes nothing, so a retrying step or a replayed timer never floods. When
``OMS_ALERT_WEBHOOK_URL`` is set, each new alert is POSTed there, signed like the partner
webhooks; the activity fails until it is delivered, so Temporal retries it with backoff.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from oms.domain.messages import AlertRequest
from oms.logging import get_logger
from oms.store import alerts
from oms.webhooks import signed_headers

log = get_logger(__name__)


def alert_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "order_id": row.order_id,
        "subject": row.subject or None,
        "kind": row.kind,
        "detail": row.detail,
        "created_at": row.created_at.isoformat(),
    }


class AlertStore:
    def __init__(
        self, engine: AsyncEngine, webhook_url: str | None = None, secret: str = ""
    ) -> None:
        self._engine = engine
        self._url = webhook_url
        self._secret = secret

    async def raise_alert(self, req: AlertRequest) -> int:
        """Open the alert (or find it open); deliver it if a webhook is set. Its id."""
        params = {
            "order_id": req.order_id,
            "subject": req.shipment_id
            or req.detail.get("activity", "")
            or req.detail.get("subject", "")
            or "",
            "kind": req.kind,
            "detail": json.dumps(req.detail),
        }
        row, created = await alerts.open_alert(self._engine, **params)
        if created:
            log.warning("alert_raised", order_id=req.order_id, kind=req.kind, alert_id=row.id)
        if self._url and row.delivered_at is None:
            await self._deliver(row)
        return int(row.id)

    async def announce(self, row: Any) -> None:
        """Deliver an alert opened elsewhere to the webhook, if one is set: tried once, a
        failure logged (the alert stays undelivered), for a step that must not wait on it."""
        if not self._url:
            return
        try:
            await self._deliver(row)
        except Exception as exc:
            log.warning("alert_delivery_failed", alert_id=row.id, error=str(exc)[:200])

    async def _deliver(self, row: Any) -> None:
        assert self._url is not None
        body = json.dumps(alert_json(row)).encode()
        async with httpx.AsyncClient(timeout=5) as http:
            response = await http.post(
                self._url, content=body, headers=signed_headers(self._secret, body)
            )
        if response.status_code >= 300:
            raise RuntimeError(f"alert webhook answered {response.status_code}")
        await alerts.mark_delivered(self._engine, row.id)


def alert_view(row: Any) -> dict[str, Any]:
    """An alert as the API shows it."""
    stamp = lambda value: value.isoformat() if value else None  # noqa: E731
    return {
        **alert_json(row),
        "status": row.status,
        "delivered_at": stamp(row.delivered_at),
        "acknowledged_by": row.acknowledged_by,
        "acknowledged_at": stamp(row.acknowledged_at),
        "note": row.note,
    }


async def list_alerts(
    engine: AsyncEngine, status: str | None, limit: int, before: int | None
) -> list[dict[str, Any]]:
    """Newest first; ``before`` is the id the previous page ended at."""
    rows = await alerts.page(engine, status, limit, before or 2**31 - 1)
    return [alert_view(r) for r in rows]


async def acknowledge(engine: AsyncEngine, alert_id: int, by: str, note: str | None) -> Any:
    """The alert after acknowledging it (again: no change), or None if there is none."""
    row = await alerts.acknowledge(engine, alert_id, by, note)
    return alert_view(row) if row else None
