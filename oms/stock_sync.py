"""Absolute stock levels from a source (an ERP, the WMS, a CSV file), applied as a set.

One batch is applied in the caller's transaction, whatever its size, by
``oms.store.stock.apply_levels`` (a temporary table loaded with ``unnest()``, the stock rows
locked in (warehouse, sku) order, one statement applying and journalling them). The rules
(the same for ``POST /v1/stock/sync``, ``oms stock import`` and the WMS pull):

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

from sqlalchemy.ext.asyncio import AsyncConnection

from oms.domain.messages import AlertRequest
from oms.store import stock


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

    from oms.domain.stock_level import SyncItem

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


async def apply_levels(conn: AsyncConnection, levels: Sequence[Level], source: str) -> SyncReport:
    """Apply ``levels`` from ``source`` in the caller's transaction; the report of each one
    by its index in ``levels``."""
    report = SyncReport()
    if not levels:
        return report
    rows = await stock.apply_levels(
        conn,
        [level.warehouse_id for level in levels],
        [level.sku for level in levels],
        [level.on_hand for level in levels],
        [level.as_of for level in levels],
        source,
    )
    for row in rows:
        _file(report, row)
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
