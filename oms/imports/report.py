"""The import's report: every finding by file and line with the rule's code, the field,
the value and a sentence; then a summary per rule (how many, the first examples) and of
the orders (read, valid, invalid, closed and open, totals per currency).

In memory the findings are kept up to ``keep_per_rule`` per rule (counted in full); a
report file (``--report FILE.json`` or ``FILE.csv``) receives every one as it comes.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from oms.imports.model import Issue, Order
from oms.imports.rules import CODES

CSV_COLUMNS = (
    "file",
    "line",
    "last_line",
    "external_id",
    "code",
    "severity",
    "field",
    "value",
    "message",
)


def issue_row(issue: Issue) -> dict[str, Any]:
    return {
        "file": issue.where.file,
        "line": issue.where.line,
        "last_line": issue.where.last_line,
        "external_id": issue.external_id,
        "code": issue.code,
        "severity": issue.severity,
        "field": issue.field,
        "value": issue.value,
        "message": issue.message,
    }


def issue_line(issue: Issue) -> str:
    """``FILE:LINE: code [severity] field='value': message (order ID)``."""
    level = "" if issue.severity == "error" else f" [{issue.severity}]"
    value = issue.value if len(issue.value) <= 80 else issue.value[:77] + "..."
    what = f" {issue.field}={value!r}" if issue.field else ""
    order = f" (order {issue.external_id})" if issue.external_id else ""
    return (
        f"{issue.where.file}:{issue.where.line}: {issue.code}{level}{what}: {issue.message}{order}"
    )


class Sink:
    """Every finding, streamed to a JSON or CSV file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.json = path.suffix.lower() == ".json"
        if not self.json and path.suffix.lower() != ".csv":
            raise ValueError(f"--report {path}: a .json or a .csv file")
        self._f: IO[str] = path.open("w", newline="", encoding="utf-8")
        self._first = True
        if self.json:
            self._f.write('{"issues": [')
        else:
            self._csv = csv.DictWriter(self._f, CSV_COLUMNS, lineterminator="\n")
            self._csv.writeheader()

    def add(self, issue: Issue) -> None:
        if self.json:
            self._f.write(
                ("\n" if self._first else ",\n") + json.dumps(issue_row(issue), ensure_ascii=False)
            )
            self._first = False
        else:
            self._csv.writerow(issue_row(issue))

    def close(self, summary: dict[str, Any]) -> None:
        if self.json:
            self._f.write('\n], "summary": ' + json.dumps(summary, ensure_ascii=False) + "}\n")
        self._f.close()


@dataclass
class Report:
    keep_per_rule: int = 1000
    sink: Sink | None = None
    orders_read: int = 0
    valid: int = 0
    invalid: int = 0
    closed: int = 0
    open: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    totals: dict[str, Decimal] = field(default_factory=dict)
    issues_by_rule: Counter[str] = field(default_factory=Counter)
    orders_by_rule: Counter[str] = field(default_factory=Counter)
    warnings: int = 0
    errors: int = 0
    file_errors: int = 0
    kept: dict[str, list[Issue]] = field(default_factory=dict)

    def issue(self, issue: Issue) -> None:
        self.issues_by_rule[issue.code] += 1
        if issue.severity == "error":
            self.errors += 1
        else:
            self.warnings += 1
        kept = self.kept.setdefault(issue.code, [])
        if len(kept) < self.keep_per_rule:
            kept.append(issue)
        if self.sink is not None:
            self.sink.add(issue)

    def file_issue(self, issue: Issue) -> None:
        """A file (or a part of one) that could not be read: no order to count."""
        self.file_errors += 1
        self.issue(issue)

    def order(self, order: Order | None, issues: list[Issue]) -> None:
        self.orders_read += 1
        for code in {i.code for i in issues}:
            self.orders_by_rule[code] += 1
        for i in issues:
            self.issue(i)
        if order is None:
            self.invalid += 1
            return
        self.valid += 1
        self.statuses[order.status.value] += 1
        if order.closed:
            self.closed += 1
        else:
            self.open += 1
        self.totals[order.currency] = self.totals.get(order.currency, Decimal(0)) + Decimal(
            order.total
        )

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def summary(self) -> dict[str, Any]:
        return {
            "orders_read": self.orders_read,
            "valid": self.valid,
            "invalid": self.invalid,
            "closed": self.closed,
            "open": self.open,
            "statuses": dict(sorted(self.statuses.items())),
            "totals": {c: str(v) for c, v in sorted(self.totals.items())},
            "errors": self.errors,
            "warnings": self.warnings,
            "files_unread": self.file_errors,
            "rules": {
                code: {
                    "issues": self.issues_by_rule[code],
                    "orders": self.orders_by_rule.get(code, 0),
                    "what": CODES.get(code, ""),
                    "examples": [issue_row(i) for i in self.kept.get(code, [])[:3]],
                }
                for code in sorted(self.issues_by_rule)
            },
        }

    def close(self) -> None:
        if self.sink is not None:
            self.sink.close(self.summary())
            self.sink = None

    def text(self, per_rule: int = 50) -> str:
        """The findings by file and line (up to ``per_rule`` a rule), then the summary."""
        out: list[str] = []
        shown = sorted(
            (i for kept in self.kept.values() for i in kept[:per_rule]),
            key=lambda i: (i.where.file, i.where.line),
        )
        out.extend(issue_line(i) for i in shown)
        hidden = sum(self.issues_by_rule.values()) - len(shown)
        if hidden > 0:
            out.append(f"... and {hidden:,} more findings (all of them with --report FILE)")
        if out:
            out.append("")
        out.append(
            f"orders read {self.orders_read:,}: valid {self.valid:,}, invalid {self.invalid:,}"
            f" (of the valid: closed {self.closed:,}, open {self.open:,})"
        )
        if self.statuses:
            out.append(
                "statuses: " + ", ".join(f"{s} {n:,}" for s, n in sorted(self.statuses.items()))
            )
        if self.totals:
            out.append(
                "totals of the valid orders: "
                + ", ".join(f"{c} {v:,}" for c, v in sorted(self.totals.items()))
            )
        if self.file_errors:
            out.append(f"files or parts of files not read: {self.file_errors}")
        if self.issues_by_rule:
            out.append("")
            out.append(f"{'rule':<24}{'issues':>8}{'orders':>8}  first at")
            for code in sorted(self.issues_by_rule, key=lambda c: (-self.issues_by_rule[c], c)):
                first = ", ".join(
                    f"{Path(i.where.file).name}:{i.where.line}" for i in self.kept[code][:3]
                )
                severity = {i.severity for i in self.kept[code]}
                name = code if severity == {"error"} else f"{code} ({'/'.join(sorted(severity))})"
                out.append(
                    f"{name:<24}{self.issues_by_rule[code]:>8,}"
                    f"{self.orders_by_rule.get(code, 0):>8,}  {first}"
                )
        return "\n".join(out)
