"""The payment gateway port: an abstract base and the HTTP adapter for the sandbox gateway.

A real gateway adapter implements the same calls, each idempotent by key.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import httpx


class GatewayUnavailable(Exception):
    """Transient: timeouts, 5xx, connection errors. Safe to retry with the same key."""


class GatewayRejected(Exception):
    """The gateway refused the request as malformed: retrying will not help."""


@dataclass(frozen=True)
class GatewayResult:
    status: str  # succeeded | declined | nothing_to_void
    reference: str | None
    message: str = ""


class PaymentGateway(ABC):
    @abstractmethod
    async def authorize(
        self, *, key: str, amount: str, currency: str, token: str
    ) -> GatewayResult: ...

    @abstractmethod
    async def capture(self, *, key: str, authorization: str, amount: str) -> GatewayResult: ...

    @abstractmethod
    async def void(self, *, key: str, authorization: str) -> GatewayResult: ...

    @abstractmethod
    async def void_by_key(self, *, key: str, authorization_key: str) -> GatewayResult:
        """Void whatever authorization was made under ``authorization_key``, if any, and
        make sure none is made under it later. For an authorization whose answer never
        arrived: the gateway may have authorized it. Answers status ``nothing_to_void``
        when there was none."""

    @abstractmethod
    async def refund(self, *, key: str, authorization: str, amount: str) -> GatewayResult: ...

    @abstractmethod
    async def adjust(self, *, key: str, authorization: str, amount: str) -> GatewayResult:
        """Move an open authorization to ``amount``: up, an incremental authorization
        (``declined`` when the card refuses it); down, a partial reversal."""


class HttpPaymentGateway(PaymentGateway):
    def __init__(self, base_url: str, api_key: str, timeout: float = 5.0) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
        )

    async def _post(self, path: str, key: str, body: dict[str, str]) -> GatewayResult:
        try:
            response = await self._client.post(path, json=body, headers={"Idempotency-Key": key})
        except httpx.HTTPError as exc:
            raise GatewayUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise GatewayUnavailable(f"gateway answered {response.status_code}")
        data = response.json()
        if response.status_code == 402:
            return GatewayResult("declined", data.get("id"), data.get("detail", "declined"))
        if response.status_code >= 400:
            raise GatewayRejected(f"gateway answered {response.status_code}: {data}")
        if data.get("status") == "nothing_to_void":
            return GatewayResult("nothing_to_void", None)
        return GatewayResult("succeeded", data.get("id"))

    async def authorize(self, *, key: str, amount: str, currency: str, token: str) -> GatewayResult:
        body = {"amount": amount, "currency": currency, "token": token}
        return await self._post("/authorizations", key, body)

    async def capture(self, *, key: str, authorization: str, amount: str) -> GatewayResult:
        return await self._post(f"/authorizations/{authorization}/capture", key, {"amount": amount})

    async def void(self, *, key: str, authorization: str) -> GatewayResult:
        return await self._post(f"/authorizations/{authorization}/void", key, {})

    async def void_by_key(self, *, key: str, authorization_key: str) -> GatewayResult:
        return await self._post(f"/authorizations/by-key/{authorization_key}/void", key, {})

    async def refund(self, *, key: str, authorization: str, amount: str) -> GatewayResult:
        return await self._post(f"/authorizations/{authorization}/refund", key, {"amount": amount})

    async def adjust(self, *, key: str, authorization: str, amount: str) -> GatewayResult:
        return await self._post(f"/authorizations/{authorization}/adjust", key, {"amount": amount})

    async def aclose(self) -> None:
        await self._client.aclose()
