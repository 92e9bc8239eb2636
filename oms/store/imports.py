"""Imported orders (``oms import``): the set-based writes of ``oms.imports.writer`` into
``orders``, ``order_events``, ``payments``, ``shipments``, ``order_skus`` and the KPI
facts, the runs (``import_runs``), the open imported orders waiting for their workflow,
and the reads of ``oms import verify``.

Every write here runs in a batch's transaction after :func:`importing`, which sets
``oms.importing`` for that transaction only: the per-row triggers skip its rows
(migration 0017), so no outbox event is written, and ``order_skus`` and the KPI facts are
written here, set-based, for the batch's orders (:func:`fill_facts` applies
``oms_kpi_facts_backfill()``'s rules to them).

A batch's new orders go to temporary tables with asyncpg's COPY, then into the real
tables with ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``; only the orders whose row
this batch inserted get their timeline, ledger, shipment and SKUs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from oms.store.sql_enums import RECEIVED

# --- runs ------------------------------------------------------------------------------

_RUN = text(
    "SELECT run_key, channel, committed, last_external_id, counts, refusals, started_at, "
    "finished_at FROM import_runs WHERE run_key = :key FOR UPDATE"
)
_RUN_READ = text(
    "SELECT run_key, channel, committed, last_external_id, counts, refusals, started_at, "
    "updated_at, finished_at FROM import_runs WHERE run_key = :key"
)
_START = text(
    "INSERT INTO import_runs (run_key, channel, started_at, updated_at, committed, counts, "
    "refusals) VALUES (:key, :channel, :now, :now, 0, '{}', '[]') "
    "ON CONFLICT (run_key) DO NOTHING"
)
_RESTART = text(
    "UPDATE import_runs SET started_at = :now, updated_at = :now, finished_at = NULL, "
    "committed = 0, last_external_id = NULL, counts = '{}', refusals = '[]' "
    "WHERE run_key = :key"
)
_ADVANCE = text(
    "UPDATE import_runs SET committed = :committed, last_external_id = :last, "
    "counts = CAST(:counts AS jsonb), refusals = CAST(:refusals AS jsonb), updated_at = :now "
    "WHERE run_key = :key AND committed = :before RETURNING 1"
)
_FINISH = text("UPDATE import_runs SET finished_at = :now, updated_at = :now WHERE run_key = :key")


async def lock_run(conn: AsyncConnection, run_key: str) -> Any:
    """The run's row, locked until the transaction ends (None: no such run)."""
    return (await conn.execute(_RUN, {"key": run_key})).first()


async def run(conn: AsyncConnection, run_key: str) -> Any:
    """The run's row as it stands (run_key, channel, committed, last_external_id, counts,
    refusals, started_at, updated_at, finished_at), or None."""
    return (await conn.execute(_RUN_READ, {"key": run_key})).first()


async def start_run(conn: AsyncConnection, run_key: str, channel: str, now: datetime) -> None:
    await conn.execute(_START, {"key": run_key, "channel": channel, "now": now})


async def restart_run(conn: AsyncConnection, run_key: str, now: datetime) -> None:
    """A finished run taken again from its first order (a second run of the same files)."""
    await conn.execute(_RESTART, {"key": run_key, "now": now})


async def advance_run(
    conn: AsyncConnection,
    run_key: str,
    *,
    before: int,
    committed: int,
    last_external_id: str | None,
    counts: dict[str, int],
    refusals: list[list[str]],
    now: datetime,
) -> bool:
    """Move the run from ``before`` to ``committed`` orders; False when another process
    moved it meanwhile (the caller rolls its batch back)."""
    params = {
        "key": run_key,
        "before": before,
        "committed": committed,
        "last": last_external_id,
        "counts": json.dumps(counts),
        "refusals": json.dumps(refusals),
        "now": now,
    }
    return (await conn.execute(_ADVANCE, params)).first() is not None


async def finish_run(conn: AsyncConnection, run_key: str, now: datetime) -> None:
    await conn.execute(_FINISH, {"key": run_key, "now": now})


# --- a batch -----------------------------------------------------------------------------


