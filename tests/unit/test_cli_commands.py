"""The ``oms`` command: every subcommand and flag, whichever package contributes it."""

from __future__ import annotations

import argparse
from importlib.metadata import EntryPoint

import pytest

from oms import cli, commands

FLAGS = {
    "dev": ["--workers", "--api"],
    "api": [],
    "front": ["--port", "--backend", "--host"],
    "worker": ["--processes", "--no-singletons"],
    "sim": [],
    "migrate": [],
    "orders": [],
    "returns": [],
    "refunds": [],
    "report": [],
    "insights": [],
    "stock": [],
    "import": [],
    "chaos": [
        "--orders",
        "--concurrency",
        "--kills",
        "--api-kills",
        "--window",
        "--settle-timeout",
        "--no-temporal-restart",
        "--no-postgres-restart",
        "--seed",
        "--faults",
    ],
    "bench": [
        "--orders",
        "--concurrency",
        "--half-orders",
        "--within",
        "--json",
        "--waiting",
        "--keep",
        "--soak",
        "--window",
        "--events-out",
        "--fail-rate",
        "--down-s",
        "--down-after-s",
        "--channels-push",
        "--channels-pull",
        "--duplicate-ratio",
        "--bad-signature-ratio",
        "--rate",
        "--kills",
        "--pull-lag",
        "--console",
        "--requests",
        "--kpis",
        "--runs",
        "--import",
        "--batch",
        "--costs",
        "--overload",
        "--factor",
        "--minutes",
        "--capacity",
        "--capacity-s",
        "--peak",
        "--quiet-rate",
        "--compress",
        "--phase-s",
    ],
    "channels": [],
    "shadow": [],
    "routing": [],
    "keys": [],
    "users": [],
    "workflows": [],
    "risk": [],
}


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices) if actions else {}


def test_every_command_and_flag_is_offered_in_order() -> None:
    offered = _subcommands(cli.parser())
    assert list(offered) == list(FLAGS)
    for name, parser in offered.items():
        flags = [s for a in parser._actions for s in a.option_strings if s.startswith("--")]
        assert flags == ["--help", *FLAGS[name]], name
    assert list(_subcommands(offered["keys"])) == ["create", "payload"]
    assert list(_subcommands(offered["returns"])) == ["list", "show", "approve", "reject"]
    assert list(_subcommands(offered["refunds"])) == ["give"]
    assert list(_subcommands(offered["channels"])) == [
        "add",
        "list",
        "show",
        "set",
        "disable",
        "pull",
        "compare",
    ]
    assert list(_subcommands(offered["workflows"])) == ["drain"]
    assert list(_subcommands(offered["risk"])) == ["generate", "train", "evaluate", "models"]
    assert list(_subcommands(offered["insights"])) == [
        "forecast",
        "backtest",
        "lead-time",
        "lead-times",
    ]
    backtest = _subcommands(offered["insights"])["backtest"]
    flags = [s for a in backtest._actions for s in a.option_strings if s.startswith("--")]
    assert flags == ["--help", "--skus", "--days", "--seed", "--holdout", "--from-db"]
    routing = _subcommands(offered["routing"])
    assert list(routing) == ["learn", "times", "costs", "compare", "evaluate"]
    assert list(_subcommands(routing["costs"])) == ["load", "list"]
    assert list(_subcommands(offered["shadow"])) == ["load", "report"]
    report = _subcommands(offered["shadow"])["report"]
    flags = [s for a in report._actions for s in a.option_strings if s.startswith("--")]
    assert flags == ["--help", "--channel", "--since", "--tolerance", "--differences", "--csv"]
    change = _subcommands(offered["channels"])["set"]
    assert "--pilot" in [s for a in change._actions for s in a.option_strings]
    kpis = _subcommands(offered["report"])["kpis"]
    flags = [s for a in kpis._actions for s in a.option_strings if s.startswith("--")]
    assert flags == ["--help", "--from", "--to", "--channel", "--csv", "--json"]
    assert list(_subcommands(offered["orders"])) == [
        "list",
        "show",
        "approve",
        "reject",
        "cancel",
    ]


def test_the_upper_commands_come_from_entry_points() -> None:
    contributed = commands.contributed()
    assert set(contributed) == {"dev", "api", "worker", "sim", "chaos", "bench"}
    assert {f.__module__ for f in contributed.values()} == {
        "api.cli",
        "worker.cli",
        "simulators.cli",
        "devtools.cli",
    }


def test_a_command_whose_package_is_not_installed_is_left_out(monkeypatch) -> None:
    ghost = EntryPoint(name="ghost", value="ghostpkg.cli:add", group=commands.GROUP)
    broken = EntryPoint(name="broken", value="oms.nowhere:add", group=commands.GROUP)
    monkeypatch.setattr(commands, "entry_points", lambda group: [ghost])
    assert commands.contributed() == {}
    # A module missing inside a package that is there is a bug, not an absent package.
    monkeypatch.setattr(commands, "entry_points", lambda group: [broken])
    with pytest.raises(ModuleNotFoundError):
        commands.contributed()
