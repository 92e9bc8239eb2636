"""The console's stock page: levels as the database holds them, backordered demand, a
pair's movements, and the CSV import from the page (progress, report of bad lines by line
number, levels applied by the rules of ``oms stock import``), refused to a viewer and to a
post without the session's CSRF token."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from oms.store import users as user_store
from tests.conftest import System, custom_stack
from tests.integration.console_helpers import Console, console_as
from tests.integration.helpers import (
    add_warehouse,
    order_body,
    set_stock,
    stocked,
    submit,
    unique,
    wait_for_status,
)

_ROW = re.compile(r"<tr data-warehouse=\"([^\"]+)\" data-sku=\"([^\"]+)\"([^>]*)>")


def rows_of(html: str) -> dict[tuple[str, str], dict[str, str]]:
    """Each stock row of the page: (warehouse, sku) -> its data-* attributes."""
    found = {}
    for match in _ROW.finditer(html):
        attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', match.group(3)))
        found[(match.group(1), match.group(2))] = attrs
    return found


async def _db_row(system: System, warehouse: str, sku: str) -> Any:
    async with system.engine.connect() as conn:
        return (
            await conn.execute(
                text(
                    "SELECT on_hand, reserved, as_of, source FROM stock "
                    "WHERE warehouse_id = :w AND sku = :s"
                ),
                {"w": warehouse, "s": sku},
            )
        ).one()


@pytest.fixture(scope="module")
async def shop(system: System) -> AsyncIterator[httpx.AsyncClient]:
    """An API whose channels wait for stock as backorders."""
    async with custom_stack(system, "console-stock", {}, shortage="default:backorder") as http:
        yield http


async def test_the_levels_shown_are_the_database_s_with_the_backordered_demand(system, admin, shop):
    # A SKU in two warehouses, some of it reserved by an order, and a SKU short of what
    # backordered orders wait for.
    prefix = unique("CS")
    wh_a = await add_warehouse(admin, priority=1)
    wh_b = await add_warehouse(admin, priority=2)
    sku = f"{prefix}-A"
    short_sku = f"{prefix}-B"
    await set_stock(admin, wh_a, sku, 10)
    await set_stock(admin, wh_b, sku, 4)
    await set_stock(admin, wh_a, short_sku, 0)
    reserved = await submit(shop, order_body([(sku, 3)]))
    waiting = await submit(shop, order_body([(short_sku, 5)]))
    await wait_for_status(shop, waiting["id"], {"backordered"})
    await wait_for_status(shop, reserved["id"], {"reserved", "dispatched", "shipped", "delivered"})

    async with console_as(system, "viewer") as console:
        page = await console.http.get("/console/stock", params={"sku": prefix})
        assert page.status_code == 200, page.text
        shown = rows_of(page.text)
        assert set(shown) == {(wh_a, sku), (wh_b, sku), (wh_a, short_sku)}
        for (warehouse, the_sku), attrs in shown.items():
            db = await _db_row(system, warehouse, the_sku)
            assert int(attrs["on-hand"]) == db.on_hand
            assert int(attrs["reserved"]) == db.reserved
            assert int(attrs["available"]) == db.on_hand - db.reserved
        assert shown[(wh_a, short_sku)]["backordered"] == "5"
        assert shown[(wh_a, short_sku)]["short"] == "true"
        assert shown[(wh_a, sku)]["backordered"] == "0" and "short" not in shown[(wh_a, sku)]

        # Filters: a warehouse, and the short SKUs only.
        page = await console.http.get("/console/stock", params={"sku": prefix, "warehouse": wh_b})
        assert set(rows_of(page.text)) == {(wh_b, sku)}
        page = await console.http.get("/console/stock", params={"sku": prefix, "short": "true"})
        assert set(rows_of(page.text)) == {(wh_a, short_sku)}

        # The pair's movements, as a part of the page for htmx and as a page of its own.
        part = await console.http.get(
            "/console/stock/history",
            params={"warehouse": wh_a, "sku": sku},
            headers={"HX-Request": "true"},
        )
        assert part.status_code == 200 and "<html" not in part.text
        kinds = re.findall(r'data-kind="([a-z_]+)"', part.text)
        assert kinds[-1] == "set" and "reserve" in kinds
        whole = await console.http.get(
            "/console/stock/history", params={"warehouse": wh_a, "sku": sku}
        )
        assert "<html" in whole.text and 'data-kind="set"' in whole.text


async def test_pages_follow_on_from_the_last_row(system, admin):
    prefix = unique("PG")
    warehouse = await add_warehouse(admin)
    skus = [f"{prefix}-{n:03d}" for n in range(55)]
    for sku in skus:
        await set_stock(admin, warehouse, sku, 1)
    async with console_as(system, "operator") as console:
        first = await console.http.get("/console/stock", params={"sku": prefix})
        shown = [s for _, s in rows_of(first.text)]
        assert shown == skus[:50]
        more = re.search(r'id="stock-next" href="([^"]+)"', first.text)
        assert more
        second = await console.http.get("/console/stock" + more.group(1).replace("&amp;", "&"))
        assert [s for _, s in rows_of(second.text)] == skus[50:]
        assert 'id="stock-next"' not in second.text


def _csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


async def _upload(
    console: Console, content: bytes, note: str = "stock take", **fields: str
) -> httpx.Response:
    return await console.http.post(
        "/console/stock/imports",
        data={"csrf_token": console.csrf, "note": note, **fields},
        files={"file": ("levels.csv", content, "text/csv")},
        headers={"HX-Request": "true"},
    )


async def _finished(console: Console, import_id: str, within: float = 30) -> str:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        part = await console.http.get(
            f"/console/stock/imports/{import_id}", headers={"HX-Request": "true"}
        )
        assert part.status_code == 200
        status = re.search(r'id="import-progress"[^>]*data-status="([a-z]+)"', part.text)
        assert status
        if status.group(1) in ("done", "failed", "interrupted"):
            return part.text
        assert 'hx-trigger="every 1s"' in part.text  # still polled
        await asyncio.sleep(0.2)
    raise AssertionError(f"import {import_id} did not finish")


async def test_an_import_from_the_page_applies_the_good_lines_and_reports_the_bad_ones(
    system, admin
):
    warehouse, kept = await stocked(admin, 7)
    sku = unique("IMP")
    old = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    now = datetime.now(UTC).isoformat()
    content = _csv(
        "warehouse_id,sku,on_hand,as_of",
        f"{warehouse},{sku},12,{now}",  # line 2: applied
        f"{warehouse},{sku}-2,lots,{now}",  # line 3: not a number
        f"no-such-wh,{sku},3,{now}",  # line 4: unknown warehouse
        f"{warehouse},{kept},5,{now}",  # line 5: applied over the set level
        f"{warehouse},{sku}-3,4",  # line 6: a field missing
        f"{warehouse},{sku},99,{old}",  # line 7: older than line 2's level: superseded
    )
    async with console_as(system, "operator") as console:
        answer = await _upload(console, content, skip_invalid="1")
        assert answer.status_code == 200, answer.text
        assert 'id="import-progress"' in answer.text
        import_id = re.search(r'data-import="(\d+)"', answer.text).group(1)  # type: ignore[union-attr]
        report = await _finished(console, import_id)

    assert 'data-status="done"' in report
    assert 'id="import-report"' in report
    assert 'data-applied="2"' in report and 'data-rejected="3"' in report
    assert 'data-superseded="1"' in report
    assert re.search(r'<tr data-line="7">.*?superseded by line 2', report, re.S)
    bad = re.findall(
        r'<tr data-line="(\d+)"><td class="num">\d+</td><td><code>([^<]*)</code>'
        r"</td><td>([^<]*)</td>",
        report,
    )
    assert [int(line) for line, _, _ in bad] == [3, 4, 6]
    assert "lots" in bad[0][1] and "not a whole number" in bad[0][2]
    assert "no-such-wh" in bad[1][1] and "unknown warehouse" in bad[1][2]
    assert "expected 4 fields" in bad[2][2]
    assert re.search(r'data-rows-done="6" data-rows-total="6"', report)
    assert (await _db_row(system, warehouse, sku)).on_hand == 12
    kept_row = await _db_row(system, warehouse, kept)
    assert kept_row.on_hand == 5 and kept_row.source == "csv:levels.csv"

    # The same file again changes nothing: every level is as old as the one held (stale).
    async with console_as(system, "admin") as console:
        again = await _upload(console, content, skip_invalid="1")
        import_id = re.search(r'data-import="(\d+)"', again.text).group(1)  # type: ignore[union-attr]
        report = await _finished(console, import_id)
        assert 'data-applied="0"' in report and 'data-stale="2"' in report
        assert 'data-superseded="1"' in report
        page = await console.http.get("/console/stock", params={"sku": sku})
        assert 'data-source="csv:levels.csv"' in page.text
        assert f'data-import="{import_id}" data-status="done"' in page.text
    assert (await _db_row(system, warehouse, sku)).on_hand == 12

    audit = await user_store.audit_for(system.engine, f"stock_import:{import_id}")
    assert {(r.action, r.outcome) for r in audit} == {
        ("stock_import", "started"),
        ("stock_import", "done"),
    }
    started = next(r for r in audit if r.outcome == "started")
    assert started.note == "stock take" and started.detail["rows"] == 6


async def test_without_skip_invalid_a_bad_line_applies_nothing(system, admin):
    warehouse, sku = await stocked(admin, 3)
    now = datetime.now(UTC).isoformat()
    content = _csv(
        "sku,warehouse_id,as_of,on_hand",  # the columns in any order
        f"{sku},{warehouse},{now},9",
        f"{sku},{warehouse},yesterday,9",
    )
    async with console_as(system, "operator") as console:
        answer = await _upload(console, content)
        import_id = re.search(r'data-import="(\d+)"', answer.text).group(1)  # type: ignore[union-attr]
        report = await _finished(console, import_id)
    assert "Nothing was applied" in report and 'data-rejected="1"' in report
    assert '<tr data-line="3">' in report
    assert (await _db_row(system, warehouse, sku)).on_hand == 3


async def test_progress_of_a_running_import_and_an_interrupted_one(system):
    # Imports as another API process left them: one running, one whose process ended.
    async with system.engine.begin() as conn:
        running, stopped = [
            (
                await conn.execute(
                    text(
                        "INSERT INTO stock_imports (created_by, file_name, source, "
                        "skip_invalid, status, rows_total, rows_done, updated_at) VALUES "
                        "('someone', 'big.csv', 'csv:big.csv', false, :status, 20000, 5000, "
                        "now() - make_interval(secs => :ago)) RETURNING id"
                    ),
                    {"status": status, "ago": ago},
                )
            ).scalar_one()
            for status, ago in (("checking", 0), ("applying", 120))
        ]
    async with console_as(system, "viewer") as console:
        part = await console.http.get(
            f"/console/stock/imports/{running}", headers={"HX-Request": "true"}
        )
        assert 'data-status="checking"' in part.text and "5,000 / 20,000" in part.text
        assert 'hx-trigger="every 1s"' in part.text and 'value="25"' in part.text
        part = await console.http.get(
            f"/console/stock/imports/{stopped}", headers={"HX-Request": "true"}
        )
        assert 'data-status="interrupted"' in part.text and "hx-trigger" not in part.text
        page = await console.http.get(f"/console/stock/imports/{stopped}")
        assert "<html" in page.text and 'id="import-progress"' in page.text


async def test_a_viewer_cannot_import_and_a_post_needs_the_csrf_token(system, admin):
    warehouse, sku = await stocked(admin, 2)
    now = datetime.now(UTC).isoformat()
    content = _csv("warehouse_id,sku,on_hand,as_of", f"{warehouse},{sku},8,{now}")
    async with console_as(system, "viewer") as console:
        page = await console.http.get("/console/stock")
        assert 'id="stock-import"' not in page.text
        answer = await _upload(console, content)
        assert answer.status_code == 403
    async with console_as(system, "operator") as console:
        page = await console.http.get("/console/stock")
        form = re.search(r'<form id="stock-import".*?</form>', page.text, re.S)
        assert form and 'type="file" name="file"' in form.group(0)
        answer = await console.http.post(
            "/console/stock/imports",
            data={"csrf_token": "forged", "note": "x"},
            files={"file": ("levels.csv", content, "text/csv")},
        )
        assert answer.status_code == 403
        # No note, no file, a file without the header: refused, nothing started.
        assert (await _upload(console, content, note="")).status_code == 422
        wrong = await _upload(console, _csv("sku,qty", f"{sku},1"))
        assert wrong.status_code == 422 and wrong.headers["HX-Retarget"] == "#flash"
    assert (await _db_row(system, warehouse, sku)).on_hand == 2


async def test_a_file_above_the_import_limit_is_refused_and_the_limit_is_for_that_path_only(
    system,
):
    big = b"no,header\n" + b"x" * (system.settings.max_body_bytes + 10)
    async with console_as(system, "operator") as console:
        # Over the API's limit, under the import's: taken (and refused for its header).
        answer = await _upload(console, big)
        assert answer.status_code == 422
        answer = await console.http.post(
            "/console/alerts/1/ack", content=big, headers={"HX-Request": "true"}
        )
        assert answer.status_code == 413
