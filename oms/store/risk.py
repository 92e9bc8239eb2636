"""The risk score's SQL: the earlier orders linked to an order and its shop's latest orders
(read from the orders read model, as ``oms.risk.gather.Source``), the versioned models
(``risk_models``), and the labels the operators' hold decisions give.

Each lookup is one index range per key value, newest first and capped
(``ix_orders_customer_created``, ``ix_orders_risk_address``, ``ix_orders_risk_phone``,
``ix_orders_risk_device``, ``ix_orders_risk_ip``, ``ix_orders_channel_created``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from oms.risk.facts import OrderFacts, amount, looks_like_locker, parse_time
from oms.risk.gather import Keys, ShopOrder

PHONE = "regexp_replace((view -> 'shipping_address') ->> 'phone', '[^0-9]', '', 'g')"
DEVICE = "((view -> 'client') ->> 'device_id')"
IP = "((view -> 'client') ->> 'ip')"
_COLUMNS = (
    "id, channel, customer_id, created_at, address_key, "
    f"{PHONE} AS phone, {DEVICE} AS device, {IP} AS ip, "
    "(view -> 'totals') ->> 'total' AS total, view ->> 'currency' AS currency, "
    "(view -> 'customer') ->> 'created_at' AS account_created, "
    "concat_ws(' ', view -> 'shipping_address' ->> 'line1', "
    "view -> 'shipping_address' ->> 'line2', view -> 'shipping_address' ->> 'name') AS place"
)
_BEFORE = "created_at > :since AND (created_at, id) < (:at, :id)"


def _per_key(column: str, param: str) -> str:
    return (
        f"SELECT x.* FROM unnest(CAST(:{param} AS text[])) AS k(v) CROSS JOIN LATERAL ("
        f"SELECT {_COLUMNS} FROM orders WHERE {column} = k.v AND {_BEFORE} "
        "ORDER BY created_at DESC LIMIT :per_key) x"
    )


_LINKED = text(
    " UNION ALL ".join(
        _per_key(column, param)
        for column, param in (
            ("customer_id", "customers"),
            ("address_key", "addresses"),
            (PHONE, "phones"),
            (DEVICE, "devices"),
            (IP, "ips"),
        )
    )
)
_SHOP = text(
    "SELECT customer_id, created_at, (view -> 'totals') ->> 'total' AS total, "
    f"view ->> 'currency' AS currency FROM orders WHERE channel = :channel AND {_BEFORE} "
    "ORDER BY created_at DESC LIMIT :limit"
)
_ORDER = text("SELECT id, created_at, view FROM orders WHERE id = :id")


def _facts(row: Any) -> OrderFacts:
    phone = row.phone if row.phone and len(row.phone) >= 5 else None
    return OrderFacts(
        id=row.id,
        channel=row.channel,
        customer_id=row.customer_id,
        at=row.created_at,
        total=amount(row.total),
        currency=(row.currency or "").upper(),
        address=row.address_key or None,
        phone=phone,
        device=row.device or None,
        ip=row.ip or None,
        account_created=parse_time(row.account_created),
        locker=looks_like_locker(row.place),
    )


class SqlSource:
    """The orders read model as the risk features' source."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def linked(
        self, keys: Keys, before: OrderFacts, since: datetime, per_key: int
    ) -> list[OrderFacts]:
        params = {
            "customers": list(keys.customers),
            "addresses": list(keys.addresses),
            "phones": list(keys.phones),
            "devices": list(keys.devices),
            "ips": list(keys.ips),
            "since": since,
            "at": before.at,
            "id": before.id,
            "per_key": per_key,
        }
        async with self._engine.connect() as conn:
            return [_facts(r) for r in await conn.execute(_LINKED, params)]

    async def shop(self, before: OrderFacts, since: datetime, limit: int) -> list[ShopOrder]:
        params = {
            "channel": before.channel,
            "since": since,
            "at": before.at,
            "id": before.id,
            "limit": limit,
        }
        async with self._engine.connect() as conn:
            rows = await conn.execute(_SHOP, params)
            return [
                ShopOrder(r.customer_id, r.created_at, amount(r.total), (r.currency or "").upper())
                for r in rows
            ]


