"""The sample files carry exactly their deliberate mistakes; the benchmark's stream of
closed orders is all valid; the report in text, JSON and CSV."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from oms.imports import samples
from oms.imports.formats import get_format
from oms.imports.model import Issue, Where
from oms.imports.report import Report, Sink, issue_line
from oms.imports.rules import Checks, Seen, validate

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def check(fmt_name: str, paths: list[Path], known: set[str]) -> Report:
    fmt = get_format(fmt_name)
    checks, seen, report = Checks(fmt.dialect, now=NOW, known_skus=known), Seen(), Report()
    for item in fmt.read(paths):
        if isinstance(item, Issue):
            report.file_issue(item)
        else:
            report.order(*validate(item, checks, seen))
    return report


@pytest.mark.parametrize("fmt", ["canonical", "shopify", "taobao"])
def test_a_sample_is_valid_and_its_errors_are_the_listed_mistakes(tmp_path, fmt):
    clean = check(fmt, samples.write(fmt, tmp_path / "clean", 40), set(samples.DEFAULT_SKUS))
    assert clean.ok and clean.valid == 40 and clean.warnings == 0
    assert clean.closed and clean.open  # both kinds

    bad = check(
        fmt, samples.write(fmt, tmp_path / "bad", 40, errors=True), set(samples.DEFAULT_SKUS)
    )
    table = samples.TAOBAO_MISTAKES if fmt == "taobao" else samples.MISTAKES
    assert set(table.values()) <= set(bad.orders_by_rule)
    assert bad.invalid >= len(table)


def test_the_benchmark_stream_is_closed_orders_all_valid(tmp_path):
    path = tmp_path / "closed.csv"
    rows = samples.write_closed_canonical(path, 3000, ["B-1", "B-2"])
    report = check("canonical", [path], {"B-1", "B-2"})
    assert rows > 3000 and report.valid == 3000 and report.open == 0 and report.ok
    assert set(report.statuses) == {"delivered", "cancelled", "refunded"}


def issue(code: str, line: int, severity: str = "error") -> Issue:
    return Issue(code, Where("a.csv", line), "total", "9.99", "it is wrong", "A-1", severity)


def test_report_text_json_and_csv(tmp_path):
    for suffix in ("json", "csv"):
        report = Report(keep_per_rule=2, sink=Sink(tmp_path / f"r.{suffix}"))
        for n in range(5):
            report.order(None, [issue("total_mismatch", 10 + n)])
        report.order(None, [issue("phone", 3, "warning")])
        report.close()
    text = report.text(per_rule=1)
    assert text.splitlines()[0] == issue_line(issue("phone", 3, "warning"))
    assert "a.csv:10: total_mismatch total='9.99': it is wrong (order A-1)" in text
    assert "... and 4 more findings" in text and "orders read 6: valid 0, invalid 6" in text
    assert report.summary()["rules"]["total_mismatch"]["issues"] == 5  # counted in full
    assert len(report.kept["total_mismatch"]) == 2  # kept up to the cap
    body = json.loads((tmp_path / "r.json").read_text())
    assert len(body["issues"]) == 6 and body["summary"]["errors"] == 5
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert [(r["line"], r["code"], r["severity"]) for r in rows][-1] == ("3", "phone", "warning")
