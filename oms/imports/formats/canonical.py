"""Our own layout, in CSV (``.csv``) or JSON Lines (``.jsonl``, ``.ndjson``).

CSV: one row per order line. The columns are named exactly as the fields of
``RawOrder`` (:data:`ORDER_COLUMNS`) plus the line's ``sku, quantity, unit_price, line_id,
line_name``; ``external_id`` is on every row, the other order columns on the order's first
row (repeated rows must agree). Only ``external_id, sku, quantity, unit_price`` must be
in the header; a column that is absent is an empty value everywhere.

JSON Lines: one order a line, the same names, ``lines`` a list of objects (``sku,
quantity, unit_price, line_id, name``); ``customer`` (``id, email, name, phone``) and
``shipping_address`` (``name, line1, line2, city, region, postal_code, country, phone``)
may be nested objects instead of the flat names. Numbers may be JSON numbers: their text
is kept as written (``12.50`` stays ``12.50``).

Statuses are our words (:class:`ImportStatus`); ``pending`` and ``unpaid`` are orders never
paid (not imported). Dates are ISO 8601 with an offset.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from oms.imports.dialect import Dialect, status_table
from oms.imports.formats.csvfile import ESCAPED as _ESCAPED
from oms.imports.formats.csvfile import FileProblem, Table, file_issue
from oms.imports.formats.grouping import build, groups
from oms.imports.model import ImportStatus, Issue, RawLine, RawOrder, Where

ORDER_COLUMNS: tuple[str, ...] = tuple(
    f.name for f in fields(RawOrder) if f.name not in ("where", "lines", "read_issues")
)
LINE_COLUMNS: dict[str, str] = {
    "sku": "sku",
    "quantity": "quantity",
    "unit_price": "unit_price",
    "line_id": "line_id",
    "name": "line_name",
}
REQUIRED_COLUMNS = ("external_id", "sku", "quantity", "unit_price")
CUSTOMER = {"id": "customer_id", "email": "email", "name": "customer_name", "phone": "phone"}
SHIPPING_ADDRESS = {
    "name": "ship_name",
    "line1": "ship_line1",
    "line2": "ship_line2",
    "city": "ship_city",
    "region": "ship_region",
    "postal_code": "ship_postal_code",
    "country": "ship_country",
    "phone": "ship_phone",
}
STATUSES: dict[str, ImportStatus | None] = {
    **{s.value: s for s in ImportStatus},
    "pending": None,
    "unpaid": None,
}
DIALECT = Dialect(
    name="canonical",
    status_of=status_table(STATUSES, "canonical"),
    statuses=tuple(STATUSES),
)
JSON_LINES = (".jsonl", ".ndjson")


class Canonical:
    name = "canonical"
    dialect = DIALECT

    def fingerprint(self) -> bytes:
        return b""

    def read(self, paths: Sequence[Path]) -> Iterator[RawOrder | Issue]:
        for path in paths:
            if path.suffix.lower() in JSON_LINES:
                yield from read_jsonl(path)
            elif path.suffix.lower() == ".csv":
                yield from read_csv(path)
            else:
                yield file_issue(
                    path,
                    "the canonical format reads .csv, .jsonl or .ndjson "
                    f"files, not {path.suffix or 'a file without an extension'}",
                    line=0,
                )


def read_csv(path: Path) -> Iterator[RawOrder | Issue]:
    try:
        table = Table(path)
    except FileProblem as problem:
        yield problem.issue
        return
    with table:
        missing = [c for c in REQUIRED_COLUMNS if c not in table.header]
        if missing:
            yield file_issue(
                path,
                f"the header lacks {', '.join(missing)} (the canonical "
                "columns are named as in docs/migration.md)",
            )
            return
        unknown = [
            c
            for c in table.header
            if c and c not in ORDER_COLUMNS and c not in LINE_COLUMNS.values()
        ]
        if unknown:
            yield file_issue(path, f"unknown columns: {', '.join(unknown)}")
            return
        present = {c: c for c in ORDER_COLUMNS if c in table.header}
        lines = {k: v for k, v in LINE_COLUMNS.items() if v in table.header}
        for rows in groups(table.rows(), "external_id"):
            yield build(table.name, rows, present, lines)


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip() or None


def read_jsonl(path: Path) -> Iterator[RawOrder | Issue]:
    try:
        f = path.open(encoding="utf-8-sig", errors="surrogateescape")
    except OSError as exc:
        yield file_issue(path, f"cannot read the file: {exc.strerror or exc}", line=0)
        return
    name = str(path)
    with f:
        for n, text in enumerate(f, start=1):
            if not text.strip():
                continue
            where = Where(name, n)
            if _ESCAPED.search(text):
                yield _broken(where, "encoding", "bytes that are not UTF-8 text on this line")
                continue
            try:
                obj = json.loads(text, parse_float=str, parse_int=str)
            except ValueError as exc:
                yield _broken(where, "file_format", f"not a JSON object: {exc}")
                continue
            if not isinstance(obj, dict):
                yield _broken(where, "file_format", "not a JSON object")
                continue
            yield from_object(obj, where)


def _broken(where: Where, code: str, message: str) -> Issue:
    """A line the reader could not read: no order to check, one finding."""
    return Issue(code=code, where=where, field="", value="", message=message)


def from_object(obj: dict[str, Any], where: Where) -> RawOrder:
    flat: dict[str, Any] = {k: v for k, v in obj.items() if k in ORDER_COLUMNS}
    problems: list[Issue] = []
    for nested, names in (("customer", CUSTOMER), ("shipping_address", SHIPPING_ADDRESS)):
        inner = obj.get(nested)
        if isinstance(inner, dict):
            for key, target in names.items():
                if inner.get(key) not in (None, "") and flat.get(target) in (None, ""):
                    flat[target] = inner[key]
        elif inner is not None:
            problems.append(
                Issue("file_format", where, nested, str(inner)[:60], "must be an object")
            )
    values: dict[str, Any] = {k: _text(flat.get(k)) for k in ORDER_COLUMNS}
    order = RawOrder(
        where=where,
        external_id=values.pop("external_id"),
        status=values.pop("status"),
        created_at=values.pop("created_at"),
        currency=values.pop("currency"),
        **values,
    )
    raw_lines = obj.get("lines")
    if isinstance(raw_lines, list):
        for i, line in enumerate(raw_lines):
            if not isinstance(line, dict):
                problems.append(
                    Issue(
                        "file_format",
                        where,
                        f"lines.{i}",
                        str(line)[:60],
                        "a line must be an object",
                    )
                )
                continue
            order.lines.append(
                RawLine(
                    sku=_text(line.get("sku")) or "",
                    quantity=_text(line.get("quantity")) or "",
                    unit_price=_text(line.get("unit_price")) or "",
                    line_id=_text(line.get("line_id")) or "",
                    name=_text(line.get("name")) or "",
                    where=where,
                )
            )
    elif raw_lines is not None:
        problems.append(
            Issue("file_format", where, "lines", str(raw_lines)[:60], "must be a list of lines")
        )
    for p in problems:
        p.external_id = order.external_id
    order.read_issues.extend(problems)
    return order
