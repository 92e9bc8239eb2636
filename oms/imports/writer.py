"""The set-based writer of imported orders (``oms import orders``).

Orders are written in batches of ``batch_size``, each batch in ONE transaction: the
batch's new orders COPYed into temporary tables and inserted with ``INSERT ... SELECT
... ON CONFLICT DO NOTHING`` (``oms.store.imports``), the corrections of imported closed
records, the KPI facts and ``order_skus`` of the batch set-based, and the run's row
(``import_runs``) moved on, together. What each order becomes: ``oms.imports.records``.

- Idempotent by (channel, external id): the order id is ``oms.domain.ids.order_id_for``
  as for live intake, and each row keeps the fingerprint of its source record; the same
  record again is ``unchanged``.
- A corrected record: an imported CLOSED record takes the new values (``updated``), with
  an ``order_corrected`` entry naming the fields; an imported OPEN record, a record that
  did not come from an import, or a change a correction may not make is ``refused``,
  with the reason (``WriteResult.refusals``).
- Resumable: a run killed at any point and called again with the same ``run_key`` skips
  the orders its committed batches hold (the first ``committed`` of the input, checked
  by the last one's external id) and goes on; the counts it returns are the whole run's.
  A run that finished, called again, starts from its first order (everything then counts
  ``unchanged``).
- Nothing goes out: the batch's transaction sets ``oms.importing``, which the events-out
  triggers skip (migration 0017): no webhook for years of history.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oms.imports import records
from oms.imports.model import Order
from oms.store import imports as store

# Refusals kept on the run's row (the count is always exact).
REFUSALS_KEPT = 1000
COUNTS = ("inserted", "updated", "unchanged", "refused", "open_orders")


@dataclass
class WriteResult:
    inserted: int = 0  # new records
    updated: int = 0  # imported records a corrected file changed
    unchanged: int = 0  # already there, identical (a second run)
    refused: int = 0  # already there and not allowed to change (reported)
    open_orders: int = 0  # inserted open orders, waiting for their workflow to start
    resumed_after: int = 0  # orders a previous run of the same files had committed
    # (external id, reason) of each refused order (the first REFUSALS_KEPT of the run)
    refusals: list[tuple[str, str]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in COUNTS}

    def refuse(self, external_id: str, reason: str) -> None:
        self.refused += 1
        if len(self.refusals) < REFUSALS_KEPT:
            self.refusals.append((external_id, reason))


class RunMismatch(RuntimeError):
    """The input is not the one the run committed its first orders of."""


class RunTaken(RuntimeError):
    """Another process moved the same run on meanwhile."""


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


async def write_orders(
    engine: AsyncEngine,
    channel: str,
    orders: Iterable[Order],
    *,
    run_key: str,
    batch_size: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> WriteResult:
    """Write ``orders`` for ``channel`` as run ``run_key``. ``progress(done)`` is called
    with the number of the input's orders taken so far (those a previous attempt of the
    run committed included) after each batch."""
    result, committed, last_id = await _begin(engine, run_key, channel)
    source: Iterator[Order] = iter(orders)
    if committed:
        skipped = list(islice(source, committed - 1))
        tail = next(source, None)
        if len(skipped) != committed - 1 or tail is None or tail.external_id != last_id:
            await _restart(engine, run_key)
            raise RunMismatch(
                f"the input differs from the one run {run_key[:12]} committed "
                f"{committed} orders of: the run starts again from its first order on the "
                "next call (orders already written are recognised and counted unchanged)"
            )
        result.resumed_after = committed
        if progress:
            progress(committed)
    # Each batch's rows are made (the source read, the views and timelines built, their
    # JSON written) in a thread while the batch before is written: the database and
    # Python each keep a core busy.
    upcoming = asyncio.create_task(
        asyncio.to_thread(_prepare, source, channel, run_key, batch_size)
    )
    try:
        while True:
            prepared = await upcoming
            if prepared is None:
                break
            upcoming = asyncio.create_task(
                asyncio.to_thread(_prepare, source, channel, run_key, batch_size)
            )
            committed = await _write_batch(engine, run_key, prepared, committed, result)
            if progress:
                progress(committed)
    finally:
        # A batch that failed: the one being made in its thread is let finish, unused.
        await asyncio.gather(upcoming, return_exceptions=True)
    async with engine.begin() as conn:
        await store.finish_run(conn, run_key, datetime.now(UTC))
    return result


async def _begin(engine: AsyncEngine, run_key: str, channel: str) -> tuple[WriteResult, int, Any]:
    """The run's counts and committed orders so far (a finished run starts again)."""
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await store.start_run(conn, run_key, channel, now)
        row = await store.lock_run(conn, run_key)
        if row.finished_at is not None:
            await store.restart_run(conn, run_key, now)
            return WriteResult(), 0, None
    counts = {k: int(row.counts.get(k, 0)) for k in COUNTS}
    refusals = [(str(e), str(r)) for e, r in row.refusals]
    return WriteResult(**counts, refusals=refusals), row.committed, row.last_external_id


