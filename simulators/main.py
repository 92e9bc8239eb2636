"""Entry point for ``oms sim``."""

from __future__ import annotations

from fastapi import FastAPI

from oms.logging import configure_logging
from oms.settings import get_settings
from simulators.app import create_sim_app


def app_from_env() -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    return create_sim_app(settings)
