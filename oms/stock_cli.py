"""``oms stock import FILE.csv``: absolute stock levels from a file, straight to the database.

    oms stock import levels.csv [--source NAME] [--skip-invalid] [--json]

The file has a header row naming ``warehouse_id,sku,on_hand,as_of`` (in any order) and one
level a line; ``as_of`` is an ISO 8601 date-time with its offset. Every row is checked first,
by the rules of ``POST /v1/stock/sync`` and against the warehouses that exist; a row that
fails is reported by its line number. With any such row nothing is applied and the exit
status is 1, unless ``--skip-invalid``, which applies the valid rows. They are applied in one
transaction by ``oms.stock_sync`` (stale and superseded levels ignored, a level below what
is reserved applied as reserved and alerted as a ``stock_shortfall``), then a summary is
printed: a progress bar on a terminal, the whole report by line with ``--json``. Exit 2 when
the file or the database cannot be used.

The database is ``DATABASE_URL`` (or ``oms dev``'s embedded one), as for ``oms migrate``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import re
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oms.settings import Settings
from oms.stock_sync import InvalidLevel, Level, Outcome, SyncReport, level_from

COLUMNS = ("warehouse_id", "sku", "on_hand", "as_of")
_WHOLE_NUMBER = re.compile(r"^[ \t]*[+-]?[0-9]+[ \t]*$")
_NOT_IN_SOURCE = re.compile(r"[^A-Za-z0-9._:\-]")

Tick = Callable[[int], None]


class StockImportError(RuntimeError):
    """The file or the database cannot be used at all (exit 2)."""


@dataclass
class CheckedFile:
    """The valid levels with their line numbers, and the rows refused with why."""

    levels: list[Level] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    invalid: list[Outcome] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.levels) + len(self.invalid)


@dataclass
class ImportResult:
    """What became of each row, by line; ``report`` is None when nothing was applied."""

    checked: CheckedFile
    report: SyncReport | None
    seconds: float

    @property
    def rejected(self) -> list[Outcome]:
        later = self.report.rejected if self.report else []
        return sorted([*self.checked.invalid, *later], key=lambda o: o["line"])


def check_row(row: list[str], at: list[int]) -> Level | str:
    """The level in a row, or why it is refused (the checks of ``POST /v1/stock/sync``)."""
    if len(row) != len(COLUMNS):
        return f"expected {len(COLUMNS)} fields, found {len(row)}"
    warehouse_id, sku, on_hand, as_of = (row[i] for i in at)
    if not _WHOLE_NUMBER.match(on_hand):
        return f"on_hand {on_hand!r}: not a whole number"
    raw = {"warehouse_id": warehouse_id, "sku": sku, "on_hand": int(on_hand), "as_of": as_of}
    try:
        return level_from(raw)
    except InvalidLevel as exc:
        return str(exc)


def read_levels(path: Path, tick: Tick | None = None) -> CheckedFile:
    """Every row of the file, checked; ``tick`` hears how many lines were read now and then."""
    checked = CheckedFile()
    try:
        f = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise StockImportError(f"{path}: {exc.strerror or exc}") from exc
    with f:
        reader = csv.reader(f)
        try:
            header = [name.strip() for name in next(reader, [])]
            if sorted(header) != sorted(COLUMNS):
                raise StockImportError(
                    f"{path}: the first line must name the columns {','.join(COLUMNS)} "
                    f"(found {','.join(header) or 'nothing'})"
                )
            at = [header.index(name) for name in COLUMNS]
            for row in reader:
                if tick is not None and reader.line_num % 5000 == 0:
                    tick(reader.line_num)
                if not any(cell.strip() for cell in row):
                    continue  # a blank line, e.g. at the end
                level = check_row(row, at)
                if isinstance(level, Level):
                    checked.levels.append(level)
                    checked.lines.append(reader.line_num)
                else:
                    value = ",".join(row)
                    value = value if len(value) <= 120 else value[:117] + "..."
                    checked.invalid.append(
                        {"line": reader.line_num, "reason": level, "value": value}
                    )
        except (csv.Error, UnicodeDecodeError) as exc:
            raise StockImportError(f"{path}, line {reader.line_num}: {exc}") from exc
    return checked


def _by_line(outcomes: list[Outcome], lines: list[int]) -> list[Outcome]:
    """Outcomes of the applied batch named by the file's line numbers, not batch indexes."""
    named = []
    for outcome in outcomes:
        rest = {k: v for k, v in outcome.items() if k != "index"}
        reason = rest.get("reason")
        if isinstance(reason, str) and reason.startswith("superseded by item "):
            later = int(reason.rsplit(" ", 1)[1])
            rest["reason"] = f"superseded by line {lines[later]}"
        named.append({"line": lines[outcome["index"]], **rest})
    return named


