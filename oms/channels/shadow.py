"""Running two systems side by side: what the OMS decided for a shadow channel's orders,
set against what the current system did with the same orders.

The current system's side comes as a CSV export with one row per order (or per shipment:
rows of one order are merged): ``external_id``, ``held``, ``cancelled`` and ``split``
(yes/no, true/false, 1/0), ``warehouses`` (the warehouse ids it shipped from, separated by
``;`` or ``|``) and ``shipped_at`` (ISO 8601 with its offset). Columns may be missing: only
what both sides say is compared. Pure: the caller reads the files and the orders; the
report over them is ``oms.channels.shadow_report``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

_TRUE = {"yes", "y", "true", "1", "held", "on_hold", "cancelled", "split"}
_FALSE = {"no", "n", "false", "0", ""}
# Bad lines reported at most; the rest are counted.
MAX_ERRORS = 100


@dataclass
class Decision:
    """One order's decision, by either system."""

    external_id: str
    held: bool | None = None
    warehouses: frozenset[str] | None = None
    cancelled: bool | None = None
    # When the order's goods left (the current system: its first shipment).
    shipped_at: datetime | None = None
    # Split as the export says it; derived from the warehouses when it says nothing.
    split_given: bool | None = None

    @property
    def split(self) -> bool | None:
        if self.split_given is not None:
            return self.split_given
        return None if self.warehouses is None else len(self.warehouses) > 1


@dataclass
class Comparison:
    orders: int = 0  # orders both sides decided
    only_oms: list[str] = field(default_factory=list)
    only_current: list[str] = field(default_factory=list)
    # aspect -> (agreed, compared)
    agreement: dict[str, tuple[int, int]] = field(default_factory=dict)
    # (external id, aspect, OMS, current)
    differences: list[tuple[str, str, str, str]] = field(default_factory=list)

    def rate(self, aspect: str) -> float | None:
        agreed, compared = self.agreement.get(aspect, (0, 0))
        return agreed / compared if compared else None


class BadExport(ValueError):
    """The current system's export cannot be read: ``errors`` holds each bad line as
    (line number, message), line 1 being the header; the message names the first ones."""

    def __init__(self, message: str, errors: list[tuple[int, str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


COLUMNS = ("external_id", "held", "cancelled", "warehouses", "split", "shipped_at")


def read_current(text: str) -> dict[str, Decision]:
    """The current system's decisions from its CSV export, by external id. Columns:
    ``external_id`` (required), ``held``, ``cancelled`` and ``split`` (yes/no; an empty
    split is derived from the warehouses: more than one is a split), ``warehouses`` (or
    ``warehouse_id``: ids separated by ``;`` or ``|``), ``shipped_at`` (ISO 8601 with its
    offset). Rows of one order are merged (held, cancelled, split: any row says yes;
    warehouses: all of them; shipped_at: the earliest). A column the export lacks is not
    compared. Every bad line is reported (BadExport), and then nothing is returned."""
    reader = csv.DictReader(io.StringIO(text, newline=None))
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        raise BadExport(f"line 1: {exc}", [(1, str(exc))]) from exc
    if fieldnames is None or "external_id" not in fieldnames:
        raise BadExport("the export needs an external_id column", [(1, "no external_id column")])
    out: dict[str, Decision] = {}
    errors: list[tuple[int, str]] = []
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise BadExport(f"line {reader.line_num}: {exc}", [(reader.line_num, str(exc))]) from exc
    for line, row in enumerate(rows, start=2):
        problem = _merge(out, row)
        if problem:
            errors.append((line, problem))
    if errors:
        shown = "; ".join(f"line {n}: {m}" for n, m in errors[:5])
        more = f" (and {len(errors) - 5} more bad lines)" if len(errors) > 5 else ""
        raise BadExport(shown + more, errors[:MAX_ERRORS])
    return out


def _merge(out: dict[str, Decision], row: dict[str, Any]) -> str | None:
    """Fold one row into its order's decision; the problem with the row, if any."""
    if None in row:
        return "more cells than the header has columns"
    ext = (row.get("external_id") or "").strip()
    if not ext:
        return "no external_id"
    flags: dict[str, bool | None] = {}
    for name in ("held", "cancelled", "split"):
        if name not in row:
            flags[name] = None
            continue
        value = (row.get(name) or "").strip().lower()
        if name == "split" and not value:
            flags[name] = None  # not said: derived from the warehouses
            continue
        if value not in _TRUE | _FALSE:
            return f"{name} must be yes or no, not {value!r}"
        flags[name] = value in _TRUE
    shipped: datetime | None = None
    cell = (row.get("shipped_at") or "").strip()
    if cell:
        try:
            shipped = datetime.fromisoformat(cell.replace("z", "Z"))
        except ValueError:
            return f"shipped_at is not an ISO 8601 date and time: {cell!r}"
        if shipped.tzinfo is None:
            return f"shipped_at needs its offset (Z or +08:00): {cell!r}"
    decision = out.setdefault(ext, Decision(ext))
    if flags["held"] is not None:
        decision.held = bool(decision.held) or flags["held"]
    if flags["cancelled"] is not None:
        decision.cancelled = bool(decision.cancelled) or flags["cancelled"]
    if flags["split"] is not None:
        decision.split_given = bool(decision.split_given) or flags["split"]
    if "warehouses" in row or "warehouse_id" in row:
        cell = row.get("warehouses") or row.get("warehouse_id") or ""
        found = {w.strip() for w in cell.replace("|", ";").split(";") if w.strip()}
        decision.warehouses = (decision.warehouses or frozenset()) | found
    if shipped is not None:
        earlier = decision.shipped_at
        decision.shipped_at = shipped if earlier is None or shipped < earlier else earlier
    return None


def oms_decision(external_id: str, shadow: Mapping[str, Any]) -> Decision:
    """The OMS's decision from an order view's ``shadow`` part."""
    warehouses = frozenset(s["warehouse_id"] for s in shadow.get("shipments") or [])
    return Decision(external_id, bool(shadow.get("hold_reasons")), warehouses)


def compare(oms: Iterable[Decision], current: Mapping[str, Decision]) -> Comparison:
    result = Comparison()
    seen: set[str] = set()
    for ours in oms:
        seen.add(ours.external_id)
        theirs = current.get(ours.external_id)
        if theirs is None:
            result.only_oms.append(ours.external_id)
            continue
        result.orders += 1
        for aspect, a, b in (
            ("held", ours.held, theirs.held),
            ("warehouses", ours.warehouses, theirs.warehouses),
            ("split", ours.split, theirs.split),
        ):
            if a is None or b is None:
                continue
            agreed, compared = result.agreement.get(aspect, (0, 0))
            same = a == b
            result.agreement[aspect] = (agreed + same, compared + 1)
            if not same:
                result.differences.append((ours.external_id, aspect, _show(a), _show(b)))
    result.only_current = sorted(set(current) - seen)
    return result


def _show(value: object) -> str:
    if isinstance(value, frozenset):
        return ";".join(sorted(value)) or "-"
    return "yes" if value is True else "no" if value is False else str(value)
