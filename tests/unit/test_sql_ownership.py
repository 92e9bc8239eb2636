"""SQL lives in the store: no statement is built or run outside the modules that own the
tables (``oms/store/``), the database plumbing (``oms/db/``: the engine, migrations), the
simulators (outside companies with tables of their own) and the developer tools.

The check reads the source, not the running code: an import of SQLAlchemy's statement
builders, a call of a connection's ``execute`` (or asyncpg's ``fetch`` and kin), or a
string that reads as a statement, anywhere else, fails the test with its file and line.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Where SQL may be written, relative to the repository.
ALLOWED = (
    "oms/store/",
    "oms/db/",
    "simulators/",
    "benchmarks/",
    "devtools/",
    "tests/",
    "oms/dev.py",
    "oms/dev_seed.py",
    "oms/chaos.py",
    "oms/bench",  # oms/bench*.py
)
SKIPPED_DIRS = {".venv", ".git", ".oms", "node_modules", "__pycache__", "build", "dist"}

# SQLAlchemy's (and SQLModel's) statement builders.
BUILDERS = {"text", "insert", "update", "delete", "select", "literal_column", "table"}
SQL_MODULES = {"sqlalchemy", "sqlmodel", "sqlalchemy.sql", "sqlalchemy.dialects.postgresql"}
# What runs a statement: SQLAlchemy's connection and session, and asyncpg's.
RUNNERS = {
    "execute",
    "executemany",
    "exec_driver_sql",
    "exec",
    "fetch",
    "fetchrow",
    "fetchval",
    "copy_records_to_table",
}
STATEMENT = re.compile(
    r"\bSELECT\b[\s\S]+\bFROM\b|\bINSERT\s+INTO\b|\bUPDATE\s+\w+\s+(AS\s+\w+\s+)?SET\b"
    r"|\bDELETE\s+FROM\b|\bCREATE\s+(TEMPORARY\s+)?TABLE\b|\bpg_advisory"
)


def _allowed(relative: str) -> bool:
    return relative.startswith(ALLOWED)


def source_files() -> Iterator[tuple[str, Path]]:
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if SKIPPED_DIRS & set(relative.parts):
            continue
        yield relative.as_posix(), path


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the string constants that are docstrings (prose, not statements)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def violations(source: str) -> list[tuple[int, str]]:
    """Each place in ``source`` that builds or runs SQL: (line, what)."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    modules: set[str] = set()  # local names bound to sqlalchemy or sqlmodel
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in {"sqlalchemy", "sqlmodel"}:
                    modules.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module in SQL_MODULES:
            for alias in node.names:
                if alias.name in BUILDERS:
                    found.append((node.lineno, f"imports {node.module}.{alias.name}"))
        elif isinstance(node, ast.Attribute) and node.attr in BUILDERS:
            if isinstance(node.value, ast.Name) and node.value.id in modules:
                found.append((node.lineno, f"uses {node.value.id}.{node.attr}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in RUNNERS:
                found.append((node.lineno, f"calls .{node.func.attr}()"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings and STATEMENT.search(node.value):
                found.append((node.lineno, f"holds a statement: {node.value.strip()[:60]!r}"))
    return sorted(found)


def test_no_sql_outside_the_store() -> None:
    offending = [
        f"{relative}:{line}: {what}"
        for relative, path in source_files()
        if not _allowed(relative)
        for line, what in violations(path.read_text())
    ]
    assert not offending, "SQL outside oms/store/ (move it into the table's store module):\n" + (
        "\n".join(offending)
    )


def test_the_check_sees_each_way_of_writing_sql() -> None:
    """The scan is only as good as what it recognises: each way SQL was written in this
    tree before the store existed is found."""
    samples = {
        "from sqlalchemy import text\n": "imports sqlalchemy.text",
        "import sqlalchemy as sa\nq = sa.insert(t)\n": "uses sa.insert",
        "async def f(conn):\n    await conn.execute(q)\n": "calls .execute()",
        "async def f(conn):\n    await conn.fetch(q, 1)\n": "calls .fetch()",
        "Q = 'SELECT sku FROM stock WHERE sku = $1'\n": "holds a statement",
        "Q = '''\n  UPDATE orders SET x = 1\n'''\n": "holds a statement",
        "Q = 'INSERT INTO stock_movements (sku) VALUES (1)'\n": "holds a statement",
        "Q = 'DELETE FROM backorder_lines'\n": "holds a statement",
    }
    for source, expected in samples.items():
        found = violations(source)
        assert found and found[0][1].startswith(expected), (source, found)


def test_the_check_leaves_prose_and_other_calls_alone() -> None:
    source = (
        '"""Stock is written by ordinary INSERT INTO ... statements: SELECT x FROM y."""\n'
        "async def f(handle, d):\n"
        "    await handle.execute_update('x')\n"
        "    d.update({'a': 1})\n"
        "    return 'select a warehouse from the list'\n"
    )
    assert violations(source) == []
