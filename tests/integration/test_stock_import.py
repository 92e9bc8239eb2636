"""`oms stock import`: a CSV of absolute levels checked row by row, then applied in one
transaction straight to the database, as a shell user runs it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from sqlalchemy import text

from tests.integration.helpers import add_warehouse, set_stock, unique

OMS = str(Path(sys.executable).parent / "oms")
HEADER = "warehouse_id,sku,on_hand,as_of"


async def _import(
    system, csv_text: str, *args: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Write the file, run the command on it; the result and the file."""
    folder = Path(tempfile.mkdtemp(prefix="oms-import-"))
    path = folder / f"{unique('levels')}.csv"
    path.write_text(csv_text)
    env = {**os.environ, "DATABASE_URL": system.settings.database_url}
    done = await asyncio.to_thread(
        subprocess.run,
        [OMS, "stock", "import", str(path), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, path


async def test_invalid_rows_are_reported_by_line_and_nothing_is_applied(system, admin):
    wh, good, other = await add_warehouse(admin), unique("SKU"), unique("SKU")
    rows = [
        HEADER,
        f"{wh},{good},5,2026-11-30T10:00:00Z",
        f"bad wh!,{good},5,2026-11-30T10:00:00Z",
        f"{wh},{good},ten,2026-11-30T10:00:00Z",
        f"{wh},{good},5,2026-11-30T10:00:00",
        f"no-such-warehouse-{wh},{good},5,2026-11-30T10:00:00Z",
        f"{wh},{good},5",
        f"{wh},{other},7,2026-11-30T10:00:00+01:00",
    ]
    refused, path = await _import(system, "\n".join(rows) + "\n")
    untouched = await admin.get(f"/v1/stock/{good}")

    assert refused.returncode == 1, refused.stderr
    errors = {
        int(line.split(":")[1]): line  # FILE:LINE: reason
        for line in refused.stderr.splitlines()
        if line.startswith(str(path))
    }
    assert sorted(errors) == [3, 4, 5, 6, 7]
    assert "warehouse_id" in errors[3] and "on_hand" in errors[4] and "timezone" in errors[5]
    assert "unknown warehouse" in errors[6] and "expected 4 fields" in errors[7]
    assert all(line.startswith(f"{path}:{n}: ") for n, line in errors.items())
    assert "nothing applied" in refused.stdout
    assert untouched.status_code == 404  # not one row applied

    skipped, path = await _import(system, "\n".join(rows) + "\n", "--skip-invalid", "--json")
    report = json.loads(skipped.stdout)
    stock = (await admin.get(f"/v1/stock/{other}")).json()["warehouses"][0]

    assert skipped.returncode == 0, skipped.stderr
    assert [r["line"] for r in report["rejected"]] == [3, 4, 5, 6, 7]
    assert [(a["line"], a["on_hand"]) for a in report["applied"]] == [(2, 5), (8, 7)]
    assert (stock["on_hand"], stock["source"]) == (7, f"csv:{path.name}")
    assert stock["as_of"].startswith("2026-11-30T09:00:00")


async def test_levels_are_applied_once_and_stale_or_superseded_ones_ignored(system, admin):
    wh = await add_warehouse(admin)
    fresh, synced, short = unique("SKU"), unique("SKU"), unique("SKU")
    newer = {"warehouse_id": wh, "sku": synced, "on_hand": 9, "as_of": "2026-11-30T12:00:00Z"}
    assert (await admin.post("/v1/stock/sync", json={"source": "erp", "items": [newer]})).is_success
    await set_stock(admin, wh, short, 5)
    async with system.engine.begin() as conn:  # an order holds 4 units
        await conn.execute(
            text("UPDATE stock SET reserved = 4 WHERE warehouse_id = :w AND sku = :s"),
            {"w": wh, "s": short},
        )
    rows = [
        "sku,warehouse_id,as_of,on_hand",  # the columns in any order
        f"{fresh},{wh},2026-11-30T10:00:00Z,10",
        f"{fresh},{wh},2026-11-30T11:00:00Z,12",  # newer: line 2 is superseded
        f"{synced},{wh},2026-11-30T11:00:00Z,3",  # older than the level held: stale
        f"{short},{wh},2026-11-30T11:00:00Z,1",  # below the 4 reserved
    ]
    first, _ = await _import(system, "\n".join(rows), "--source", "erp-nightly")
    again, _ = await _import(system, "\n".join(rows), "--source", "erp-nightly", "--json")

    assert first.returncode == 0, first.stderr
    counts = {line.split()[0]: line.split()[1] for line in first.stdout.splitlines()[:5]}
    assert counts == {
        "applied": "2",
        "stale": "1",
        "superseded": "1",
        "rejected": "0",
        "shortfalls": "1",
    }
    assert "rows/s" in first.stdout
    levels = {
        sku: (await admin.get(f"/v1/stock/{sku}")).json()["warehouses"][0]
        for sku in (fresh, synced, short)
    }
    assert (levels[fresh]["on_hand"], levels[fresh]["source"]) == (12, "erp-nightly")
    assert (levels[synced]["on_hand"], levels[synced]["source"]) == (9, "erp")
    assert (levels[short]["on_hand"], levels[short]["reserved"]) == (4, 4)
    async with system.engine.connect() as conn:
        journal = (
            await conn.execute(
                text(
                    "SELECT sku, on_hand_delta, reason FROM stock_movements "
                    "WHERE warehouse_id = :w AND kind = 'sync'"
                ),
                {"w": wh},
            )
        ).all()
    assert sorted((j.sku, j.on_hand_delta, j.reason) for j in journal) == sorted(
        [
            (fresh, 12, "sync from erp-nightly"),
            (synced, 9, "sync from erp"),
            (short, -1, "sync from erp-nightly"),
        ]
    )
    alerts = (await admin.get("/v1/alerts", params={"status": "open"})).json()["items"]
    mine = [a for a in alerts if a["kind"] == "stock_shortfall" and a["subject"] == f"{wh}/{short}"]
    assert len(mine) == 1 and mine[0]["detail"]["shortfall"] == 3
    assert mine[0]["detail"]["line"] == 5

    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["applied"] == []
    assert {i["line"]: i["reason"].split(":")[0] for i in report["ignored"]} == {
        2: "superseded by line 3",
        3: "stale",
        4: "stale",
        5: "stale",
    }


async def test_a_file_without_the_header_is_refused_whole(system):
    done, _ = await _import(system, "wh-1,SKU-1,5,2026-11-30T10:00:00Z\n")
    assert done.returncode == 2
    assert "the first line must name the columns" in done.stderr
    assert "Traceback" not in done.stderr
