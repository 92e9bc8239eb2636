"""Stock levels from a CSV file, imported in the background of the API process (the
console's stock page): the file, the rules and the code of ``oms stock import``
(``oms.stock_cli``), with its progress and report kept in ``stock_imports``.

The rows are read and checked in a thread (the event loop goes on serving), then applied
in one transaction on a connection of the import's own, without the services' statement
timeout, like the command's. The ``stock_imports`` row is finished in that transaction: a
process that ends midway leaves the levels untouched and the row unfinished, and the page
shows it as interrupted once its ``updated_at`` has stopped moving for ``STALE_S``.
"""

from __future__ import annotations

import asyncio
import csv
import time
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from oms.logging import get_logger
from oms.settings import Settings
from oms.stock_cli import (
    COLUMNS,
    CheckedFile,
    ImportResult,
    StockImportError,
    apply_file,
    read_levels,
)
from oms.stock_sync import SyncReport
from oms.store import stock_imports, users

log = get_logger(__name__)

# How often a running import writes its progress; after how long without it the import
# is taken as ended with its process.
BEAT_S = 1.0
STALE_S = 30.0
# How much of each list the stored report keeps (the counts are whole).
KEEP_REJECTED = 1000
KEEP_OTHER = 200

# The imports this process runs: held here so that none is collected while it runs.
_RUNNING: set[asyncio.Task[None]] = set()


def check_file(path: Path) -> tuple[int, str | None]:
    """The number of rows after the header, and why the file cannot be imported at all
    (None when it can): read before the import starts, so the page says it at once."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            header = [name.strip() for name in next(csv.reader(f), [])]
            rows = sum(1 for _ in f)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return 0, f"the file cannot be read: {exc}"
    if sorted(header) != sorted(COLUMNS):
        found = ",".join(header) or "nothing"
        return 0, f"the first line must name the columns {','.join(COLUMNS)} (found {found})"
    return rows, None


def counts_of(result: ImportResult) -> dict[str, int]:
    report = result.report or SyncReport()
    superseded = sum(1 for i in report.ignored if i["reason"].startswith("superseded"))
    return {
        "rows_done": result.checked.rows,
        "applied": len(report.applied),
        "stale": len(report.ignored) - superseded,
        "superseded": superseded,
        "rejected": len(result.rejected),
        "shortfalls": len(report.shortfalls),
    }


def report_of(result: ImportResult, alert_error: str | None = None) -> dict[str, Any]:
    """What the page shows at the end: the rows refused (line, value, why), the ignored,
    the shortfalls and the first levels applied; each list cut to a few hundred."""
    report = result.report or SyncReport()
    rejected = result.rejected
    return {
        "nothing_applied": result.report is None and result.checked.rows > 0,
        "seconds": round(result.seconds, 3),
        "rejected": rejected[:KEEP_REJECTED],
        "ignored": report.ignored[:KEEP_OTHER],
        "shortfalls": report.shortfalls[:KEEP_OTHER],
        "applied": report.applied[:KEEP_OTHER],
        "cut": {
            "rejected": max(0, len(rejected) - KEEP_REJECTED),
            "ignored": max(0, len(report.ignored) - KEEP_OTHER),
            "shortfalls": max(0, len(report.shortfalls) - KEEP_OTHER),
            "applied": max(0, len(report.applied) - KEEP_OTHER),
        },
        "alert_error": alert_error,
    }


class _Beat:
    """Writes the import's phase and rows done every ``BEAT_S`` until stopped."""

    def __init__(self, engine: AsyncEngine, import_id: int) -> None:
        self.engine = engine
        self.import_id = import_id
        self.status = "checking"
        self.rows_done = 0
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    def tick(self, line: int) -> None:  # called from the reading thread
        self.rows_done = max(0, line - 1)

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await stock_imports.progress(
                    self.engine, self.import_id, self.status, self.rows_done
                )
            except Exception as exc:  # the database away for a moment: the next beat
                log.warning("stock_import_progress_failed", error=str(exc)[:200])
            try:
                await asyncio.wait_for(self._stop.wait(), BEAT_S)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        self._stop.set()
        await self._task


async def run_import(
    engine: AsyncEngine,
    settings: Settings,
    import_id: int,
    path: Path,
    source: str,
    skip_invalid: bool,
    by: str,
) -> None:
    """Read, check and apply the file, keeping ``stock_imports`` up to date; the file is
    removed at the end. Never raises: a failure is the import's ``failed`` status."""
    beat = _Beat(engine, import_id)
    outcome = "failed"
    detail: dict[str, Any] = {"source": source}
    try:
        started = time.perf_counter()
        checked: CheckedFile = await asyncio.to_thread(read_levels, path, beat.tick)
        beat.status, beat.rows_done = "applying", checked.rows

        async def finish(conn: Any, report: SyncReport | None) -> None:
            await beat.stop()  # the row is written here now, in the import's transaction
            result = ImportResult(checked, report, time.perf_counter() - started)
            await stock_imports.finish(
                conn, import_id, "done", counts_of(result), report_of(result)
            )
            detail.update(counts_of(result))

        _, alert_error = await apply_file(
            settings, checked, source, skip_invalid, in_transaction=finish
        )
        outcome = "done"
        if alert_error:
            # The levels are applied; the report says the shortfall alerts were not raised.
            await stock_imports.alerting_failed(engine, import_id, alert_error[:2000])
            detail["alert_error"] = alert_error
    except StockImportError as exc:
        await _failed(engine, import_id, str(exc))
        detail["error"] = str(exc)
    except Exception as exc:
        log.exception("stock_import_failed", import_id=import_id)
        await _failed(engine, import_id, f"{type(exc).__name__}: {exc}")
        detail["error"] = str(exc)[:500]
    finally:
        await beat.stop()
        await asyncio.to_thread(path.unlink, missing_ok=True)
    try:
        await users.audit(
            engine, by, "stock_import", f"stock_import:{import_id}", outcome, None, detail
        )
    except Exception as exc:
        log.warning("stock_import_not_audited", import_id=import_id, error=str(exc)[:200])


async def _failed(engine: AsyncEngine, import_id: int, error: str) -> None:
    try:
        await stock_imports.failed(engine, import_id, error[:2000])
    except Exception as exc:
        log.warning("stock_import_failure_not_recorded", import_id=import_id, error=str(exc))


def start_import(
    engine: AsyncEngine,
    settings: Settings,
    import_id: int,
    path: Path,
    source: str,
    skip_invalid: bool,
    by: str,
) -> asyncio.Task[None]:
    """Run the import as a task of this process's event loop."""
    task = asyncio.create_task(
        run_import(engine, settings, import_id, path, source, skip_invalid, by),
        name=f"stock-import-{import_id}",
    )
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    return task


def running() -> int:
    """How many imports this process is running."""
    return len(_RUNNING)