async def _refuse_unknown_warehouses(conn: Any, checked: CheckedFile) -> None:
    """Move the rows of warehouses that do not exist from the levels to the invalid rows."""
    from oms.store import warehouses

    ids = sorted({level.warehouse_id for level in checked.levels})
    known = await warehouses.known(conn, ids)
    if len(known) == len(ids):
        return
    keep = [i for i, level in enumerate(checked.levels) if level.warehouse_id in known]
    for i, level in enumerate(checked.levels):
        if level.warehouse_id not in known:
            reason = f"unknown warehouse {level.warehouse_id!r}"
            checked.invalid.append(
                {"line": checked.lines[i], "reason": reason, "value": level.warehouse_id}
            )
    checked.levels = [checked.levels[i] for i in keep]
    checked.lines = [checked.lines[i] for i in keep]
    checked.invalid.sort(key=lambda o: o["line"])


async def apply_checked(
    conn: Any, checked: CheckedFile, source: str, skip_invalid: bool, progress: Progress | None
) -> SyncReport | None:
    """Refuse the rows of unknown warehouses, then apply the levels in the caller's
    transaction, unless a row is invalid and ``skip_invalid`` is off (None then); outcomes
    by line."""
    from oms.stock_sync import apply_levels

    if checked.levels:
        await _refuse_unknown_warehouses(conn, checked)
    if not checked.levels or (checked.invalid and not skip_invalid):
        return None
    if progress:
        progress.applying(len(checked.levels))
    report = await apply_levels(conn, checked.levels, source)
    return SyncReport(
        applied=_by_line(report.applied, checked.lines),
        ignored=_by_line(report.ignored, checked.lines),
        rejected=_by_line(report.rejected, checked.lines),
    )


class Progress:
    """A progress bar on a terminal: the rows checked, then the batch being applied."""

    def __init__(self, path: Path) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as Bar

        with path.open("rb") as f:
            self._lines = sum(1 for _ in f)
        self._bar = Bar(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=True,
        )
        self._check = self._bar.add_task("checking rows", total=max(self._lines - 1, 0))
        self._apply: Any = None

    def __enter__(self) -> Progress:
        self._bar.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._bar.stop()

    def checked(self, line: int) -> None:
        self._bar.update(self._check, completed=min(line - 1, self._lines - 1))

    def applying(self, levels: int) -> None:
        self._bar.update(self._check, completed=self._lines - 1)
        self._apply = self._bar.add_task(f"applying {levels:,} levels", total=None)


def summary(result: ImportResult) -> str:
    rows = result.checked.rows
    rate = rows / result.seconds if result.seconds > 0 else 0.0
    rejected = result.rejected
    if result.report is None:
        what = "nothing applied" if rejected else "no rows"
        return f"{what}: {len(rejected):,} of {rows:,} rows rejected"
    report = result.report
    superseded = sum(1 for i in report.ignored if i["reason"].startswith("superseded"))
    stale = len(report.ignored) - superseded
    lines = [
        f"applied     {len(report.applied):>10,}",
        f"stale       {stale:>10,}  (ignored: as old as or older than the level held)",
        f"superseded  {superseded:>10,}  (ignored: a newer level in the file)",
        f"rejected    {len(rejected):>10,}",
        f"shortfalls  {len(report.shortfalls):>10,}  (applied as what is reserved; alerted)",
        f"{rows:,} rows in {result.seconds:.2f} s: {rate:,.0f} rows/s",
    ]
    return "\n".join(lines)


