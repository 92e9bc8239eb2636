"""``oms api``, added to the core's ``oms`` through the entry point ``oms.commands``."""

from __future__ import annotations

import argparse
from typing import Any

from oms.commands import exit_now, serve_http
from oms.settings import get_settings


def add_api(sub: Any) -> None:
    sub.add_parser("api", help="serve the HTTP API").set_defaults(fn=cmd_api)


def cmd_api(_: argparse.Namespace) -> None:
    from api.main import app_from_env

    serve_http(app_from_env, get_settings().api_port, "OMS_API_PORT", "API")
    exit_now(0)
