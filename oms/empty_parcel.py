"""Empty parcels (空包): when an order records a shipment's delivery, its steps are judged
(``oms.domain.empty_parcel``) and a suspicious delivery raises ``empty_parcel_suspected`` on
the order, once in the order's life; when several orders of one shop (channel) raise it
within a window, the shop gets ``empty_parcel_shop`` (one open at a time, shown on the
console's channels page).

It runs inside the step that records the delivery (``activities/read_model.py``), after
the records are written, so no workflow changes: a retry of that step judges again and
finds the alert already raised. The alerts are written in one transaction; their webhook
(``OMS_ALERT_WEBHOOK_URL``) is tried once and a failure only logged, so the order never
waits on it. The alerts name ids, the shop and the signs: no personal data.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from oms.alerts import AlertStore
from oms.domain.empty_parcel import ORDER_ALERT, SHOP_ALERT, Policy, Step, judge
from oms.domain.messages import OrderView
from oms.logging import get_logger
from oms.settings import Settings
from oms.store import alerts, orders

log = get_logger(__name__)


def policy_of(settings: Settings) -> Policy:
    return Policy(
        min_delivery_s=settings.empty_parcel_min_delivery_s,
        no_scans=settings.empty_parcel_no_scans,
        shop_count=settings.empty_parcel_shop_count,
        shop_window_s=settings.empty_parcel_shop_window_s,
    )


class EmptyParcelWatch:
    def __init__(self, engine: AsyncEngine, policy: Policy, store: AlertStore) -> None:
        self._engine = engine
        self._policy = policy
        self._store = store

    async def delivered(self, view: OrderView, shipment_ids: Sequence[str]) -> list[str]:
        """Judge the shipments of ``view`` just recorded as delivered; the signs found, per
        shipment, raise the alerts. The kinds of the alerts opened now."""
        if not self._policy.active or not shipment_ids:
            return []
        rows = await orders.shipment_steps(self._engine, view.id, shipment_ids)
        imported = view.imported is not None
        left_at = _moment(view.imported.shipped_at) if view.imported is not None else None
        opened: list[str] = []
        for shipment_id in dict.fromkeys(shipment_ids):
            steps = [Step(r.status, r.created_at) for r in rows if r.shipment_id == shipment_id]
            verdict = judge(steps, self._policy, imported=imported, left_at=left_at)
            if not verdict.signs:
                continue
            detail = {
                "channel": view.channel,
                "shipment_id": shipment_id,
                "signs": list(verdict.signs),
                "delivered_in_s": (
                    round(verdict.delivered_in_s, 1) if verdict.delivered_in_s is not None else None
                ),
                "min_delivery_s": self._policy.min_delivery_s,
            }
            order_row, shop_row = await alerts.open_once_with_channel(
                self._engine,
                view.id,
                ORDER_ALERT,
                detail,
                SHOP_ALERT,
                self._policy.shop_count,
                self._policy.shop_window_s,
            )
            for row in (order_row, shop_row):
                if row is None:
                    continue
                opened.append(row.kind)
                log.warning(
                    "alert_raised",
                    order_id=row.order_id or None,
                    channel=view.channel,
                    kind=row.kind,
                    alert_id=row.id,
                )
                await self._store.announce(row)
            if order_row is None:
                break  # the order had its alert already: one in its life
        return opened


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
