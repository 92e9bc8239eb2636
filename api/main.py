"""Entry point for ``oms api``: ``uvicorn api.main:app_from_env --factory``."""

from __future__ import annotations

from fastapi import FastAPI

from oms.logging import configure_logging
from oms.settings import get_settings


def app_from_env() -> FastAPI:
    from api.app import create_app

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    return create_app(settings)