async def importing(conn: AsyncConnection) -> None:
    """Mark the transaction as the importer's (the triggers of migration 0017 skip its
    rows). It is also the transaction's first statement, so the COPYs below run in it."""
    await conn.execute(text("SET LOCAL oms.importing = 'on'"))


_EXISTING = text(
    "SELECT id, request_hash, last_seq, status, view->'imported' AS imported "
    "FROM orders WHERE id = ANY(CAST(:ids AS text[]))"
)
_LAST_RECORD = text(
    "SELECT data->'record' AS record FROM order_events "
    "WHERE order_id = :id AND type IN ('order_imported', 'order_corrected') "
    "AND data ? 'record' ORDER BY seq DESC LIMIT 1"
)


async def existing(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, Any]:
    """The rows already there among ``ids``: id -> (id, request_hash, last_seq, status,
    imported: the view's ``imported`` part or None)."""
    rows = (await conn.execute(_EXISTING, {"ids": list(ids)})).all()
    return {r.id: r for r in rows}


async def last_record(conn: AsyncConnection, order_id: str) -> dict[str, Any] | None:
    """The source record as last imported or corrected (kept on the timeline)."""
    row = (await conn.execute(_LAST_RECORD, {"id": order_id})).first()
    return dict(row.record) if row is not None and row.record is not None else None


_STAGING = """
CREATE TEMPORARY TABLE import_orders (
    id text, channel text, external_id text, request_hash text, customer_id text,
    status text, last_seq integer, view jsonb, address_key text, created_at timestamptz,
    updated_at timestamptz) ON COMMIT DROP;
CREATE TEMPORARY TABLE import_events (
    order_id text, seq integer, type text, status text, data jsonb, created_at timestamptz)
    ON COMMIT DROP;
CREATE TEMPORARY TABLE import_payments (
    order_id text, kind text, amount numeric, currency text, idempotency_key text,
    gateway_reference text, created_at timestamptz) ON COMMIT DROP;
CREATE TEMPORARY TABLE import_shipments (
    id text, order_id text, warehouse_id text, status text, tracking_number text,
    carrier text, created_at timestamptz, updated_at timestamptz) ON COMMIT DROP;
CREATE TEMPORARY TABLE import_inserted (id text PRIMARY KEY) ON COMMIT DROP;
"""
_PUT_ORDERS = text(
    """
    WITH ins AS (
        INSERT INTO orders (id, channel, external_id, idempotency_key, request_hash,
                            customer_id, status, failure_reason, last_seq, view,
                            payment_token, address_key, created_at, updated_at)
        SELECT id, channel, external_id, NULL, request_hash, customer_id, status, NULL,
               last_seq, view, NULL, address_key, created_at, updated_at
          FROM import_orders
        ON CONFLICT DO NOTHING
        RETURNING id)
    INSERT INTO import_inserted SELECT id FROM ins RETURNING id
    """
)
_PUT_EVENTS = text(
    "INSERT INTO order_events (order_id, seq, type, status, data, created_at) "
    "SELECT e.order_id, e.seq, e.type, e.status, e.data, e.created_at "
    "FROM import_events e JOIN import_inserted i ON i.id = e.order_id "
    "ON CONFLICT DO NOTHING"
)
_PUT_PAYMENTS = text(
    "INSERT INTO payments (order_id, kind, status, amount, currency, idempotency_key, "
    "gateway_reference, error, created_at) "
    "SELECT p.order_id, p.kind, 'succeeded', p.amount, p.currency, p.idempotency_key, "
    "p.gateway_reference, NULL, p.created_at "
    "FROM import_payments p JOIN import_inserted i ON i.id = p.order_id "
    "ON CONFLICT DO NOTHING"
)
# A tracking number is unique among shipments: one the file gives twice, or one another
# order's parcel has, is kept on the view and the timeline but not on the row.
_PUT_SHIPMENTS = text(
    """
    INSERT INTO shipments (id, order_id, warehouse_id, status, tracking_number, carrier,
                           created_at, updated_at)
    SELECT s.id, s.order_id, s.warehouse_id, s.status,
           CASE WHEN s.dup > 1 OR EXISTS (SELECT 1 FROM shipments x
                                           WHERE x.tracking_number = s.tracking_number)
                THEN NULL ELSE s.tracking_number END,
           s.carrier, s.created_at, s.updated_at
      FROM (SELECT s.*, row_number() OVER (PARTITION BY s.tracking_number ORDER BY s.id) AS dup
              FROM import_shipments s JOIN import_inserted i ON i.id = s.order_id) s
    ON CONFLICT DO NOTHING
    """
)
_PUT_SKUS = text(
    "INSERT INTO order_skus (sku, ordered_at, order_id) "
    "SELECT DISTINCT line->>'sku', o.created_at, o.id "
    "FROM import_orders o JOIN import_inserted i ON i.id = o.id, "
    "jsonb_array_elements(o.view->'lines') AS line "
    "WHERE line->>'sku' IS NOT NULL ON CONFLICT DO NOTHING"
)
_FILL_FACTS = text("SELECT oms_kpi_facts_of(CAST(:ids AS text[]))")


