"""`oms import orders --dry-run` on export files with mistakes, as a shell user runs it:
the report names each mistake by file, line and code, and nothing reaches the database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from sqlalchemy import text

from oms.imports import samples
from tests.conftest import TEST_PAYLOAD_KEYS
from tests.integration.helpers import add_warehouse, set_stock, unique

OMS = str(Path(sys.executable).parent / "oms")


async def _oms(system, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": system.settings.database_url,
        "OMS_PAYLOAD_KEYS": TEST_PAYLOAD_KEYS,
        "TEMPORAL_ADDRESS": system.settings.temporal_target,
    }
    return await asyncio.to_thread(
        subprocess.run, [OMS, *args], env=env, capture_output=True, text=True, timeout=120
    )


async def _counts(engine, channel: str) -> tuple[int, int]:
    async with engine.connect() as conn:
        orders = (
            await conn.execute(
                text("SELECT count(*) FROM orders WHERE channel = :c"), {"c": channel}
            )
        ).scalar_one()
        events = (await conn.execute(text("SELECT count(*) FROM order_events"))).scalar_one()
    return orders, events


async def test_dry_run_reports_every_mistake_by_line_and_writes_nothing(system, admin, engine):
    channel = unique("import")
    added = await _oms(
        system,
        "channels",
        "add",
        channel,
        "--platform",
        "native",
        "--intake",
        "push",
        "--secret",
        "s3cret",
    )
    assert added.returncode == 0, added.stderr
    skus = [unique("IMP") for _ in range(3)]
    wh = await add_warehouse(admin)
    for sku in skus:
        await set_stock(admin, wh, sku, 10)
    folder = Path(tempfile.mkdtemp(prefix="oms-import-"))
    made = await _oms(
        system,
        "import",
        "sample",
        str(folder),
        "--format",
        "canonical",
        "--orders",
        "24",
        "--errors",
        *[f"--sku={s}" for s in skus],
    )
    assert made.returncode == 0, made.stderr
    path = folder / "orders.csv"
    report_path = folder / "report.csv"
    before = await _counts(engine, channel)

    done = await _oms(
        system,
        "import",
        "orders",
        str(path),
        "--channel",
        channel,
        "--dry-run",
        "--report",
        str(report_path),
        "--json",
    )

    assert done.returncode == 1, done.stderr
    found = {
        (int(line.split(":")[1]), line.split(":")[2].split()[0])
        for line in done.stdout.splitlines()
        if line.startswith(f"{path}:")
    }
    lines = path.read_text().splitlines()
    first_row: dict[str, int] = {}  # the order id -> its first line in the file
    for number, row in enumerate(lines[1:], start=2):
        first_row.setdefault(row.split(",")[0], number)
    assert {code for _, code in found} == set(samples.MISTAKES.values())
    assert (first_row["S100003"], "total_mismatch") in found
    assert (first_row["S100011"], "date_order") in found
    assert (first_row["S100009"], "postal_code") in found
    summary = json.loads(done.stdout.splitlines()[-2])
    assert summary["invalid"] == 10 and summary["valid"] == 14
    assert summary["rules"]["unknown_sku"]["issues"] == 1
    assert "dry run: nothing written" in done.stdout
    assert len(report_path.read_text().splitlines()) == 1 + summary["errors"] + summary["warnings"]
    assert await _counts(engine, channel) == before  # nothing written at all
    assert before[0] == 0

    # an unknown channel: a clear message, exit 2
    unknown = await _oms(
        system, "import", "orders", str(path), "--channel", "no-such-channel", "--dry-run"
    )
    assert unknown.returncode == 2 and "unknown channel 'no-such-channel'" in unknown.stderr
