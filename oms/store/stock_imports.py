"""``stock_imports``: the CSV imports started from the console, their progress and report.

A row is made when the file is taken (``checking``), moves to ``applying`` when every row
is checked, and is finished (``done``, with its counts and report) in the transaction that
applies the levels, or marked ``failed`` with why. While an import runs, its process
writes ``rows_done`` and ``updated_at`` every second; a row left unfinished whose
``updated_at`` stops moving was ended with its process, and applied nothing.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_COLUMNS = (
    "id, created_at, created_by, file_name, source, skip_invalid, note, status, rows_total, "
    "rows_done, applied, stale, superseded, rejected, shortfalls, report, error, updated_at, "
    "finished_at"
)
_CREATE = text(
    """
    INSERT INTO stock_imports (created_by, file_name, source, skip_invalid, note, status,
                               rows_total)
    VALUES (:by, :file_name, :source, :skip_invalid, :note, 'checking', :rows_total)
    RETURNING id
    """
)
_PROGRESS = text(
    """
    UPDATE stock_imports SET status = :status, rows_done = :rows_done, updated_at = now()
    WHERE id = :id AND finished_at IS NULL
    """
)
_FINISH = text(
    """
    UPDATE stock_imports
       SET status = :status, rows_done = :rows_done, applied = :applied, stale = :stale,
           superseded = :superseded, rejected = :rejected, shortfalls = :shortfalls,
           report = CAST(:report AS jsonb), error = :error, updated_at = now(),
           finished_at = now()
     WHERE id = :id AND finished_at IS NULL
    """
)
_ALERTING_FAILED = text(
    """
    UPDATE stock_imports
       SET report = jsonb_set(report, '{alert_error}', to_jsonb(CAST(:error AS text)))
     WHERE id = :id
    """
)
_ONE = text(f"SELECT {_COLUMNS} FROM stock_imports WHERE id = :id")
_RECENT = text(f"SELECT {_COLUMNS} FROM stock_imports ORDER BY id DESC LIMIT :limit")


async def create(
    engine: AsyncEngine,
    by: str,
    file_name: str,
    source: str,
    skip_invalid: bool,
    note: str | None,
    rows_total: int,
) -> int:
    params = {
        "by": by,
        "file_name": file_name,
        "source": source,
        "skip_invalid": skip_invalid,
        "note": note,
        "rows_total": rows_total,
    }
    async with engine.begin() as conn:
        return int((await conn.execute(_CREATE, params)).scalar_one())


async def progress(engine: AsyncEngine, import_id: int, status: str, rows_done: int) -> None:
    """How far the import is (and that its process is alive)."""
    params = {"id": import_id, "status": status, "rows_done": rows_done}
    async with engine.begin() as conn:
        await conn.execute(_PROGRESS, params)


async def finish(
    conn: AsyncConnection,
    import_id: int,
    status: str,
    counts: dict[str, int],
    report: dict[str, Any],
    error: str | None = None,
) -> None:
    """The import's end, in the caller's transaction (the one applying its levels)."""
    params = {
        "id": import_id,
        "status": status,
        "rows_done": counts.get("rows_done", 0),
        "applied": counts.get("applied", 0),
        "stale": counts.get("stale", 0),
        "superseded": counts.get("superseded", 0),
        "rejected": counts.get("rejected", 0),
        "shortfalls": counts.get("shortfalls", 0),
        "report": json.dumps(report, default=str),
        "error": error,
    }
    await conn.execute(_FINISH, params)


async def failed(engine: AsyncEngine, import_id: int, error: str) -> None:
    async with engine.begin() as conn:
        await finish(conn, import_id, "failed", {}, {}, error)


async def alerting_failed(engine: AsyncEngine, import_id: int, error: str) -> None:
    """The levels are applied, but their shortfall alerts could not be raised."""
    async with engine.begin() as conn:
        await conn.execute(_ALERTING_FAILED, {"id": import_id, "error": error})


async def one(engine: AsyncEngine, import_id: int) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(_ONE, {"id": import_id})).first()


async def recent(engine: AsyncEngine, limit: int = 10) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(_RECENT, {"limit": limit})).all())
