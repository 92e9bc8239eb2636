"""Any CSV through a mapping file (``--format MAPPING.yaml``): which column holds each of
our fields, constant values, the status words, the date shapes, the encoding, the
delimiter and the decimal comma. An example and every key in docs/migration.md:

    encoding: gbk                 # optional: detected otherwise (UTF-8, else GB 18030)
    delimiter: ";"                # optional: ","
    decimal_comma: true           # optional: "12,50" is 12.50 (and 1.234,50 is 1234.50)
    date_format: ["%d.%m.%Y %H:%M", "%d.%m.%Y"]   # optional: ISO 8601
    timezone: Europe/Berlin       # optional: the zone of times without an offset
    subtotal_after_discount: false
    order_key: Belegnummer        # optional: the rows of one order (default: external_id's)
    columns: {external_id: Belegnummer, status: Status, sku: Artikel, ...}
    constants: {currency: EUR, ship_country: DE}
    statuses: {Offen: paid, Versendet: dispatched, Erledigt: delivered, Neu: unpaid}

Our fields are the canonical format's columns (``oms.imports.formats.canonical``).
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from oms.imports.dialect import Dialect, status_table
from oms.imports.formats.canonical import LINE_COLUMNS, ORDER_COLUMNS
from oms.imports.formats.csvfile import FileProblem, Table, file_issue
from oms.imports.formats.grouping import build, groups
from oms.imports.model import ImportStatus, Issue, RawOrder

KEYS = frozenset(
    {
        "encoding",
        "delimiter",
        "decimal_comma",
        "date_format",
        "timezone",
        "subtotal_after_discount",
        "order_key",
        "columns",
        "constants",
        "statuses",
    }
)
FIELDS = frozenset(ORDER_COLUMNS) | frozenset(LINE_COLUMNS.values())
TARGETS = {s.value for s in ImportStatus} | {"unpaid"}


class MappingFileError(ValueError):
    """The mapping file cannot be used (exit 2): the message names the key."""


def _zone(value: str) -> tzinfo:
    if value in ("UTC", "Z"):
        return UTC
    if value[:1] in "+-":
        try:
            offset = datetime.strptime(value, "%z").utcoffset()
        except ValueError:
            raise MappingFileError(f"timezone: not an offset such as +08:00: {value!r}") from None
        return timezone(offset or timedelta(0))
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise MappingFileError(f"timezone: unknown zone {value!r}") from None


def _strings(spec: dict[str, Any], key: str) -> dict[str, str]:
    value = spec.get(key) or {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int | float) and not isinstance(v, bool)
        for k, v in value.items()
    ):
        raise MappingFileError(f"{key}: must map names to text values")
    return {k: str(v) for k, v in value.items()}


class Mapping:
    name = "mapping"

    def __init__(self, spec: dict[str, Any], source: bytes, path: Path) -> None:
        unknown = sorted(set(spec) - KEYS)
        if unknown:
            raise MappingFileError(
                f"unknown keys {', '.join(unknown)} (known: {', '.join(sorted(KEYS))})"
            )
        self.path = path
        self._source = source
        self.columns = _strings(spec, "columns")
        self.constants = _strings(spec, "constants")
        for key, names in (("columns", self.columns), ("constants", self.constants)):
            wrong = sorted(set(names) - FIELDS)
            if wrong:
                raise MappingFileError(f"{key}: not our fields: {', '.join(wrong)}")
        both = sorted(set(self.columns) & set(self.constants))
        if both:
            raise MappingFileError(f"{', '.join(both)}: a column and a constant at once")
        for needed in ("external_id", "sku", "quantity", "unit_price"):
            if needed not in self.columns:
                raise MappingFileError(f"columns: {needed} must name a column")
        statuses = _strings(spec, "statuses")
        wrong = sorted(v for v in statuses.values() if v not in TARGETS)
        if wrong:
            raise MappingFileError(
                f"statuses: {', '.join(wrong)} is not one of {', '.join(sorted(TARGETS))}"
            )
        if not statuses and "status" not in self.constants:
            statuses = {s.value: s.value for s in ImportStatus}
        self.encoding = spec.get("encoding")
        if self.encoding is not None:
            try:
                codecs.lookup(str(self.encoding))
            except LookupError:
                raise MappingFileError(f"encoding: unknown {self.encoding!r}") from None
        self.delimiter = str(spec.get("delimiter", ","))
        if len(self.delimiter) != 1:
            raise MappingFileError("delimiter: one character (\\t for a tab)")
        formats = spec.get("date_format") or []
        formats = [formats] if isinstance(formats, str) else formats
        if not isinstance(formats, list) or not all(isinstance(x, str) for x in formats):
            raise MappingFileError("date_format: a strptime shape or a list of them")
        zone = spec.get("timezone")
        self.order_key = str(spec.get("order_key") or self.columns["external_id"])
        self.dialect = Dialect(
            name=f"mapping {path.name}",
            status_of=status_table(
                {k: (None if v == "unpaid" else ImportStatus(v)) for k, v in statuses.items()},
                f"mapping {path.name}",
            ),
            date_formats=tuple(formats),
            naive=_zone(str(zone)) if zone else None,
            subtotal_after_discount=bool(spec.get("subtotal_after_discount", False)),
            decimal_comma=bool(spec.get("decimal_comma", False)),
            statuses=tuple(statuses),
        )

    @classmethod
    def load(cls, path: Path) -> Mapping:
        try:
            source = path.read_bytes()
        except OSError as exc:
            raise MappingFileError(f"{path}: {exc.strerror or exc}") from exc
        try:
            spec = yaml.safe_load(source)
        except yaml.YAMLError as exc:
            raise MappingFileError(f"{path}: not YAML: {exc}") from exc
        if not isinstance(spec, dict):
            raise MappingFileError(f"{path}: must be a mapping of keys (columns, statuses, ...)")
        try:
            return cls(spec, source, path)
        except MappingFileError as exc:
            raise MappingFileError(f"{path}: {exc}") from exc

    def fingerprint(self) -> bytes:
        return hashlib.sha256(self._source).digest()

    def read(self, paths: Sequence[Path]) -> Iterator[RawOrder | Issue]:
        lines = {k: self.columns[v] for k, v in LINE_COLUMNS.items() if v in self.columns}
        order_columns = {k: v for k, v in self.columns.items() if k in ORDER_COLUMNS}
        for path in paths:
            try:
                table = Table(path, encoding=self.encoding, delimiter=self.delimiter)
            except FileProblem as problem:
                yield problem.issue
                continue
            with table:
                missing = sorted({*self.columns.values(), self.order_key} - set(table.header))
                if missing:
                    yield file_issue(
                        path, f"the header lacks the mapped columns {', '.join(missing)}"
                    )
                    continue
                for rows in groups(table.rows(), self.order_key):
                    order = build(table.name, rows, order_columns, lines)
                    for name, value in self.constants.items():
                        if name in ORDER_COLUMNS:
                            setattr(order, name, value)
                        else:
                            line_field = next(k for k, v in LINE_COLUMNS.items() if v == name)
                            for line in order.lines:
                                setattr(line, line_field, value)
                    yield order