async def order_row(engine: AsyncEngine, order_id: str) -> Any:
    """The order's intake time and view (None when there is no such order)."""
    async with engine.connect() as conn:
        return (await conn.execute(_ORDER, {"id": order_id})).one_or_none()


# --- models -----------------------------------------------------------------------------

_ACTIVE_VERSION = text(
    "SELECT version FROM risk_models WHERE active ORDER BY trained_at DESC, version DESC LIMIT 1"
)
_MODEL = text("SELECT version, model FROM risk_models WHERE version = :version")
_NEXT_VERSION = text("SELECT count(*) + 1 FROM risk_models")
_SAVE = text(
    """
    INSERT INTO risk_models (version, trained_at, active, features, params, metrics, model)
    VALUES (:version, :at, true, CAST(:features AS jsonb), CAST(:params AS jsonb),
            CAST(:metrics AS jsonb), :model)
    """
)
_MODELS = text(
    "SELECT version, trained_at, active, metrics FROM risk_models ORDER BY trained_at DESC"
)


async def active_version(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        found = await conn.execute(_ACTIVE_VERSION)
        version: str | None = found.scalar_one_or_none()
        return version


async def model_bytes(engine: AsyncEngine, version: str) -> bytes | None:
    async with engine.connect() as conn:
        row = (await conn.execute(_MODEL, {"version": version})).one_or_none()
        return bytes(row.model) if row else None


async def save_model(
    engine: AsyncEngine,
    trained_at: datetime,
    features: list[str],
    params: dict[str, Any],
    metrics: dict[str, Any],
    model: bytes,
) -> str:
    """Store a new version (active, so the newest is used); its name is ``v<n>-<time>``."""
    async with engine.begin() as conn:
        n = int((await conn.execute(_NEXT_VERSION)).scalar_one())
        version = f"v{n}-{trained_at.strftime('%Y%m%dT%H%M%S')}"
        await conn.execute(
            _SAVE,
            {
                "version": version,
                "at": trained_at,
                "features": json.dumps(features),
                "params": json.dumps(params),
                "metrics": json.dumps(metrics),
                "model": model,
            },
        )
    return version


async def models(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list(await conn.execute(_MODELS))


# --- training data and labels -------------------------------------------------------------

# The orders to train on: the latest ``limit`` orders taken since ``since``, with the label
# their hold decision gives (approve: genuine, reject: fake; none otherwise).
_TRAINING = text(
    """
    SELECT id, created_at, view,
           CASE (view -> 'hold' -> 'decision') ->> 'action'
                WHEN 'approve' THEN 'genuine' WHEN 'reject' THEN 'rejected' END AS label
    FROM orders
    WHERE created_at > :since AND jsonb_typeof(view -> 'imported') IS DISTINCT FROM 'object'
    ORDER BY created_at DESC, id DESC
    LIMIT :limit
    """
)
_LABEL = text(
    "SELECT CASE (view -> 'hold' -> 'decision') ->> 'action' "
    "WHEN 'approve' THEN 'genuine' WHEN 'reject' THEN 'rejected' END AS label "
    "FROM orders WHERE id = :id"
)


async def training_orders(engine: AsyncEngine, since: datetime, limit: int) -> list[Any]:
    """Rows of (id, created_at, view, label), oldest first."""
    async with engine.connect() as conn:
        rows = list(await conn.execute(_TRAINING, {"since": since, "limit": limit}))
    return rows[::-1]


async def label(engine: AsyncEngine, order_id: str) -> str | None:
    """The order's label from its hold decision: ``genuine``, ``rejected`` or None."""
    async with engine.connect() as conn:
        found = await conn.execute(_LABEL, {"id": order_id})
        value: str | None = found.scalar_one_or_none()
        return value
