"""``oms sim``, added to the core's ``oms`` through the entry point ``oms.commands``."""

from __future__ import annotations

import argparse
from typing import Any

from oms.commands import exit_now, serve_http
from oms.settings import get_settings


def add_sim(sub: Any) -> None:
    sub.add_parser("sim", help="serve the partner simulators").set_defaults(fn=cmd_sim)


def cmd_sim(_: argparse.Namespace) -> None:
    from simulators.main import app_from_env

    serve_http(app_from_env, get_settings().sim_port, "OMS_SIM_PORT", "simulators")
    exit_now(0)
