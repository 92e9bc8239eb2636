"""The warehouse management system port: hand a shipment to a warehouse for picking.

The WMS answers later, through ``POST /v1/warehouse-events`` (``shipped`` with a tracking
number), as a real one would.
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


class HttpWarehouseSystem(WarehouseSystem):
    def __init__(self, base_url: str, api_key: str, timeout: float = 5.0) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout
        )

    async def dispatch(self, request: dict[str, Any]) -> str:
        try:
            response = await self._client.post(
                "/dispatches", json=request, headers={"Idempotency-Key": request["shipment_id"]}
            )
        except httpx.HTTPError as exc:
            raise WmsUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500 or response.status_code in (401, 403, 408, 429):
            # Outages and credential problems heal without the request changing.
            raise WmsUnavailable(f"WMS answered {response.status_code}")
        if response.status_code >= 400:
            raise WmsRejected(f"WMS answered {response.status_code}: {response.text[:200]}")
        return str(response.json()["reference"])

    async def aclose(self) -> None:
        await self._client.aclose()