async def write_new(
    conn: AsyncConnection,
    orders: Sequence[tuple[Any, ...]],
    events: Sequence[tuple[Any, ...]],
    payments: Sequence[tuple[Any, ...]],
    shipments: Sequence[tuple[Any, ...]],
) -> set[str]:
    """New orders, COPYed into temporary tables and inserted where no row has their id;
    returns the ids inserted. Tuples in the staging tables' column order: ``orders`` (id,
    channel, external_id, request_hash, customer_id, status, last_seq, view JSON text,
    address_key, created_at, updated_at), ``events`` (order_id, seq, type, status, data
    JSON text, created_at), ``payments`` (order_id, kind, amount, currency,
    idempotency_key, gateway_reference, created_at), ``shipments`` (id, order_id,
    warehouse_id, status, tracking_number, carrier, created_at, updated_at)."""
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None
    await raw.execute(_STAGING)
    for table, records in (
        ("import_orders", orders),
        ("import_events", events),
        ("import_payments", payments),
        ("import_shipments", shipments),
    ):
        if records:
            await raw.copy_records_to_table(table, records=records)
    inserted = {r.id for r in (await conn.execute(_PUT_ORDERS)).all()}
    if inserted:
        for statement in (_PUT_EVENTS, _PUT_PAYMENTS, _PUT_SHIPMENTS, _PUT_SKUS):
            await conn.execute(statement)
    return inserted


async def fill_facts(conn: AsyncConnection, ids: Sequence[str]) -> None:
    """The KPI facts of these orders made or replaced from their rows (0017)."""
    if ids:
        await conn.execute(_FILL_FACTS, {"ids": list(ids)})


# --- a correction of one imported closed record -----------------------------------------

_CORRECT_ORDER = text(
    "UPDATE orders SET status = :status, view = CAST(:view AS jsonb), "
    "customer_id = :customer_id, address_key = :address_key, request_hash = :hash, "
    "last_seq = :last_seq, created_at = :created_at, updated_at = :now "
    "WHERE id = :id AND request_hash = :old_hash RETURNING id"
)
# The old system's entries (marked ``source: import``) after the first: replaced.
_DROP_HISTORY = text(
    "DELETE FROM order_events WHERE order_id = :id AND seq > 0 "
    "AND data->>'source' = 'import' AND type <> 'order_imported'"
)
_FIRST = text(
    "UPDATE order_events SET created_at = :at, data = CAST(:data AS jsonb) "
    "WHERE order_id = :id AND seq = 0"
)
_APPEND = text(
    "INSERT INTO order_events (order_id, seq, type, status, data, created_at) "
    "SELECT :id, e.seq, e.type, e.status, CAST(e.data AS jsonb), e.at "
    "FROM unnest(CAST(:seqs AS integer[]), CAST(:types AS text[]), "
    "CAST(:statuses AS text[]), CAST(:datas AS text[]), CAST(:ats AS timestamptz[])) "
    "AS e(seq, type, status, data, at)"
)
_LEDGER = text(
    "SELECT kind, sum(amount) AS amount FROM payments "
    "WHERE order_id = :id AND status = 'succeeded' AND idempotency_key LIKE :prefix "
    "GROUP BY kind"
)
_LEDGER_ROW = text(
    "INSERT INTO payments (order_id, kind, status, amount, currency, idempotency_key, "
    "gateway_reference, error, created_at) "
    "VALUES (:id, :kind, 'succeeded', :amount, :currency, :key, :reference, NULL, :at)"
)
_SHIPMENT = text(
    """
    INSERT INTO shipments (id, order_id, warehouse_id, status, tracking_number, carrier,
                           created_at, updated_at)
    VALUES (CAST(:sid AS text), :id, :warehouse_id, :status,
            CASE WHEN EXISTS (SELECT 1 FROM shipments x
                               WHERE x.tracking_number = CAST(:tracking AS text)
                                 AND x.id <> CAST(:sid AS text))
                 THEN NULL ELSE CAST(:tracking AS text) END,
            :carrier, :created_at, :updated_at)
    ON CONFLICT (id) DO UPDATE SET
        warehouse_id = EXCLUDED.warehouse_id, status = EXCLUDED.status,
        tracking_number = EXCLUDED.tracking_number, carrier = EXCLUDED.carrier,
        created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at
    """
)
_NO_SHIPMENT = text("DELETE FROM shipments WHERE id = :sid AND order_id = :id")
_SKUS_AGAIN = (
    text("DELETE FROM order_skus WHERE order_id = :id"),
    text(
        "INSERT INTO order_skus (sku, ordered_at, order_id) "
        "SELECT DISTINCT line->>'sku', o.created_at, o.id FROM orders o, "
        "jsonb_array_elements(o.view->'lines') AS line "
        "WHERE o.id = :id AND line->>'sku' IS NOT NULL ON CONFLICT DO NOTHING"
    ),
)