def as_json(result: ImportResult) -> dict[str, Any]:
    report = result.report or SyncReport()
    rows = result.checked.rows
    return {
        "rows": rows,
        "applied": report.applied,
        "ignored": report.ignored,
        "rejected": result.rejected,
        "seconds": round(result.seconds, 3),
        "rows_per_s": round(rows / result.seconds) if result.seconds > 0 else None,
    }


def default_source(path: Path) -> str:
    """``csv:<file name>``, with what a source name may not hold replaced by ``_``."""
    return ("csv:" + _NOT_IN_SOURCE.sub("_", path.name))[:128]


# Called in the import's transaction once the levels are applied (report None: nothing
# was), before it commits: what must be written with them or not at all.
InTransaction = Callable[[Any, SyncReport | None], Awaitable[None]]


async def apply_file(
    settings: Settings,
    checked: CheckedFile,
    source: str,
    skip_invalid: bool,
    progress: Progress | None = None,
    in_transaction: InTransaction | None = None,
) -> tuple[SyncReport | None, str | None]:
    """Apply a checked file on a connection of its own (``oms stock import`` and the
    console's import): the report (None when nothing was applied) and why alerting
    failed, if it did."""
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.ext.asyncio import create_async_engine

    from oms.alerts import AlertStore
    from oms.stock_sync import raise_shortfall_alerts

    # A big file is one long statement: no command timeout, unlike the services' engine.
    engine = create_async_engine(
        settings.async_database_url(),
        pool_size=1,
        hide_parameters=True,
        connect_args={"timeout": 5},
    )
    try:
        try:
            async with engine.begin() as conn:
                report = await apply_checked(conn, checked, source, skip_invalid, progress)
                if in_transaction is not None:
                    await in_transaction(conn, report)
        except (OSError, DBAPIError) as exc:
            raise StockImportError(f"the database cannot be used: {exc}") from exc
        if report is None:
            return None, None
        store = AlertStore(engine, settings.alert_webhook_url, settings.alert_webhook_secret)
        try:
            await raise_shortfall_alerts(store, report, source)
        except Exception as exc:  # e.g. the alert webhook refusing: the levels are applied
            return report, str(exc) or type(exc).__name__
        return report, None
    finally:
        await engine.dispose()


def _report(args: argparse.Namespace, result: ImportResult) -> None:
    if args.json:
        print(json.dumps(as_json(result), indent=2))
        return
    for row in result.rejected:
        sys.stderr.write(f"{args.file}:{row['line']}: {row['reason']}\n")
    print(summary(result))


def add_parser(sub: Any) -> None:
    stock = sub.add_parser("stock", help="stock levels: import a CSV file")
    actions = stock.add_subparsers(dest="stock_command", required=True)
    load = actions.add_parser(
        "import",
        help="apply absolute levels from a CSV file (warehouse_id,sku,on_hand,as_of)",
    )
    load.add_argument("file", help="a CSV file with the header warehouse_id,sku,on_hand,as_of")
    load.add_argument("--source", help="where the levels come from (default: csv:<file name>)")
    load.add_argument(
        "--skip-invalid", action="store_true", help="apply the valid rows when some are invalid"
    )
    load.add_argument("--json", action="store_true", help="print the whole report as JSON")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from oms.domain.text import IDENT_CORE
    from oms.logging import configure_logging

    configure_logging(settings.log_format, settings.log_level)  # to stderr: stdout is ours

    args.source = args.source or default_source(Path(args.file))
    if not re.fullmatch(IDENT_CORE, args.source):
        sys.stderr.write(f"error: --source must match {IDENT_CORE}\n")
        return 2
    path = Path(args.file)
    bar = Progress(path) if sys.stdout.isatty() and not args.json and path.is_file() else None
    try:
        with bar or nullcontext():
            started = time.perf_counter()
            checked = read_levels(path, bar.checked if bar else None)
            report, alert_error = asyncio.run(
                apply_file(settings, checked, args.source, args.skip_invalid, bar)
            )
    except StockImportError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    _report(args, ImportResult(checked, report, time.perf_counter() - started))
    if alert_error:
        sys.stderr.write(f"error: the levels are applied, but alerting failed: {alert_error}\n")
        return 1
    return 1 if checked.invalid and not args.skip_invalid else 0
