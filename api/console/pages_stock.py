"""Stock: levels per warehouse and SKU with what is reserved, available and backordered,
the last level each source applied, a pair's last movements, and the import of a CSV file
of levels (the format and code of ``oms stock import``), run in the background of the API
process with its progress and report kept in ``stock_imports``."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from api.console.web import ActorDep, UserDep, flash, render
from oms.domain.text import IDENT_CORE
from oms.stock_cli import default_source
from oms.stock_import import STALE_S, check_file, start_import
from oms.store import stock_imports, stock_view, warehouses
from oms.store import users as user_store

router = APIRouter(prefix="/console/stock", include_in_schema=False)
PAGE = 50
IMPORT_PATH = "/console/stock/imports"
FINISHED = ("done", "failed")


@router.get("")
async def stock_page(
    request: Request,
    user: UserDep,
    warehouse: Annotated[str | None, Query(max_length=64)] = None,
    sku: Annotated[str | None, Query(max_length=64)] = None,
    short: Annotated[bool, Query()] = False,
    after_sku: Annotated[str | None, Query(max_length=64)] = None,
    after_warehouse: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    engine = request.app.state.engine
    warehouse = warehouse or None
    prefix = (sku or "").strip() or None
    after = (after_sku, after_warehouse or "") if after_sku else None
    rows = await stock_view.levels(engine, warehouse, prefix, short, after, PAGE + 1)
    page, more = rows[:PAGE], len(rows) > PAGE
    imports = await stock_imports.recent(engine, 10)
    now = datetime.now(UTC)
    return render(
        request,
        user,
        "stock.html",
        rows=page,
        more=more,
        warehouse=warehouse or "",
        sku=prefix or "",
        short=short,
        warehouses=await warehouses.all_warehouses(engine),
        sources=await stock_view.sources(engine),
        imports=[_import_view(i, now) for i in imports],
        next_after=(page[-1].sku, page[-1].warehouse_id) if more else None,
    )


@router.get("/history")
async def history(
    request: Request,
    user: UserDep,
    warehouse: Annotated[str, Query(min_length=1, max_length=64)],
    sku: Annotated[str, Query(min_length=1, max_length=64)],
) -> Response:
    """The pair's last movements: a part of the stock page, or a page of its own."""
    engine = request.app.state.engine
    movements = await stock_view.movements(engine, warehouse, sku, 20)
    template = "_stock_history.html" if request.headers.get("hx-request") else "stock_history.html"
    return render(request, user, template, warehouse=warehouse, sku=sku, movements=movements)


def _import_view(row: Any, now: datetime) -> dict[str, Any]:
    view = dict(row._mapping)
    status = row.status
    if status not in FINISHED and (now - row.updated_at).total_seconds() > STALE_S:
        status = "interrupted"  # its process ended: nothing was applied
    view["state"] = status
    view["running"] = status in ("checking", "applying")
    total = max(row.rows_total, 1)
    view["percent"] = min(100, round(100 * row.rows_done / total))
    return view


@router.get("/imports/{import_id}")
async def import_status(
    request: Request, user: UserDep, import_id: Annotated[int, Path(ge=1, le=2**62)]
) -> Response:
    """An import's progress (htmx polls it while it runs) and, at the end, its report."""
    row = await stock_imports.one(request.app.state.engine, import_id)
    if row is None:
        return flash(request, "Not found", 404)
    view = _import_view(row, datetime.now(UTC))
    template = "_import_progress.html" if request.headers.get("hx-request") else "stock_import.html"
    return render(request, user, template, job=view)


_SOURCE = re.compile(IDENT_CORE)


@router.post("/imports")
async def import_file(request: Request, user: ActorDep) -> Response:
    """Take the file, check its header, record the import and start it; the answer is its
    progress (a part for htmx, else the import's page)."""
    engine = request.app.state.engine
    form = await request.form()
    note = str(form.get("note") or "").strip()[:2000]
    upload = form.get("file")
    if not note:
        return flash(request, "A note is required.", 422)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return flash(request, "Choose a CSV file to import.", 422)
    file_name = os.path.basename(upload.filename)[:200]
    source = str(form.get("source") or "").strip() or default_source(FilePath(file_name))
    if not _SOURCE.fullmatch(source):
        return flash(
            request, "The source may hold letters, digits and . _ : - only (128 at most).", 422
        )
    skip_invalid = form.get("skip_invalid") in ("1", "on", "true")
    path = await asyncio.to_thread(_keep, upload)
    rows, why = await asyncio.to_thread(check_file, path)
    if why is not None:
        path.unlink(missing_ok=True)
        await user_store.audit(
            engine, user.name, "stock_import", None, "refused", note, {"file": file_name}
        )
        return flash(
            request,
            "The file cannot be imported: it must be a CSV file in UTF-8 whose first line "
            "names the columns warehouse_id,sku,on_hand,as_of.",
            422,
        )
    import_id = await stock_imports.create(
        engine, user.name, file_name, source, skip_invalid, note, rows
    )
    await user_store.audit(
        engine,
        user.name,
        "stock_import",
        f"stock_import:{import_id}",
        "started",
        note,
        {"file": file_name, "source": source, "rows": rows, "skip_invalid": skip_invalid},
    )
    start_import(
        engine, request.app.state.settings, import_id, path, source, skip_invalid, user.name
    )
    if not request.headers.get("hx-request"):
        return RedirectResponse(f"/console/stock/imports/{import_id}", status_code=303)
    row = await stock_imports.one(engine, import_id)
    return render(request, user, "_import_progress.html", job=_import_view(row, datetime.now(UTC)))


def _keep(upload: UploadFile) -> FilePath:
    """The upload copied to a file of its own, which the import removes when done."""
    fd, name = tempfile.mkstemp(prefix="oms-stock-import-", suffix=".csv")
    with os.fdopen(fd, "wb") as out:
        upload.file.seek(0)
        shutil.copyfileobj(upload.file, out, 1 << 20)
    return FilePath(name)