async def correct(
    conn: AsyncConnection,
    *,
    order: dict[str, Any],
    old_hash: str,
    first_event: tuple[datetime, str],
    events: Sequence[tuple[int, str, str, str, datetime]],
    ledger: dict[str, tuple[Decimal, str, datetime]],
    key_prefix: str,
    correction: int,
    currency: str,
    shipment: dict[str, Any] | None,
    shipment_id: str,
) -> bool:
    """One imported closed record corrected: the row (only if its hash is still
    ``old_hash``), the old system's entries replaced by ``events`` (seq, type, status,
    data JSON text, at; the ``order_corrected`` entry last), the ledger brought to the
    amounts in ``ledger`` (kind -> (amount, reference, at)) by one new row per kind that
    differs (key ``<prefix>correction-<n>-<kind>``: a settled row is never changed), the
    shipment made, changed or removed, and the SKUs again. False: the row changed
    meanwhile (nothing written)."""
    oid = order["id"]
    if (await conn.execute(_CORRECT_ORDER, {**order, "old_hash": old_hash})).first() is None:
        return False
    await conn.execute(_DROP_HISTORY, {"id": oid})
    await conn.execute(_FIRST, {"id": oid, "at": first_event[0], "data": first_event[1]})
    await conn.execute(
        _APPEND,
        {
            "id": oid,
            "seqs": [e[0] for e in events],
            "types": [e[1] for e in events],
            "statuses": [e[2] for e in events],
            "datas": [e[3] for e in events],
            "ats": [e[4] for e in events],
        },
    )
    held = {
        r.kind: r.amount
        for r in (await conn.execute(_LEDGER, {"id": oid, "prefix": key_prefix + "%"})).all()
    }
    for kind in sorted(set(held) | set(ledger)):
        amount, reference, _ = ledger.get(kind, (Decimal(0), "correction", order["now"]))
        delta = amount - held.get(kind, Decimal(0))
        if delta != 0:
            await conn.execute(
                _LEDGER_ROW,
                {
                    "id": oid,
                    "kind": kind,
                    "amount": delta,
                    "currency": currency,
                    "key": f"{key_prefix}correction-{correction}-{kind}",
                    "reference": reference,
                    "at": order["now"],
                },
            )
    if shipment is None:
        await conn.execute(_NO_SHIPMENT, {"sid": shipment_id, "id": oid})
    else:
        await conn.execute(_SHIPMENT, {"sid": shipment_id, "id": oid, **shipment})
    for statement in _SKUS_AGAIN:
        await conn.execute(statement, {"id": oid})
    return True


# --- open imported orders: what the starter reads -----------------------------------------