async def _restart(engine: AsyncEngine, run_key: str) -> None:
    async with engine.begin() as conn:
        await store.restart_run(conn, run_key, datetime.now(UTC))


@dataclass
class Prepared:
    """A batch ready to write: each order built with its rows, and those refused already."""

    orders: list[Order]
    built: list[records.Built]
    rows: dict[str, tuple[Any, ...]]  # order id -> (order row, events, payments, shipments)
    refused: list[tuple[str, str]]
    now: datetime


def _prepare(source: Iterator[Order], channel: str, run_key: str, size: int) -> Prepared | None:
    """The next ``size`` orders of ``source`` built (None when it is exhausted)."""
    batch = list(islice(source, size))
    if not batch:
        return None
    now = datetime.now(UTC)
    built: list[records.Built] = []
    rows: dict[str, tuple[Any, ...]] = {}
    refused = []
    for order in batch:
        b = records.build(channel, order, run=run_key, now=now)
        if b.id in rows:
            refused.append((order.external_id, "the same external id again in the input"))
            continue
        built.append(b)
        rows[b.id] = _rows(b)
    return Prepared(batch, built, rows, refused, now)


async def _write_batch(
    engine: AsyncEngine,
    run_key: str,
    prepared: Prepared,
    committed: int,
    result: WriteResult,
) -> int:
    """One batch in one transaction; returns the run's committed orders after it. The
    counts go into ``result`` only once the transaction has committed."""
    now, built, batch = prepared.now, prepared.built, prepared.orders
    step = WriteResult(refusals=[])
    for external_id, reason in prepared.refused:
        step.refuse(external_id, reason)
    async with engine.begin() as conn:
        await store.importing(conn)
        row = await store.lock_run(conn, run_key)
        if row is None or row.committed != committed:
            raise RunTaken(f"run {run_key[:12]} is being written by another process")
        found = await store.existing(conn, [b.id for b in built])
        fresh = [b for b in built if b.id not in found]
        touched = await _insert(conn, fresh, prepared.rows, step)
        for b in built:
            old = found.get(b.id)
            if old is None:
                continue
            if old.imported is None:
                step.refuse(b.order.external_id, "a live order (not imported) has this external id")
            elif old.request_hash == b.hash:
                step.unchanged += 1
            elif await _correct(conn, b, old, run_key, now, step):
                touched.append(b.id)
        await store.fill_facts(conn, touched)
        for k in COUNTS:
            setattr(step, k, getattr(step, k) + getattr(result, k))
        refusals = (result.refusals + step.refusals)[:REFUSALS_KEPT]
        done = committed + len(batch)
        moved = await store.advance_run(
            conn,
            run_key,
            before=committed,
            committed=done,
            last_external_id=batch[-1].external_id,
            counts=step.counts(),
            refusals=[list(r) for r in refusals],
            now=now,
        )
        if not moved:
            raise RunTaken(f"run {run_key[:12]} is being written by another process")
    for k in COUNTS:
        setattr(result, k, getattr(step, k))
    result.refusals = refusals
    return done


