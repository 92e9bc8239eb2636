"""The carrier port: ask a carrier to send its tracking events for a parcel the OMS did not
hand over itself (an imported order's shipment, already on its way).

The carrier then answers as it does for every parcel, through ``POST /v1/carrier-events``
by tracking number (in transit, out for delivery, delivered).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import httpx


class CarrierUnavailable(Exception):
    """Transient failure reaching the carrier; the registration is retried as it is."""


class CarrierRejected(Exception):
    """The carrier refused the registration (unknown tracking number, malformed request)."""


class Carrier(ABC):
    @abstractmethod
    async def follow(self, tracking_number: str, carrier: str) -> None:
        """Register the tracking number for events; idempotent by tracking number."""

    async def return_label(self, return_id: str, warehouse_id: str) -> str:
        """A prepaid label for a return's parcel back to ``warehouse_id``; its tracking
        number. Idempotent by ``return_id``."""
        raise CarrierUnavailable(f"{type(self).__name__} does not issue return labels")


class HttpCarrier(Carrier):
    def __init__(self, base_url: str, api_key: str, timeout: float = 5.0) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout
        )

    async def _post(self, path: str, body: dict[str, Any], key: str) -> httpx.Response:
        """POST with its idempotency key; an outage or a credential problem (which heal
        without the request changing) is ``CarrierUnavailable``, any other 4xx a refusal."""
        try:
            response = await self._client.post(path, json=body, headers={"Idempotency-Key": key})
        except httpx.HTTPError as exc:
            raise CarrierUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500 or response.status_code in (401, 403, 408, 429):
            raise CarrierUnavailable(f"carrier answered {response.status_code}")
        if response.status_code >= 400:
            raise CarrierRejected(f"carrier answered {response.status_code}: {response.text[:200]}")
        return response

    async def follow(self, tracking_number: str, carrier: str) -> None:
        body = {"tracking_number": tracking_number, "carrier": carrier}
        await self._post("/trackings", body, tracking_number)

    async def return_label(self, return_id: str, warehouse_id: str) -> str:
        body = {"return_id": return_id, "warehouse_id": warehouse_id}
        response = await self._post("/return-labels", body, return_id)
        return str(response.json()["tracking_number"])

    async def aclose(self) -> None:
        await self._client.aclose()
