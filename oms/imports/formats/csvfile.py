"""A CSV export read row by row, whatever its encoding, with each row's line number.

The encoding is detected from the file's first 64 KiB unless given: a UTF-8 byte order
mark, else UTF-8 if those bytes are UTF-8, else GB 18030 (which reads GBK, the encoding of
Chinese exports, and more). Bytes that are not text in that encoding do not stop the
file: the cell keeps them escaped and the row carries an ``encoding`` issue naming the
column. Cells are stripped of spaces and tabs, and Excel's guard against eating digits
(``="0123"``) is read as the value inside.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from oms.imports.model import Issue, Where

SAMPLE_BYTES = 64 * 1024
ESCAPED = re.compile("[\udc80-\udcff]")


@dataclass
class Row:
    line: int  # the row's first line in the file (the header is line 1)
    last_line: int
    cells: dict[str, str]
    issues: list[Issue] = field(default_factory=list)


class FileProblem(Exception):
    """The file cannot be read at all (it does not exist, it has no header, ...)."""

    def __init__(self, issue: Issue) -> None:
        super().__init__(issue.message)
        self.issue = issue


def file_issue(
    path: Path | str,
    message: str,
    *,
    code: str = "file_format",
    line: int = 1,
    field_name: str = "",
    value: str = "",
) -> Issue:
    return Issue(
        code=code, where=Where(str(path), line), field=field_name, value=value, message=message
    )


def detect_encoding(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(SAMPLE_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3 and len(head) == SAMPLE_BYTES:
            return "utf-8"  # a character cut at the end of the sample
    return "gb18030"


def clean(cell: str) -> str:
    cell = cell.strip()
    if cell[:2] == '="' and cell[-1] == '"' and len(cell) >= 3:
        return cell[2:-1].strip()
    return cell


class Table:
    """The header and the rows of one CSV file."""

    def __init__(self, path: Path, *, encoding: str | None = None, delimiter: str = ",") -> None:
        self.path = path
        self.name = str(path)
        try:
            self.encoding = _codec(encoding) if encoding else detect_encoding(path)
            self._file = path.open(encoding=self.encoding, errors="surrogateescape", newline="")
        except OSError as exc:
            raise FileProblem(
                file_issue(path, f"cannot read the file: {exc.strerror or exc}", line=0)
            ) from exc
        except LookupError as exc:
            raise FileProblem(file_issue(path, f"unknown encoding {encoding!r}", line=0)) from exc
        self._reader = csv.reader(self._file, delimiter=delimiter)
        try:
            first = next(self._reader, None)
        except csv.Error as exc:
            self._file.close()
            raise FileProblem(file_issue(path, f"not a CSV file: {exc}")) from exc
        if not first or not any(c.strip() for c in first):
            self._file.close()
            raise FileProblem(file_issue(path, "the file is empty: it needs a header row"))
        self.header = [clean(c).lstrip("\ufeff") for c in first]
        if any(ESCAPED.search(c) for c in self.header):
            self._file.close()
            raise FileProblem(
                file_issue(
                    path,
                    f"the header is not text in {self.encoding}: give --encoding",
                    code="encoding",
                )
            )

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def rows(self) -> Iterator[Row]:
        header = self.header
        width = len(header)
        reader = self._reader
        last = reader.line_num
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                line = last + 1
                last = reader.line_num
                yield Row(
                    line, last, {}, [file_issue(self.name, f"unreadable row: {exc}", line=line)]
                )
                continue
            line, last = last + 1, reader.line_num
            if not cells or not any(c.strip() for c in cells):
                continue  # a blank line
            # empty cells are left out: a column absent from a row reads as ""
            cleaned = {h: clean(c) for h, c in zip(header, cells, strict=False) if c}
            row = Row(line, last, cleaned)
            if len(cells) != width:
                row.issues.append(
                    file_issue(
                        self.name,
                        f"expected {width} fields as in the header, found {len(cells)}",
                        line=line,
                    )
                )
            if ESCAPED.search("".join(cells)):
                for name, value in row.cells.items():
                    if ESCAPED.search(value):
                        shown = value.encode("utf-8", "surrogateescape").decode(
                            "utf-8", "backslashreplace"
                        )
                        row.cells[name] = ""
                        row.issues.append(
                            file_issue(
                                self.name,
                                f"bytes that are not {self.encoding} text",
                                code="encoding",
                                line=line,
                                field_name=name,
                                value=shown,
                            )
                        )
            yield row


def _codec(name: str) -> str:
    found = codecs.lookup(name).name
    return "utf-8-sig" if found == "utf-8" else found
