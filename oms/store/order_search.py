"""Reading the orders read model for the console: the order search and one customer's
summary. Read-only: it writes nothing (``oms/store/orders.py`` owns the ``orders`` table's
writes).

The matching rules, each served by an index (migrations 0013 and 0016):

- order: the order id, or the channel's external id, exactly;
- customer: the customer id exactly, or the start of the customer's name (any case);
- email: the start of the customer's email address (any case), a whole address included;
- phone: the start of the shipping address's phone number, digits only (``+49 30 12``
  and ``4930 12`` match ``+49 30 1234567``);
- SKU: an order with a line of that SKU, exactly (case as written), from ``order_skus``
  (migration 0016: kept by a trigger on ``orders``, newest first along its key);
- status (one or more), channel (exactly), created from/to (UTC), late (flagged late).

All criteria given must hold. Results are the newest first, paged by the position of the
last one seen (created_at, id), never by an offset.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from oms.domain.status import OrderStatus
from oms.store.sql_enums import ON_HOLD, literal

CANCELLED = literal(OrderStatus.CANCELLED)
DELIVERED = literal(OrderStatus.DELIVERED)

# The expressions the indexes of migration 0013 are built on: a query must use them as
# written here for the planner to match them.
EMAIL = "lower(view->'customer'->>'email')"
NAME = "lower(view->'customer'->>'name')"
PHONE = "regexp_replace(view->'shipping_address'->>'phone', '[^0-9]', '', 'g')"
LATE = "view @> '{\"late\": true}'"


@dataclass
class Criteria:
    order: str | None = None
    customer: str | None = None
    customer_id: str | None = None  # exactly this customer (their page)
    email: str | None = None
    phone: str | None = None
    sku: str | None = None
    statuses: Sequence[str] = field(default_factory=tuple)
    channel: str | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None
    late: bool = False

    def empty(self) -> bool:
        return not any(
            (
                self.order,
                self.customer,
                self.customer_id,
                self.email,
                self.phone,
                self.sku,
                self.statuses,
                self.channel,
                self.created_from,
                self.created_before,
                self.late,
            )
        )


def prefix_bounds(prefix: str) -> tuple[str, str | None]:
    """The range of strings that start with ``prefix``, in byte order (``~>=~``, ``~<~``):
    the prefix, and the prefix with its last character one higher (None past the last)."""
    last = ord(prefix[-1])
    if last >= 0x10FFFF:
        return prefix, None
    upper = last + 1
    if 0xD800 <= upper <= 0xDFFF:  # no character there: skip the surrogates
        upper = 0xE000
    return prefix, prefix[:-1] + chr(upper)


def _starts_with(expression: str, name: str, prefix: str, params: dict[str, Any]) -> str:
    low, high = prefix_bounds(prefix)
    params[f"{name}_lo"] = low
    if high is None:
        return f"{expression} ~>=~ :{name}_lo"
    params[f"{name}_hi"] = high
    return f"{expression} ~>=~ :{name}_lo AND {expression} ~<~ :{name}_hi"


def _where(criteria: Criteria, params: dict[str, Any]) -> list[str]:
    clauses: list[str] = []
    if criteria.order:
        params["order"] = criteria.order
        clauses.append("(id = :order OR external_id = :order)")
    if criteria.customer:
        params["customer"] = criteria.customer
        name = _starts_with(NAME, "name", criteria.customer.lower(), params)
        clauses.append(f"(customer_id = :customer OR ({name}))")
    if criteria.customer_id:
        params["customer_id"] = criteria.customer_id
        clauses.append("customer_id = :customer_id")
    if criteria.email:
        clauses.append(_starts_with(EMAIL, "email", criteria.email.lower(), params))
    if criteria.phone:
        digits = re.sub(r"[^0-9]", "", criteria.phone)
        clauses.append(_starts_with(PHONE, "phone", digits, params) if digits else "false")
    if criteria.statuses:
        params["statuses"] = list(criteria.statuses)
        clauses.append("status = ANY(CAST(:statuses AS varchar[]))")
    if criteria.channel:
        params["channel"] = criteria.channel
        clauses.append("channel = :channel")
    if criteria.created_from is not None:
        params["created_from"] = criteria.created_from
        clauses.append("created_at >= :created_from")
    if criteria.created_before is not None:
        params["created_before"] = criteria.created_before
        clauses.append("created_at < :created_before")
    if criteria.late:
        clauses.append(LATE)
    return clauses


async def search(
    engine: AsyncEngine,
    criteria: Criteria,
    *,
    before: tuple[datetime, str] | None,
    limit: int,
    personal: bool,
) -> list[Any]:
    """Orders matching ``criteria``, newest first, created before the position ``before``
    (created_at, id): rows of id, external_id, channel, status, created_at, updated_at,
    customer_id, total, currency, late, and customer_name (None unless ``personal``)."""
    params: dict[str, Any] = {"limit": limit}
    clauses = _where(criteria, params)
    # By SKU, the orders come from ``order_skus`` (migration 0016), newest first along its
    # primary key; the other criteria filter them. Otherwise from ``orders`` itself.
    source, at, order_id = "orders", "created_at", "id"
    if criteria.sku:
        params["sku"] = criteria.sku
        source = "order_skus s JOIN orders ON orders.id = s.order_id"
        at, order_id = "s.ordered_at", "s.order_id"
        clauses.append("s.sku = :sku")
        if criteria.created_from is not None:
            clauses.append("s.ordered_at >= :created_from")
        if criteria.created_before is not None:
            clauses.append("s.ordered_at < :created_before")
    if before is not None:
        params["c_at"], params["c_id"] = before
        clauses.append(f"({at}, {order_id}) < (:c_at, :c_id)")
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    name = "view->'customer'->>'name'" if personal else "NULL"
    query = text(
        "SELECT id, external_id, channel, status, created_at, updated_at, customer_id, "
        "view->'totals'->>'total' AS total, view->>'currency' AS currency, "
        f"coalesce((view->>'late')::boolean, false) AS late, {name} AS customer_name "
        f"FROM {source} {where} ORDER BY {at} DESC, {order_id} DESC LIMIT :limit"
    )
    async with engine.connect() as conn:
        return list((await conn.execute(query, params)).all())


_CUSTOMER_SUMMARY = text(
    f"""
    SELECT count(*) AS orders,
           min(created_at) AS first_at,
           max(created_at) AS last_at,
           count(*) FILTER (WHERE status = {CANCELLED}) AS cancelled,
           count(*) FILTER (WHERE view->'hold' IS NOT NULL
                              AND jsonb_typeof(view->'hold') = 'object') AS held,
           count(*) FILTER (WHERE jsonb_array_length(coalesce(view->'after_sales', '[]'::jsonb))
                              > 0) AS after_sales,
           max(view->'customer'->>'name') AS name
    FROM orders WHERE customer_id = :customer
    """
)
_CUSTOMER_SPENT = text(
    f"""
    SELECT view->>'currency' AS currency, count(*) AS orders,
           sum(CAST(view->'totals'->>'total' AS numeric)) AS total
    FROM orders WHERE customer_id = :customer AND status = {DELIVERED}
    GROUP BY 1 ORDER BY 1
    """
)
_CUSTOMER_CANCELLATIONS = text(
    f"""
    SELECT coalesce(view->'cancellation'->>'code', 'cancelled') AS code,
           coalesce(view->'cancellation'->>'by', '') AS by, count(*) AS n
    FROM orders WHERE customer_id = :customer AND status = {CANCELLED}
    GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2
    """
)
# How each hold ended: approved or rejected by a person, still waiting, expired (the
# order cancelled by the hold timeout), or the order cancelled while it waited.
_CUSTOMER_HOLDS = text(
    f"""
    SELECT CASE
             WHEN view->'hold'->'decision'->>'action' IS NOT NULL
               THEN view->'hold'->'decision'->>'action'
             WHEN status = {ON_HOLD} THEN 'waiting'
             WHEN view->'cancellation'->>'code' = 'hold_expired' THEN 'expired'
             WHEN status = {CANCELLED} THEN 'cancelled'
             ELSE 'other' END AS outcome,
           count(*) AS n
    FROM orders
    WHERE customer_id = :customer AND jsonb_typeof(view->'hold') = 'object'
    GROUP BY 1 ORDER BY 2 DESC, 1
    """
)
# The customer's returns that were not rejected (``returns`` by its order index).
_CUSTOMER_RETURNS = text(
    """
    SELECT count(*) FROM returns r JOIN orders o ON o.id = r.order_id
    WHERE o.customer_id = :customer AND r.status <> 'rejected'
    """
)
_CUSTOMER_ADDRESSES = text(
    """
    SELECT view->'shipping_address' AS address, count(*) AS orders,
           max(created_at) AS last_at
    FROM orders WHERE customer_id = :customer
    GROUP BY 1 ORDER BY 3 DESC LIMIT 20
    """
)
_CUSTOMER_EMAILS = text(
    """
    SELECT DISTINCT view->'customer'->>'email' AS email FROM orders
    WHERE customer_id = :customer ORDER BY 1 LIMIT 20
    """
)


@dataclass
class CustomerSummary:
    customer_id: str
    orders: int
    first_at: datetime | None
    last_at: datetime | None
    cancelled: int
    held: int
    after_sales: int
    name: str | None
    spent: list[Any]
    cancellations: list[Any]
    holds: list[Any]
    addresses: list[Any]
    emails: list[str]
    returns: int = 0  # returns of their orders, rejected ones left out


async def customer_summary(
    engine: AsyncEngine, customer_id: str, *, personal: bool
) -> CustomerSummary:
    """One customer's figures over all their orders: counts, first and last order, spent
    per currency (delivered orders), cancellations by kind and who, holds by outcome, returns
    not rejected; with
    ``personal``, the name, emails and the shipping addresses used (newest first)."""
    params = {"customer": customer_id}
    async with engine.connect() as conn:
        head = (await conn.execute(_CUSTOMER_SUMMARY, params)).one()
        spent = list((await conn.execute(_CUSTOMER_SPENT, params)).all())
        cancellations = list((await conn.execute(_CUSTOMER_CANCELLATIONS, params)).all())
        holds = list((await conn.execute(_CUSTOMER_HOLDS, params)).all())
        returns = int((await conn.execute(_CUSTOMER_RETURNS, params)).scalar_one())
        addresses: list[Any] = []
        emails: list[str] = []
        if personal:
            addresses = list((await conn.execute(_CUSTOMER_ADDRESSES, params)).all())
            emails = [r.email for r in await conn.execute(_CUSTOMER_EMAILS, params) if r.email]
    return CustomerSummary(
        customer_id=customer_id,
        orders=int(head.orders),
        first_at=head.first_at,
        last_at=head.last_at,
        cancelled=int(head.cancelled),
        held=int(head.held),
        after_sales=int(head.after_sales),
        name=head.name if personal else None,
        spent=spent,
        cancellations=cancellations,
        holds=holds,
        addresses=addresses,
        emails=emails,
        returns=returns,
    )
