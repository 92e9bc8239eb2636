"""The warehouse management system port: hand a shipment to a warehouse for picking, and
read the stock levels it holds.

The WMS answers a dispatch later, through ``POST /v1/warehouse-events`` (``shipped`` with a
tracking number), as a real one would.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import httpx


class WmsUnavailable(Exception):
    """Transient failure reaching the WMS; the dispatch is retried with the same id."""


class WmsRejected(Exception):
    """The WMS refused the dispatch (unknown warehouse, malformed request)."""


class WarehouseSystem(ABC):
    @abstractmethod
    async def dispatch(self, request: dict[str, Any]) -> str:
        """Send a pick-and-ship request; idempotent by ``request['shipment_id']``."""

    async def expect_return(self, request: dict[str, Any]) -> str:
        """Announce a return (``return_id``, ``order_id``, ``warehouse_id``, ``lines``) to
        its warehouse, which reports each line through ``POST /v1/return-events`` once the
        parcel is in; idempotent by ``request['return_id']``."""
        raise WmsUnavailable(f"{type(self).__name__} does not take returns")

    async def stock_levels(self) -> list[Any]:
        """Every level the WMS holds, as it sent them: each should be ``{warehouse_id, sku,
        on_hand, as_of}`` (the caller checks)."""
        raise WmsUnavailable(f"{type(self).__name__} does not report stock levels")


class HttpWarehouseSystem(WarehouseSystem):
    def __init__(self, base_url: str, api_key: str, timeout: float = 5.0) -> None:
        self._timeout = timeout
        self._client = httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout
        )

    async def _post(self, path: str, request: dict[str, Any], key: str) -> str:
        """POST with its idempotency key; the WMS's reference of what it took."""
        try:
            response = await self._client.post(path, json=request, headers={"Idempotency-Key": key})
        except httpx.HTTPError as exc:
            raise WmsUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500 or response.status_code in (401, 403, 408, 429):
            # Outages and credential problems heal without the request changing.
            raise WmsUnavailable(f"WMS answered {response.status_code}")
        if response.status_code >= 400:
            raise WmsRejected(f"WMS answered {response.status_code}: {response.text[:200]}")
        return str(response.json()["reference"])

    async def dispatch(self, request: dict[str, Any]) -> str:
        return await self._post("/dispatches", request, request["shipment_id"])

    async def expect_return(self, request: dict[str, Any]) -> str:
        return await self._post("/returns", request, request["return_id"])

    async def stock_levels(self) -> list[Any]:
        try:
            response = await self._client.get("/stock", timeout=max(self._timeout, 60.0))
        except httpx.HTTPError as exc:
            raise WmsUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            # Nothing is changed by reading: whatever the answer, a later pull may succeed.
            raise WmsUnavailable(f"WMS answered {response.status_code}: {response.text[:200]}")
        try:
            items = response.json()["items"]
        except (ValueError, KeyError, TypeError) as exc:
            raise WmsUnavailable(f"WMS stock answer without items: {exc!r}") from exc
        if not isinstance(items, list):
            raise WmsUnavailable("WMS stock answer: items is not a list")
        return items

    async def aclose(self) -> None:
        await self._client.aclose()