def _rows(b: records.Built) -> tuple[Any, ...]:
    """The staging tables' rows of one order (``oms.store.imports.write_new``)."""
    order = (
        b.id,
        b.channel,
        b.order.external_id,
        b.hash,
        b.customer_id,
        b.status,
        b.last_seq,
        _dumps(b.view),
        b.address_key,
        b.created_at,
        b.updated_at,
    )
    events = [(b.id, e.seq, e.type, e.status, _dumps(e.data), e.at) for e in b.events]
    cur = b.order.currency
    payments = [(b.id, p.kind, p.amount, cur, p.key, p.reference, p.at) for p in b.ledger]
    s = b.shipment
    shipments = []
    if s is not None:
        shipments.append(
            (
                s.id,
                b.id,
                s.warehouse_id,
                s.status,
                s.tracking_number,
                s.carrier,
                s.created_at,
                s.updated_at,
            )
        )
    return order, events, payments, shipments


async def _insert(
    conn: AsyncConnection,
    fresh: list[records.Built],
    rows: dict[str, tuple[Any, ...]],
    step: WriteResult,
) -> list[str]:
    orders: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    payments: list[tuple[Any, ...]] = []
    shipments: list[tuple[Any, ...]] = []
    for b in fresh:
        order, e, p, s = rows[b.id]
        orders.append(order)
        events.extend(e)
        payments.extend(p)
        shipments.extend(s)
    inserted = await store.write_new(conn, orders, events, payments, shipments) if fresh else set()
    for b in fresh:
        if b.id in inserted:
            step.inserted += 1
            if not b.order.closed:
                step.open_orders += 1
        else:
            step.refuse(b.order.external_id, "another writer recorded this order meanwhile")
    return sorted(inserted)


async def _correct(
    conn: AsyncConnection,
    b: records.Built,
    old: Any,
    run_key: str,
    now: datetime,
    step: WriteResult,
) -> bool:
    """A changed record: corrected where allowed (True), refused otherwise."""
    stage = old.imported.get("stage")
    before = None if stage else await store.last_record(conn, b.id)
    reason = records.refusal(before, b.order, last_seq=old.last_seq, open_stage=stage)
    if reason is not None:
        step.refuse(b.order.external_id, reason)
        return False
    assert before is not None
    after = records.record_of(b.order)
    fields = records.changed_fields(before, after)
    n = int(old.imported.get("corrections", 0)) + 1
    view = dict(b.view)
    view["imported"] = {
        **b.view["imported"],
        "imported_at": old.imported.get("imported_at"),
        "run": old.imported.get("run"),
        "corrected_at": now.isoformat(),
        "corrections": n,
        "corrected_by": run_key,
    }
    seq = old.last_seq
    events = []
    for e in b.history:
        seq += 1
        events.append((seq, e.type, e.status, _dumps(e.data), e.at))
    seq += 1
    corrected = {
        "source": "correction",
        "run": run_key,
        "fields": fields,
        "before": {f: before.get(f) for f in fields},
        "after": {f: after.get(f) for f in fields},
        "record": after,
        "file": b.order.where.file,
        "line": b.order.where.line,
    }
    events.append((seq, "order_corrected", b.status, _dumps(corrected), now))
    s = b.shipment
    done = await store.correct(
        conn,
        order={
            "id": b.id,
            "status": b.status,
            "view": _dumps(view),
            "customer_id": b.customer_id,
            "address_key": b.address_key,
            "hash": b.hash,
            "last_seq": seq,
            "created_at": b.created_at,
            "now": now,
        },
        old_hash=old.request_hash,
        first_event=(b.created_at, _dumps(b.events[0].data)),
        events=events,
        ledger={p.kind: (p.amount, p.reference, p.at) for p in b.ledger},
        key_prefix=f"{b.id}-imported-",
        correction=n,
        currency=b.order.currency,
        shipment=None
        if s is None
        else {
            "warehouse_id": s.warehouse_id,
            "status": s.status,
            "tracking": s.tracking_number,
            "carrier": s.carrier,
            "created_at": s.created_at,
            "updated_at": s.updated_at,
        },
        shipment_id=f"{b.id}-1",
    )
    if not done:
        step.refuse(b.order.external_id, "the record changed meanwhile; run the import again")
        return False
    step.updated += 1
    return True
