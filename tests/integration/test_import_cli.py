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
from tests.integration.helpers import add_warehouse, set_stock, unique, wait_for_status

OMS = str(Path(sys.executable).parent / "oms")


async def _oms(system, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": system.settings.database_url,
        "OMS_PAYLOAD_KEYS": TEST_PAYLOAD_KEYS,
        "TEMPORAL_ADDRESS": system.settings.temporal_target,
        "OMS_TASK_QUEUE": system.settings.task_queue,
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


async def test_an_import_end_to_end_history_open_orders_delivered_verify_and_a_second_run(
    system, admin, engine
):
    """The whole path a business runs: the files checked, closed orders written as history,
    open ones started at their stage and carried to delivery, the same import again
    changing nothing, and ``oms import verify`` agreeing until a total is damaged."""
    from oms.domain.ids import order_id_for

    channel = unique("import")
    added = await _oms(
        system, "channels", "add", channel, "--platform", "native", "--intake", "push",
        "--secret", "s3cret",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    skus = [unique("IMP") for _ in range(3)]
    wh = await add_warehouse(admin)
    for sku in skus:
        await set_stock(admin, wh, sku, 500)
    folder = Path(tempfile.mkdtemp(prefix="oms-import-"))
    made = await _oms(
        system, "import", "sample", str(folder), "--format", "canonical", "--orders", "30",
        *[f"--sku={s}" for s in skus],
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    path = folder / "orders.csv"

    done = await _oms(
        system, "import", "orders", str(path), "--channel", channel, "--start-rate", "20",
        "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "inserted 30" in done.stdout, done.stdout
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT id, external_id, status, view FROM orders WHERE channel = :c"),
                {"c": channel},
            )
        ).all()
    assert len(rows) == 30
    open_ids = [r.id for r in rows if (r.view.get("imported") or {}).get("stage")]
    assert open_ids, "the sample has open orders"
    assert all(r.id == order_id_for(channel, r.external_id) for r in rows)
    for oid in open_ids:  # each open order goes on from its stage to delivery
        await wait_for_status(admin, oid, {"delivered"}, within=120)
        ledger = (await admin.get("/v1/payments", params={"order_id": oid})).json()["items"]
        kinds = sorted(p["kind"] for p in ledger)
        assert "authorize" not in kinds and "capture" not in kinds and "void" not in kinds, kinds

    again = await _oms(system, "import", "orders", str(path), "--channel", channel)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "inserted 0" in again.stdout and "unchanged" in again.stdout, again.stdout
    assert "open orders started: 0" in again.stdout, again.stdout

    verified = await _oms(system, "import", "verify", str(path), "--channel", channel)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    closed = next(r for r in rows if r.id not in open_ids)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE orders SET view = jsonb_set(view, '{totals,total}', '\"0.01\"') "
                "WHERE id = :id"
            ),
            {"id": closed.id},
        )
    damaged = await _oms(
        system, "import", "verify", str(path), "--channel", channel, "--sample", "1000"
    )
    assert damaged.returncode == 1, damaged.stdout + damaged.stderr
    assert closed.external_id in damaged.stdout, damaged.stdout
