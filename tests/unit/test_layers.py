"""The import direction of docs/architecture.md, read from the source with ``ast``.

    devtools            -> everything below (the developer tools: oms dev, chaos, bench)
    api, worker         -> workflows, activities, oms
    workflows, activities -> each other, oms
    simulators          -> oms (the partners stand apart from the system they play against)
    oms                 -> nothing of the above (the core)

Every import counts, at module level or inside a function, and so does a module named in a
string (``importlib.import_module("worker.main")``, ``"api.main:app"``): a command of the
core that needs an upper package gets it through an entry point (``oms.commands``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAY_IMPORT: dict[str, set[str]] = {
    "oms": set(),
    "simulators": {"oms"},
    "activities": {"oms", "workflows"},
    "workflows": {"oms", "activities"},
    "api": {"oms", "activities", "workflows"},
    "worker": {"oms", "activities", "workflows"},
    "devtools": {"oms", "activities", "workflows", "api", "worker", "simulators"},
}
PACKAGES = set(MAY_IMPORT)
# A string that names a module of one of the packages (``pkg.module`` or ``pkg.module:attr``).
_MODULE_TEXT = re.compile(r"^(?P<top>[a-z_]+)(\.[A-Za-z_][\w]*)+(:[A-Za-z_]\w*)?$")


def imported(source: str, module: str, strings: bool = True) -> list[tuple[int, str]]:
    """(line, module) of every import in ``source`` (the module ``module``, dotted) and,
    with ``strings``, of every string that names a module of the packages."""
    found: list[tuple[int, str]] = []
    package = module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against this module's package
                base = package[: len(package) - node.level + 1]
                found.append((node.lineno, ".".join([*base, node.module or ""]).strip(".")))
            elif node.module:
                found.append((node.lineno, node.module))
        elif strings and isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = _MODULE_TEXT.match(node.value)
            if match and match["top"] in PACKAGES:
                found.append((node.lineno, node.value.split(":")[0]))
    return found


def violations(package: str, module: str, source: str) -> list[str]:
    allowed = MAY_IMPORT[package] | {package}
    return [
        f"{module} (line {line}) imports {name}"
        for line, name in imported(source, module)
        if name.split(".")[0] in PACKAGES and name.split(".")[0] not in allowed
    ]


def _modules(package: str) -> list[tuple[str, Path]]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found.append((".".join(parts), path))
    return found


def _unnumbered(problem: str) -> str:
    return re.sub(r"\(line \d+\)", "(line {})", problem)


def test_every_package_imports_only_the_layers_below_it() -> None:
    problems = {
        _unnumbered(problem)
        for package in MAY_IMPORT
        for module, path in _modules(package)
        for problem in violations(package, module, path.read_text())
    }
    assert problems == set(), "imports against the layers"


def test_every_package_is_known_and_holds_code() -> None:
    on_disk = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert on_disk == PACKAGES
    assert all(_modules(package) for package in PACKAGES)


def test_the_check_finds_each_kind_of_violation() -> None:
    source = """
import api.app
from worker.main import run_worker
from . import cli
from ..devtools import dev

def later():
    from workflows import order
    import importlib
    importlib.import_module("activities.inventory")
    return "api.main:app_from_env", "a sentence. not a module", "oms.settings"
"""
    found = violations("oms", "oms.sub.module", source)
    assert sorted(f.split(" imports ")[1] for f in found) == [
        "activities.inventory",
        "api.app",
        "api.main",
        "worker.main",
        "workflows",
    ]
    # A relative import stays inside its package; the core's own modules are fine.
    assert not violations("oms", "oms.sub.module", "from . import cli\nimport oms.settings\n")
    assert violations("simulators", "simulators.app", "from api.schemas import SyncItem\n")
    assert not violations("devtools", "devtools.dev", "import worker.main\nimport api.cli\n")


def _exists(module: str) -> bool:
    path = ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def test_every_module_named_in_the_packages_exists() -> None:
    """A module moved without its importers (an import inside a function only fails when
    that function runs)."""
    missing = [
        f"{module} (line {line}) names {name}"
        for package in MAY_IMPORT
        for module, path in _modules(package)
        for line, name in imported(path.read_text(), module, strings=False)
        if name.split(".")[0] in PACKAGES and not _exists(name)
    ]
    assert missing == []
