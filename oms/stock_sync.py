"""Absolute stock levels from a source (an ERP, the WMS, a CSV file), applied as a set.

One batch is applied in the caller's transaction, whatever its size: the levels are loaded
into a temporary table with ``unnest()``, the stock rows they touch are locked in
(warehouse, sku) order, one ``INSERT ... ON CONFLICT`` applies them and one ``INSERT ...
SELECT`` journals the changes. The rules (the same for ``POST /v1/stock/sync``, ``oms stock
import`` and the WMS pull):

- a level for an unknown warehouse is rejected;
- within a batch only the newest level of a warehouse and SKU counts (the later item wins a
  tie); the others are ignored as "superseded by item N";
- a level as old as or older than the one applied last for its pair is ignored as stale;
- stock already reserved stays reserved: a level below it is applied as
  ``on_hand = reserved`` and reported with its ``shortfall``;
- each pair whose ``on_hand`` changed gets a ``stock_movements`` row of kind ``sync``.

Stock is written by ordinary ``INSERT``/``UPDATE`` statements, so triggers on ``stock`` fire
for every row changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from oms.domain.messages import AlertRequest


@dataclass(frozen=True)
class Level:
    """An absolute level of a SKU in a warehouse, as the source saw it at ``as_of``."""

    warehouse_id: str
    sku: str
    on_hand: int
    as_of: datetime  # timezone-aware


Outcome = dict[str, Any]


@dataclass
class SyncReport:
    """Every level of a batch, by its index: applied, ignored (and why) or rejected."""

    applied: list[Outcome] = field(default_factory=list)
    ignored: list[Outcome] = field(default_factory=list)
    rejected: list[Outcome] = field(default_factory=list)

    @property
    def shortfalls(self) -> list[Outcome]:
        return [a for a in self.applied if a.get("shortfall")]

    def as_json(self) -> dict[str, list[Outcome]]:
        return {"applied": self.applied, "ignored": self.ignored, "rejected": self.rejected}


class InvalidLevel(ValueError):
    """A level a source sent that ``POST /v1/stock/sync`` would refuse; the message says why."""


def level_from(item: Any) -> Level:
    """The level in ``{warehouse_id, sku, on_hand, as_of}`` (``as_of`` an ISO 8601 string
    with its offset), checked by the rules of the API's sync items."""
    from pydantic import ValidationError

    from api.schemas import SyncItem

    try:
        checked = SyncItem.model_validate(item)
    except ValidationError as exc:
        raise InvalidLevel("; ".join(_why(e) for e in exc.errors())) from exc
    return Level(checked.warehouse_id, checked.sku, checked.on_hand, checked.as_of)


def _why(error: Any) -> str:
    name = ".".join(str(part) for part in error["loc"]) or "item"
    value = str(error.get("input", ""))
    shown = value if len(value) <= 40 else value[:37] + "..."
    return f"{name} {shown!r}: {error['msg']}"


class AlertSink(Protocol):
    async def raise_alert(self, req: AlertRequest) -> int: ...


