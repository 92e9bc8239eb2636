"""``oms import orders`` wired to the writer and the starter, and its refusals: the
database's channel and SKU look-ups, the writer and the starter are stand-ins here (the
dry run against the real database is tests/integration/test_import_cli.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from oms import cli
from oms.imports import cli as import_cli
from oms.imports import samples, starter, writer
from oms.imports.model import Order
from oms.settings import Settings

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "imports"


@pytest.fixture
def calls(monkeypatch, tmp_path) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def one(engine, name):
        return {"name": name} if name == "shop" else None

    async def known_skus(engine, skus):
        return {s for s in skus if s in samples.DEFAULT_SKUS}

    async def write_orders(engine, channel, orders, *, run_key, batch_size=5000, progress=None):
        listed: list[Order] = list(orders)
        seen["write"] = (channel, [o.external_id for o in listed], run_key)
        return writer.WriteResult(
            inserted=len(listed), open_orders=sum(not o.closed for o in listed)
        )

    async def connect(settings):
        return "client"

    async def start_open(engine, client, channel, *, rate_per_s=50.0, progress=None):
        seen["start"] = (client, channel, rate_per_s)
        return starter.StartResult(started=3)

    monkeypatch.setattr("oms.store.channels.one", one)
    monkeypatch.setattr("oms.store.stock.known_skus", known_skus)
    monkeypatch.setattr(writer, "write_orders", write_orders)
    monkeypatch.setattr(starter, "start_open", start_open)
    monkeypatch.setattr("oms.temporal_client.connect", connect)
    seen["settings"] = Settings(home=tmp_path, database_url="postgresql://nobody@127.0.0.1:9/none")
    return seen


def oms_import(calls: dict[str, Any], *argv: str) -> int:
    args = cli.parser().parse_args(["import", *argv])
    return import_cli.run(args, calls["settings"])


def test_a_valid_file_is_written_under_its_run_key_and_its_open_orders_started(calls, capsys):
    path = FIXTURES / "canonical" / "orders.csv"
    assert oms_import(calls, "orders", str(path), "--channel", "shop", "--start-rate", "7") == 0
    channel, ids, key = calls["write"]
    assert channel == "shop" and len(ids) == 6 and len(key) == 64
    fmt = import_cli.resolve_format(None, [path])
    assert key == import_cli.run_key("shop", fmt, [path])  # deterministic
    assert key != import_cli.run_key("other", fmt, [path])
    assert calls["start"] == ("client", "shop", 7.0)
    out = capsys.readouterr().out
    assert "inserted 6" in out and "open orders started: 3" in out


def test_invalid_orders_refuse_the_import_unless_skipped(calls, capsys, tmp_path):
    paths = samples.write("canonical", tmp_path, 8, errors=True)
    assert oms_import(calls, "orders", str(paths[0]), "--channel", "shop") == 1
    assert "write" not in calls
    assert "nothing written" in capsys.readouterr().out

    assert (
        oms_import(
            calls, "orders", str(paths[0]), "--channel", "shop", "--skip-invalid", "--no-start"
        )
        == 1
    )  # written, and the findings still say so
    _, ids, _ = calls["write"]
    assert len(ids) == 5 and "S100003" not in ids and "start" not in calls


def test_dry_run_writes_nothing_and_reports_to_a_file(calls, capsys, tmp_path):
    report = tmp_path / "r.json"
    code = oms_import(
        calls,
        "orders",
        str(FIXTURES / "shopify" / "orders_export.csv"),
        "--channel",
        "shop",
        "--format",
        "shopify",
        "--dry-run",
        "--report",
        str(report),
    )
    assert code == 1 and "write" not in calls
    body = json.loads(report.read_text())
    assert [(i["line"], i["code"]) for i in body["issues"]] == [
        (6, "total_mismatch"),
        (10, "money_decimals"),
        (16, "unknown_sku"),
    ]
    assert body["summary"]["orders_read"] == 8 and body["summary"]["invalid"] == 3
    out = capsys.readouterr().out
    assert "dry run: nothing written" in out and "orders_export.csv:6: total_mismatch" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["orders", "nope.csv", "--channel", "shop"], "no such file"),
        (["orders", "{fixture}", "--channel", "nobody"], "unknown channel 'nobody'"),
        (["orders", "{fixture}", "--channel", "shop", "--format", "woo"], "unknown format"),
        (["orders", "{fixture}", "--channel", "shop", "--report", "r.txt"], ".json or a .csv"),
    ],
)
def test_a_command_that_cannot_run_exits_2(calls, capsys, argv, message):
    fixture = str(FIXTURES / "canonical" / "orders.csv")
    assert oms_import(calls, *[a.replace("{fixture}", fixture) for a in argv]) == 2
    assert message in capsys.readouterr().err
    assert "write" not in calls


def test_sample_writes_files_and_names_its_mistakes(calls, capsys, tmp_path):
    assert (
        oms_import(
            calls,
            "sample",
            str(tmp_path),
            "--format",
            "taobao",
            "--orders",
            "4",
            "--errors",
            "--sku",
            "A-1",
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "ExportOrderList" in out and "3: total_mismatch" in out
    assert "A-1" in (tmp_path / "ExportOrderDetailList202403011015.csv").read_text("gbk")


def test_a_database_lost_half_way_says_how_to_resume_without_a_traceback(
    calls, capsys, monkeypatch
):
    from sqlalchemy.exc import OperationalError

    async def write_orders(engine, channel, orders, *, run_key, batch_size=5000, progress=None):
        raise OperationalError("INSERT", {}, ConnectionRefusedError("gone"))

    monkeypatch.setattr(writer, "write_orders", write_orders)
    path = FIXTURES / "canonical" / "orders.csv"
    assert oms_import(calls, "orders", str(path), "--channel", "shop") == 1
    err = capsys.readouterr().err
    assert "database stopped answering" in err and "run the same command again" in err
    assert "Traceback" not in err


def test_temporal_lost_while_starting_says_how_to_start_the_rest(calls, capsys, monkeypatch):
    from temporalio.service import RPCError, RPCStatusCode

    async def start_open(engine, client, channel, *, rate_per_s=50.0, progress=None):
        raise RPCError("unavailable", RPCStatusCode.UNAVAILABLE, b"")

    monkeypatch.setattr(starter, "start_open", start_open)
    path = FIXTURES / "canonical" / "orders.csv"
    assert oms_import(calls, "orders", str(path), "--channel", "shop") == 1
    captured = capsys.readouterr()
    assert "inserted 6" in captured.out
    assert "oms import start --channel shop" in captured.err
