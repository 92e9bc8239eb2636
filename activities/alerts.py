"""Alerts: exceptions operators must see (late orders, stale holds, steps retrying, failed
captures, refused or silent shipments). The ``alerts`` table is written here only.

One open alert per order, subject and kind (a unique partial index): raising one that is
open already changes nothing, so a retrying step or a replayed timer never floods. When
``OMS_ALERT_WEBHOOK_URL`` is set, each new alert is POSTed there, signed like the partner
webhooks; the activity fails until it is delivered, so Temporal retries it with backoff.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from oms.contract import AlertSteps
from oms.domain.messages import AlertRequest
from oms.logging import get_logger
from oms.webhooks import signed_headers

log = get_logger(__name__)

_RAISE = text(
    """
    INSERT INTO alerts (order_id, subject, kind, status, detail, created_at)
    VALUES (:order_id, :subject, :kind, 'open', CAST(:detail AS jsonb), now())
    ON CONFLICT (order_id, kind, subject) WHERE status = 'open' DO NOTHING
    """
)
_OPEN = text(
    "SELECT id, order_id, subject, kind, detail, created_at, delivered_at FROM alerts "
    "WHERE order_id = :order_id AND kind = :kind AND subject = :subject AND status = 'open'"
)
_DELIVERED = text("UPDATE alerts SET delivered_at = now() WHERE id = :id")


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
        async with self._engine.begin() as conn:
            created = (await conn.execute(_RAISE, params)).rowcount
            row = (await conn.execute(_OPEN, params)).one()
        if created:
            log.warning("alert_raised", order_id=req.order_id, kind=req.kind, alert_id=row.id)
        if self._url and row.delivered_at is None:
            await self._deliver(row)
        return int(row.id)

    async def _deliver(self, row: Any) -> None:
        assert self._url is not None
        body = json.dumps(alert_json(row)).encode()
        async with httpx.AsyncClient(timeout=5) as http:
            response = await http.post(
                self._url, content=body, headers=signed_headers(self._secret, body)
            )
        if response.status_code >= 300:
            raise RuntimeError(f"alert webhook answered {response.status_code}")
        async with self._engine.begin() as conn:
            await conn.execute(_DELIVERED, {"id": row.id})


_COLUMNS = (
    "id, order_id, subject, kind, status, detail, created_at, delivered_at, "
    "acknowledged_by, acknowledged_at, note"
)
_PAGE = text(
    f"SELECT {_COLUMNS} FROM alerts "
    "WHERE (CAST(:status AS text) IS NULL OR status = :status) AND id < :before "
    "ORDER BY id DESC LIMIT :limit"
)
_ACK = text(
    "UPDATE alerts SET status = 'acknowledged', acknowledged_by = :by, "
    "acknowledged_at = now(), note = :note WHERE id = :id AND status = 'open'"
)
_ONE = text(f"SELECT {_COLUMNS} FROM alerts WHERE id = :id")
_OPEN_COUNTS = text("SELECT kind, count(*) AS n FROM alerts WHERE status = 'open' GROUP BY kind")


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
    params = {"status": status, "limit": limit, "before": before or 2**31 - 1}
    async with engine.connect() as conn:
        return [alert_view(r) for r in await conn.execute(_PAGE, params)]


async def acknowledge(engine: AsyncEngine, alert_id: int, by: str, note: str | None) -> Any:
    """The alert after acknowledging it (again: no change), or None if there is none."""
    async with engine.begin() as conn:
        await conn.execute(_ACK, {"id": alert_id, "by": by, "note": note})
        row = (await conn.execute(_ONE, {"id": alert_id})).first()
    return alert_view(row) if row else None


async def open_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {r.kind: int(r.n) for r in await conn.execute(_OPEN_COUNTS)}


class AlertActivities(AlertSteps):
    def __init__(self, store: AlertStore) -> None:
        self._store = store

    @activity.defn
    async def raise_alert(self, req: AlertRequest) -> int:
        return await self._store.raise_alert(req)