# The batch, with the index of the level that counts for each pair (newest, later on a tie)
# and whether its warehouse exists. Dropped at commit or rollback.
_LOAD = text(
    """
    CREATE TEMPORARY TABLE stock_sync_batch ON COMMIT DROP AS
    SELECT b.idx, b.warehouse_id, b.sku, b.on_hand, b.as_of,
           first_value(b.idx) OVER (
               PARTITION BY b.warehouse_id, b.sku ORDER BY b.as_of DESC, b.idx DESC
           ) AS newest,
           EXISTS (SELECT 1 FROM warehouses w WHERE w.id = b.warehouse_id) AS known
    FROM unnest(CAST(:idx AS integer[]), CAST(:warehouse AS text[]), CAST(:sku AS text[]),
                CAST(:on_hand AS integer[]), CAST(:as_of AS timestamptz[]))
         AS b(idx, warehouse_id, sku, on_hand, as_of)
    """
)
# Without statistics the planner takes a temporary table for a small one; and sorts of a
# big batch stay in memory rather than spill to disk (for this transaction only).
_ANALYZE = text("ANALYZE stock_sync_batch")
_WORK_MEM = text("SET LOCAL work_mem = '64MB'")
# The rows the batch will write, locked in (warehouse, sku) order so that two syncs, or a
# sync and a reservation, never deadlock; what they held before, for the journal and the
# stale check.
_LOCK = text(
    """
    CREATE TEMPORARY TABLE stock_sync_before ON COMMIT DROP AS
    SELECT s.warehouse_id, s.sku, s.on_hand, s.as_of
    FROM stock s
    JOIN stock_sync_batch b
      ON b.warehouse_id = s.warehouse_id AND b.sku = s.sku AND b.idx = b.newest AND b.known
    ORDER BY s.warehouse_id, s.sku
    FOR UPDATE OF s
    """
)
_DROP = text("DROP TABLE stock_sync_batch, stock_sync_before")
# The WHERE on the conflict keeps a newer level that another transaction applied between
# the lock and here (a row that did not exist yet could not be locked).
_APPLY = text(
    """
    WITH applied AS (
        INSERT INTO stock AS s (warehouse_id, sku, on_hand, reserved, updated_at, as_of, source)
        SELECT b.warehouse_id, b.sku, b.on_hand, 0, now(), b.as_of, :source
        FROM stock_sync_batch b
        LEFT JOIN stock_sync_before o ON o.warehouse_id = b.warehouse_id AND o.sku = b.sku
        WHERE b.idx = b.newest AND b.known AND (o.as_of IS NULL OR b.as_of > o.as_of)
        ORDER BY b.warehouse_id, b.sku
        ON CONFLICT (warehouse_id, sku) DO UPDATE
            SET on_hand = GREATEST(excluded.on_hand, s.reserved), updated_at = now(),
                as_of = excluded.as_of, source = excluded.source
            WHERE s.as_of IS NULL OR excluded.as_of > s.as_of
        RETURNING s.warehouse_id, s.sku, s.on_hand, s.reserved
    ), journal AS (
        INSERT INTO stock_movements (warehouse_id, sku, kind, on_hand_delta, reserved_delta,
                                     reason, created_at)
        SELECT a.warehouse_id, a.sku, 'sync', a.on_hand - COALESCE(o.on_hand, 0), 0,
               :reason, now()
        FROM applied a
        LEFT JOIN stock_sync_before o ON o.warehouse_id = a.warehouse_id AND o.sku = a.sku
        WHERE a.on_hand <> COALESCE(o.on_hand, 0)
        ORDER BY a.warehouse_id, a.sku
    )
    SELECT b.idx, b.warehouse_id, b.sku, b.on_hand AS level, b.known, b.newest,
           o.as_of AS held_as_of, a.on_hand, a.reserved
    FROM stock_sync_batch b
    LEFT JOIN stock_sync_before o ON o.warehouse_id = b.warehouse_id AND o.sku = b.sku
    LEFT JOIN applied a
      ON a.warehouse_id = b.warehouse_id AND a.sku = b.sku AND b.idx = b.newest
    ORDER BY b.idx
    """
)


async def apply_levels(conn: AsyncConnection, levels: Sequence[Level], source: str) -> SyncReport:
    """Apply ``levels`` from ``source`` in the caller's transaction; the report of each one
    by its index in ``levels``."""
    report = SyncReport()
    if not levels:
        return report
    await conn.execute(
        _LOAD,
        {
            "idx": list(range(len(levels))),
            "warehouse": [level.warehouse_id for level in levels],
            "sku": [level.sku for level in levels],
            "on_hand": [level.on_hand for level in levels],
            "as_of": [level.as_of for level in levels],
        },
    )
    await conn.execute(_ANALYZE)
    await conn.execute(_WORK_MEM)
    await conn.execute(_LOCK)
    rows = await conn.execute(_APPLY, {"source": source, "reason": f"sync from {source}"})
    for row in rows:
        _file(report, row)
    await conn.execute(_DROP)  # another batch may follow in the same transaction
    return report


def _file(report: SyncReport, row: Any) -> None:
    outcome: Outcome = {"index": row.idx, "warehouse_id": row.warehouse_id, "sku": row.sku}
    if not row.known:
        report.rejected.append({**outcome, "reason": "unknown warehouse"})
    elif row.newest != row.idx:
        report.ignored.append({**outcome, "reason": f"superseded by item {row.newest}"})
    elif row.on_hand is None:
        # Held back by the stored as_of: the one locked, or one another sync applied to a
        # row that did not exist yet when the batch locked its rows.
        if row.held_as_of is not None:
            stale = f"stale: a level as of {row.held_as_of.isoformat()} is applied already"
        else:
            stale = "stale: a newer level was applied meanwhile"
        report.ignored.append({**outcome, "reason": stale})
    else:
        applied = {**outcome, "on_hand": row.on_hand}
        if row.level < row.reserved:
            applied["shortfall"] = row.reserved - row.level
        report.applied.append(applied)


async def raise_shortfall_alerts(alerts: AlertSink, report: SyncReport, source: str) -> int:
    """A ``stock_shortfall`` alert for each level applied below what is reserved (one open
    per warehouse and SKU); how many levels fell short."""
    shortfalls = report.shortfalls
    for short in shortfalls:
        # Stock the source no longer has is promised to orders: operators must know.
        subject = f"{short['warehouse_id']}/{short['sku']}"
        detail = {**short, "source": source, "subject": subject}
        await alerts.raise_alert(AlertRequest("", "stock_shortfall", detail))
    return len(shortfalls)