# Along ix_orders_status_created: the received orders are the few live ones in flight and
# the imported ones waiting for their start.
_OPEN_NOT_STARTED = text(
    f"""
    SELECT id, view, created_at FROM orders
    WHERE status = {RECEIVED} AND last_seq = 0 AND channel = :channel
      AND jsonb_typeof(view->'imported') = 'object' AND view->'imported' ? 'stage'
      AND (CAST(:after_at AS timestamptz) IS NULL
           OR (created_at, id) > (CAST(:after_at AS timestamptz), CAST(:after_id AS varchar)))
    ORDER BY created_at, id
    LIMIT :limit
    """
)


async def open_imported_not_started(
    conn: AsyncConnection,
    channel: str,
    limit: int,
    after: tuple[datetime, str] | None = None,
) -> list[Any]:
    """The channel's open imported orders whose workflow has taken no step (id, view,
    created_at), oldest first, after the position ``after`` (created_at, id) when given."""
    params = {
        "channel": channel,
        "limit": limit,
        "after_at": after[0] if after else None,
        "after_id": after[1] if after else None,
    }
    return list((await conn.execute(_OPEN_NOT_STARTED, params)).all())


# --- oms import verify: the database's side -------------------------------------------------

_FOUND = text(
    "SELECT external_id FROM orders WHERE channel = :channel "
    "AND external_id = ANY(CAST(:ids AS text[]))"
)
_IMPORTED_IDS = text(
    "SELECT external_id, view->'imported'->>'run' AS run FROM orders "
    "WHERE channel = :channel AND jsonb_typeof(view->'imported') = 'object' "
    "ORDER BY external_id"
)
_SUMS = text(
    """
    SELECT (created_at AT TIME ZONE 'UTC')::date AS day, view->>'currency' AS currency,
           count(*) AS n, sum((view->'totals'->>'total')::numeric) AS total
      FROM orders
     WHERE channel = :channel AND jsonb_typeof(view->'imported') = 'object'
     GROUP BY 1, 2
    """
)
_SAMPLE = text(
    """
    SELECT o.id, o.external_id, o.status, o.created_at, o.view,
           (SELECT jsonb_object_agg(type, at) FROM (
               SELECT type, min(created_at) AS at FROM order_events
                WHERE order_id = o.id
                  AND type IN ('payment_captured', 'shipment_dispatched', 'order_delivered',
                               'order_cancelled')
                GROUP BY type) e) AS moments,
           (SELECT jsonb_object_agg(kind, amount::text) FROM (
               SELECT kind, sum(amount) AS amount FROM payments
                WHERE order_id = o.id AND status = 'succeeded'
                  AND idempotency_key LIKE o.id || '-imported-%'
                GROUP BY kind) p) AS ledger,
           (SELECT s.tracking_number FROM shipments s
             WHERE s.order_id = o.id ORDER BY s.id LIMIT 1) AS tracking_number
      FROM orders o
     WHERE o.channel = :channel AND o.external_id = ANY(CAST(:ids AS text[]))
    """
)


async def found(conn: AsyncConnection, channel: str, external_ids: Sequence[str]) -> set[str]:
    """Which of these external ids the channel has an order for."""
    params = {"channel": channel, "ids": list(external_ids)}
    return {r.external_id for r in (await conn.execute(_FOUND, params)).all()}


async def imported_ids(conn: AsyncConnection, channel: str) -> list[Any]:
    """Every imported order of the channel (external_id, run)."""
    return list((await conn.execute(_IMPORTED_IDS, {"channel": channel})).all())


async def sums(conn: AsyncConnection, channel: str) -> list[Any]:
    """The channel's imported orders per (UTC day of creation, currency): day, currency,
    n, total."""
    return list((await conn.execute(_SUMS, {"channel": channel})).all())


async def sample(conn: AsyncConnection, channel: str, external_ids: Sequence[str]) -> list[Any]:
    """These orders as the database holds them: the row (id, external_id, status,
    created_at, view), the first moment of each history step (``moments``: type -> time),
    the imported ledger per kind and the first shipment's tracking number."""
    params = {"channel": channel, "ids": list(external_ids)}
    return list((await conn.execute(_SAMPLE, params)).all())
