"""Rows to orders: consecutive rows with the same order key are one order (one row per
line item), the order's values taken from its first row. A later row that repeats an order
value must repeat it unchanged (``inconsistent`` otherwise); an empty cell on a later row
is simply not repeated."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from oms.imports.formats.csvfile import Row
from oms.imports.model import Issue, RawLine, RawOrder, Where


def groups(rows: Iterable[Row], key: str) -> Iterator[list[Row]]:
    """Runs of consecutive rows with the same value in column ``key``; a row with an empty
    key is an order of its own (the rules report the missing id)."""
    run: list[Row] = []
    current: str | None = None
    for row in rows:
        value = row.cells.get(key, "")
        if run and value and value == current:
            run.append(row)
            continue
        if run:
            yield run
        run, current = [row], value
    if run:
        yield run


def build(
    file: str,
    rows: list[Row],
    order_columns: Mapping[str, str],
    line_columns: Mapping[str, str],
    *,
    check_repeats: bool = True,
) -> RawOrder:
    """The RawOrder of one group: ``order_columns`` maps a RawOrder field to its column,
    ``line_columns`` a RawLine field to its column (one line per row)."""
    first = rows[0]
    values: dict[str, Any] = {
        name: first.cells.get(column) or None for name, column in order_columns.items()
    }
    order = RawOrder(
        where=Where(file, first.line, rows[-1].last_line if len(rows) > 1 else None),
        external_id=values.pop("external_id", None),
        status=values.pop("status", None),
        created_at=values.pop("created_at", None),
        currency=values.pop("currency", None),
        **values,
    )
    for row in rows:
        order.read_issues.extend(row.issues)
        if row is not first and check_repeats:
            for name, column in order_columns.items():
                cell = row.cells.get(column)
                before = first.cells.get(column)
                if cell and before and cell != before:
                    order.read_issues.append(
                        Issue(
                            code="inconsistent",
                            where=Where(file, row.line),
                            field=name,
                            value=cell,
                            message=f"the order's first row (line {first.line}) says {before!r}",
                            external_id=order.external_id,
                        )
                    )
        line = {name: row.cells.get(column, "") for name, column in line_columns.items()}
        if any(line.values()):
            order.lines.append(RawLine(where=Where(file, row.line), **line))
    for issue in order.read_issues:
        issue.external_id = order.external_id
    return order
