"""Marketplace platforms as the OMS reads and answers them (minimal interface).

A pull channel asks its platform for the orders changed in a window of the platform's own
clock and follows the pages until there are none left; shipping answers go back through
the same client. Each platform's client (and ``client_for``) is built on this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class PlatformUnavailable(Exception):
    """The platform cannot answer now (5xx, timeout, 429): try again, after
    ``retry_after`` seconds when the platform said so."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PlatformRefused(Exception):
    """The platform said no (bad credentials, bad parameters): asking again changes
    nothing until someone fixes the cause."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class PulledPage:
    orders: list[dict[str, Any]] = field(default_factory=list)
    next: str | None = None  # the next page's token; None: the window is read
    total: int | None = None


class MarketplaceClient(ABC):
    platform: str

    @abstractmethod
    async def now(self) -> datetime:
        """The platform's clock (windows are planned on it, not on ours)."""

    @abstractmethod
    async def changed(self, start: datetime, end: datetime, page: str | None) -> PulledPage:
        """Orders changed in [start, end); ``page`` None for the first page."""

    @abstractmethod
    async def ship(self, request: dict[str, Any]) -> dict[str, Any]: ...

    @abstractmethod
    async def aclose(self) -> None: ...


def client_for(platform: str, credentials: dict[str, Any]) -> MarketplaceClient:
    """The platform's client with the channel's credentials."""
    raise PlatformRefused("unsupported_platform", f"no client for platform {platform!r}")
