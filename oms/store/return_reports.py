"""The returns' and refunds' KPIs (``oms.reports.returns``, docs/kpis.md), and the owner
of ``order_kpi_units`` (a delivered order's units per SKU, written only by migration
0024's trigger on ``orders``; nothing here writes).

The return rates are about the delivered orders *received* in the range ``[start, end)``
(as every KPI): their delivered units (``order_kpi_units``, an index range on
``received_at``) and the units of their returns that were not rejected (the returns
opened since ``start``, an index range on ``returns.created_at``, each line joined to its
order's and SKU's ``order_kpi_units`` row by its key). The refunds are those asked in the
range, by the UTC day they were asked. Each statement aggregates in PostgreSQL: a row per
SKU, per SKU and reason, or per (day, channel, currency, with or without a return).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_CHANNEL = "(CAST(:channel AS text) IS NULL OR {0}.channel = CAST(:channel AS text))"

_DELIVERED = text(
    f"""
    SELECT u.sku, sum(u.delivered) AS delivered
    FROM order_kpi_units u
    WHERE u.received_at >= :start AND u.received_at < :end AND {_CHANNEL.format("u")}
    GROUP BY u.sku
    """
)
# The units returned of the same orders and SKUs as the units delivered (a row of
# ``order_kpi_units`` each): a return is opened after its order was received, so those of
# the range's orders are among the returns opened since its start.
_RETURNED = text(
    f"""
    SELECT l.sku, r.reason, sum(l.quantity) AS returned
    FROM returns r
    JOIN return_lines l ON l.return_id = r.id
    JOIN order_kpi_units u ON u.order_id = r.order_id AND u.sku = l.sku
    WHERE r.created_at >= :start AND r.status <> 'rejected'
      AND u.received_at >= :start AND u.received_at < :end AND {_CHANNEL.format("u")}
    GROUP BY l.sku, r.reason
    """
)
_REFUNDS = text(
    f"""
    SELECT (r.created_at AT TIME ZONE 'UTC')::date AS day, f.channel, r.currency,
           r.return_id IS NOT NULL AS with_return, count(*) AS refunds,
           COALESCE(sum(r.refunded), 0) AS refunded,
           COALESCE(sum(r.amount) FILTER (WHERE r.status = 'pending'), 0) AS pending,
           count(*) FILTER (WHERE r.status = 'failed') AS failed
    FROM refunds r
    JOIN order_kpi_facts f ON f.order_id = r.order_id
    WHERE r.created_at >= :start AND r.created_at < :end AND {_CHANNEL.format("f")}
    GROUP BY 1, 2, 3, 4
    ORDER BY 1, 2, 3, 4
    """
)


async def return_rows(
    engine: AsyncEngine, start: datetime, end: datetime, channel: str | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(delivered units per SKU, returned units per SKU and reason, refunds per day,
    channel, currency and with or without a return), on one repeatable-read snapshot."""
    params = {"start": start, "end": end, "channel": channel}
    async with engine.connect() as conn:
        await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        delivered = [dict(r) for r in (await conn.execute(_DELIVERED, params)).mappings()]
        returned = [dict(r) for r in (await conn.execute(_RETURNED, params)).mappings()]
        refunds = [dict(r) for r in (await conn.execute(_REFUNDS, params)).mappings()]
    return delivered, returned, refunds
