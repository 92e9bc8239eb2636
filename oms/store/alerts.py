"""``alerts``: exceptions operators must see. One open alert per order, subject and kind
(a unique partial index): raising one that is open already changes nothing."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oms.store.sql_enums import TERMINAL_STATUSES

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
# An alert an order gets once in its life (an acknowledged one is not raised again).
_RAISE_ONCE = text(
    """
    INSERT INTO alerts (order_id, subject, kind, status, detail, created_at)
    SELECT CAST(:order_id AS varchar), '', CAST(:kind AS varchar), 'open',
           CAST(:detail AS jsonb), now()
    WHERE NOT EXISTS (SELECT 1 FROM alerts
                      WHERE order_id = CAST(:order_id AS varchar) AND kind = CAST(:kind AS varchar))
    ON CONFLICT (order_id, kind, subject) WHERE status = 'open' DO NOTHING
    RETURNING id, order_id, subject, kind, detail, created_at, delivered_at
    """
)
# Orders of a channel with an alert of a kind raised in a window (those naming the channel).
_CHANNEL_ALERTED = text(
    """
    SELECT count(*) AS n, (array_agg(order_id ORDER BY id DESC))[1:10] AS recent
    FROM alerts
    WHERE kind = CAST(:kind AS varchar) AND detail->>'channel' = CAST(:channel AS text)
      AND created_at > now() - make_interval(secs => :window)
    """
)
_DELIVERED = text("UPDATE alerts SET delivered_at = now() WHERE id = :id")
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
_OF_ORDER = text(
    f"SELECT {_COLUMNS} FROM alerts WHERE order_id = :id ORDER BY id DESC LIMIT :limit"
)
_OPEN_COUNTS = text("SELECT kind, count(*) AS n FROM alerts WHERE status = 'open' GROUP BY kind")
_SILENT = text(
    "SELECT a.order_id, a.subject, a.detail, a.created_at, o.status FROM alerts a "
    "JOIN orders o ON o.id = a.order_id WHERE a.status = 'open' AND a.kind = 'shipment_silent' "
    f"AND o.status <> ALL({TERMINAL_STATUSES}) ORDER BY a.created_at LIMIT 500"
)


async def open_alert(
    engine: AsyncEngine, order_id: str, subject: str, kind: str, detail: str
) -> tuple[Any, bool]:
    """Open the alert (``detail`` as JSON), or find it open: its row (id, order_id, subject,
    kind, detail, created_at, delivered_at) and whether it was opened now."""
    params = {"order_id": order_id, "subject": subject, "kind": kind, "detail": detail}
    async with engine.begin() as conn:
        created = (await conn.execute(_RAISE, params)).rowcount
        row = (await conn.execute(_OPEN, params)).one()
    return row, bool(created)


async def open_once_with_channel(
    engine: AsyncEngine,
    order_id: str,
    kind: str,
    detail: dict[str, Any],
    channel_kind: str,
    channel_count: int,
    window_s: float,
) -> tuple[Any, Any]:
    """Open the order's alert of ``kind`` unless it ever had one; when it is opened now and
    ``channel_count`` or more orders of its channel (``detail["channel"]``) got one within
    ``window_s``, open the channel's alert of ``channel_kind`` too (unless one is open). One
    transaction. The rows opened now (id, order_id, subject, kind, detail, created_at,
    delivered_at), None for each that was not."""
    channel = str(detail.get("channel") or "")
    async with engine.begin() as conn:
        params = {"order_id": order_id, "kind": kind, "detail": json.dumps(detail)}
        opened = (await conn.execute(_RAISE_ONCE, params)).first()
        if opened is None or channel_count <= 0 or not channel:
            return opened, None
        found = (
            await conn.execute(
                _CHANNEL_ALERTED, {"kind": kind, "channel": channel, "window": window_s}
            )
        ).one()
        if int(found.n) < channel_count:
            return opened, None
        about = {
            "subject": channel,
            "channel": channel,
            "orders": int(found.n),
            "window_s": window_s,
            "order_ids": list(found.recent or []),
        }
        shop = {"order_id": "", "subject": channel, "kind": channel_kind}
        created = (await conn.execute(_RAISE, {**shop, "detail": json.dumps(about)})).rowcount
        row = (await conn.execute(_OPEN, shop)).one() if created else None
    return opened, row


async def mark_delivered(engine: AsyncEngine, alert_id: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(_DELIVERED, {"id": alert_id})


async def page(engine: AsyncEngine, status: str | None, limit: int, before: int) -> list[Any]:
    """Alerts newest first, with ids below ``before``; only those in ``status`` if given."""
    params = {"status": status, "limit": limit, "before": before}
    async with engine.connect() as conn:
        return list(await conn.execute(_PAGE, params))


async def acknowledge(engine: AsyncEngine, alert_id: int, by: str, note: str | None) -> Any:
    """The alert after acknowledging it (again: no change), or None if there is none."""
    async with engine.begin() as conn:
        await conn.execute(_ACK, {"id": alert_id, "by": by, "note": note})
        return (await conn.execute(_ONE, {"id": alert_id})).first()


async def of_order(conn: AsyncConnection, order_id: str, limit: int = 100) -> list[Any]:
    """The order's alerts, open and acknowledged, newest first."""
    return list((await conn.execute(_OF_ORDER, {"id": order_id, "limit": limit})).all())


async def open_counts(engine: AsyncEngine) -> dict[str, int]:
    """Open alerts per kind."""
    async with engine.connect() as conn:
        return {r.kind: int(r.n) for r in await conn.execute(_OPEN_COUNTS)}


async def silent_shipments(conn: AsyncConnection) -> list[Any]:
    """Open ``shipment_silent`` alerts of orders still open (order_id, subject, detail,
    created_at, and the order's status), oldest first."""
    return list((await conn.execute(_SILENT)).all())
