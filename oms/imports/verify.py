"""``oms import verify``: the source files reconciled with the database.

- counts: orders in the files, found in the database for their external ids, missing,
  and extra (imported orders of the channel that no file holds);
- sums of totals per (UTC day of creation, channel, currency) on both sides;
- a sample of orders (``sample``, drawn with ``seed``) compared field by field: status,
  totals, currency, lines, the customer's email, the address, the dates of the history,
  the tracking number and what the ledger holds.

Every difference is listed (:class:`Difference`); :func:`render` writes them for a
terminal. The files are read once, streaming; the external ids are kept to find the
extra orders.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from oms.imports import records
from oms.imports.model import Order
from oms.store import imports as store

CHUNK = 5000
LISTED = 1000  # differences listed per kind (the counts are exact)


@dataclass
class Difference:
    kind: str  # missing | extra | sum | field
    external_id: str | None
    field: str
    source: str | None
    database: str | None


@dataclass
class DaySum:
    day: str
    channel: str
    currency: str
    file_orders: int = 0
    file_total: Decimal = Decimal(0)
    db_orders: int = 0
    db_total: Decimal = Decimal(0)

    @property
    def agrees(self) -> bool:
        return self.file_orders == self.db_orders and self.file_total == self.db_total


@dataclass
class Reconciliation:
    channel: str
    in_file: int = 0
    in_db: int = 0  # of the file's external ids
    missing: int = 0
    extra: int = 0
    sums: list[DaySum] = field(default_factory=list)
    sampled: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences and not self.missing and not self.extra


def _day(instant: str) -> str:
    return datetime.fromisoformat(instant).date().isoformat()


async def verify(
    engine: AsyncEngine,
    channel: str,
    orders: Iterable[Order],
    sample: int = 200,
    seed: int = 0,
) -> Reconciliation:
    out = Reconciliation(channel)
    draw = random.Random(seed)
    picked: list[Order] = []
    ids: set[str] = set()
    file_sums: dict[tuple[str, str], DaySum] = {}
    chunk: list[str] = []
    missing: list[str] = []

    async def check(chunk: list[str]) -> None:
        async with engine.connect() as conn:
            there = await store.found(conn, channel, chunk)
        out.in_db += len(there)
        missing.extend(x for x in chunk if x not in there)

    for order in orders:
        out.in_file += 1
        ids.add(order.external_id)
        key = (_day(order.created_at), order.currency)
        s = file_sums.setdefault(key, DaySum(key[0], channel, key[1]))
        s.file_orders += 1
        s.file_total += Decimal(order.total)
        # Reservoir sampling: every order has the same chance, in one pass.
        if len(picked) < sample:
            picked.append(order)
        else:
            j = draw.randrange(out.in_file)
            if j < sample:
                picked[j] = order
        chunk.append(order.external_id)
        if len(chunk) >= CHUNK:
            await check(chunk)
            chunk = []
    if chunk:
        await check(chunk)
    out.missing = len(missing)
    for x in missing[:LISTED]:
        out.differences.append(Difference("missing", x, "order", "in the file", None))

    async with engine.connect() as conn:
        extra = [r for r in await store.imported_ids(conn, channel) if r.external_id not in ids]
        out.extra = len(extra)
        for r in extra[:LISTED]:
            out.differences.append(
                Difference("extra", r.external_id, "order", None, f"imported by run {r.run}")
            )
        for r in await store.sums(conn, channel):
            key = (r.day.isoformat(), r.currency)
            s = file_sums.setdefault(key, DaySum(key[0], channel, key[1]))
            s.db_orders, s.db_total = int(r.n), Decimal(r.total)
        found = {
            r.external_id: r
            for r in await store.sample(conn, channel, [o.external_id for o in picked])
        }
    out.sums = [file_sums[k] for k in sorted(file_sums)]
    for s in out.sums:
        if not s.agrees:
            out.differences.append(
                Difference(
                    "sum",
                    None,
                    f"{s.day} {s.channel} {s.currency}",
                    f"{s.file_orders} orders, {s.file_total}",
                    f"{s.db_orders} orders, {s.db_total}",
                )
            )
    for order in picked:
        row = found.get(order.external_id)
        if row is None:
            continue  # listed as missing
        out.sampled += 1
        for name, source, database in _compare(order, row):
            out.differences.append(Difference("field", order.external_id, name, source, database))
    return out


def _money(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def _instant(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _compare(order: Order, row: Any) -> list[tuple[str, str | None, str | None]]:
    """Each field whose value differs: (field, in the file, in the database)."""
    view = row.view or {}
    imported = view.get("imported") or {}
    address = view.get("shipping_address") or {}
    moments = row.moments or {}
    ledger = row.ledger or {}
    shipments = view.get("shipments") or [{}]
    found: list[tuple[str, str | None, str | None]] = []

    def same(name: str, source: Any, database: Any, kind: str = "text") -> None:
        if kind == "money":
            equal = _money(source or "0") == _money(database or "0")
        elif kind == "instant":
            equal = _instant(source) == _instant(database)
        else:
            equal = (source or None) == (database or None)
        if not equal:
            found.append((name, None if source is None else str(source), _text(database)))

    if not imported:
        found.append(("imported", "an imported record", "an order the OMS received live"))
        return found
    if order.closed:
        same("status", records.final_status(order), row.status)
    else:
        same("stage", order.status.value, imported.get("stage"))
    same("source_status", order.source_status, imported.get("source_status"))
    same("currency", order.currency, view.get("currency"))
    same("subtotal", order.subtotal, (view.get("totals") or {}).get("subtotal"), "money")
    same("total", order.total, (view.get("totals") or {}).get("total"), "money")
    source_lines = [(x.sku, x.quantity, _money(x.unit_price)) for x in order.lines]
    db_lines = [
        (x.get("sku"), x.get("quantity"), _money(x.get("unit_price")))
        for x in view.get("lines") or []
    ]
    if source_lines != db_lines:
        found.append(("lines", _lines(source_lines), _lines(db_lines)))
    same("email", order.email, (view.get("customer") or {}).get("email"))
    same("customer_name", order.customer_name, (view.get("customer") or {}).get("name"))
    for name, key in (
        ("ship_name", "name"),
        ("ship_line1", "line1"),
        ("ship_line2", "line2"),
        ("ship_city", "city"),
        ("ship_region", "region"),
        ("ship_postal_code", "postal_code"),
        ("ship_country", "country"),
    ):
        same(name, getattr(order, name), address.get(key))
    same("created_at", order.created_at, row.created_at, "instant")
    if order.closed:
        if Decimal(order.paid or "0") > 0:
            paid_at = order.paid_at or order.created_at
            same("paid_at", paid_at, moments.get("payment_captured"), "instant")
        if order.shipped_at:
            same("shipped_at", order.shipped_at, moments.get("shipment_dispatched"), "instant")
        if order.delivered_at and row.status == "delivered":
            same("delivered_at", order.delivered_at, moments.get("order_delivered"), "instant")
        if order.cancelled_at and row.status == "cancelled":
            same("cancelled_at", order.cancelled_at, moments.get("order_cancelled"), "instant")
        same("paid", order.paid, ledger.get("capture"), "money")
        same("refunded", order.refunded, ledger.get("refund"), "money")
        if order.tracking_number:
            same("tracking_number", order.tracking_number, shipments[0].get("tracking_number"))
            same("carrier", order.carrier, shipments[0].get("carrier"))
    else:
        same("paid", order.paid, imported.get("paid"), "money")
        same("tracking_number", order.tracking_number, imported.get("tracking_number"))
    return found


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _lines(lines: list[tuple[Any, Any, Any]]) -> str:
    return "; ".join(f"{sku} x{qty} @ {price}" for sku, qty, price in lines)


def render(result: Reconciliation) -> str:
    """The reconciliation for a terminal: the counts, the sums that differ (or that they
    all agree), then every difference listed."""
    lines = [
        f"channel {result.channel}: {result.in_file} orders in the files, "
        f"{result.in_db} in the database, {result.missing} missing, {result.extra} extra",
    ]
    bad = [s for s in result.sums if not s.agrees]
    lines.append(
        f"sums per day and currency: {len(result.sums) - len(bad)} of {len(result.sums)} agree"
    )
    lines.append(f"sample: {result.sampled} orders compared field by field")
    if result.ok:
        lines.append("no difference")
        return "\n".join(lines)
    lines.append(f"{len(result.differences)} differences:")
    for d in result.differences:
        who = d.external_id or "-"
        lines.append(f"  {d.kind:<8} {who:<24} {d.field:<18} file: {d.source}  db: {d.database}")
    return "\n".join(lines)
