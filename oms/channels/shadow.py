"""Running two systems side by side: what the OMS decided for a shadow channel's orders,
set against what the current system did with the same orders.

The current system's side comes as a CSV export with one row per order (or per shipment:
rows of one order are merged): ``external_id``, ``held`` (yes/no, true/false, 1/0) and
``warehouses`` (the warehouse ids it shipped from, separated by ``;`` or ``|``). Columns
may be missing: only what both sides say is compared. Pure: the caller reads the files
and the orders.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

_TRUE = {"yes", "y", "true", "1", "held", "on_hold"}
_FALSE = {"no", "n", "false", "0", ""}


@dataclass
class Decision:
    """One order's decision, by either system."""

    external_id: str
    held: bool | None = None
    warehouses: frozenset[str] | None = None

    @property
    def split(self) -> bool | None:
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
    """The current system's export cannot be read (with the line at fault)."""


def read_current(text: str) -> dict[str, Decision]:
    """The current system's decisions from its CSV export, by external id."""
    reader = csv.DictReader(io.StringIO(text, newline=None))
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        raise BadExport(f"line 1: {exc}") from exc
    if fieldnames is None or "external_id" not in fieldnames:
        raise BadExport("the export needs an external_id column")
    out: dict[str, Decision] = {}
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise BadExport(f"line {reader.line_num}: {exc}") from exc
    for line, row in enumerate(rows, start=2):
        ext = (row.get("external_id") or "").strip()
        if not ext:
            raise BadExport(f"line {line}: no external_id")
        decision = out.setdefault(ext, Decision(ext))
        held = (row.get("held") or "").strip().lower() if "held" in row else None
        if held is not None:
            if held not in _TRUE | _FALSE:
                raise BadExport(f"line {line}: held must be yes or no, not {held!r}")
            decision.held = bool(decision.held) or held in _TRUE
        if "warehouses" in row or "warehouse_id" in row:
            cell = row.get("warehouses") or row.get("warehouse_id") or ""
            found = {w.strip() for w in cell.replace("|", ";").split(";") if w.strip()}
            decision.warehouses = (decision.warehouses or frozenset()) | found
    return out


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
