"""The sales platforms' seller APIs: read the orders that changed in a window (pull), and tell
the platform an order shipped (feedback).

One :class:`MarketplaceClient` per channel, made by :func:`client_for` from the channel's
credentials (``base_url``, ``app_key``, ``app_secret``, ``seller_id``, ``marketplace_id``,
``access_token`` as the platform needs). Errors come in two kinds, as with the other
adapters: :class:`PlatformUnavailable` (5xx, timeouts, rate limits: try again, after
``retry_after`` seconds when the platform said) and :class:`PlatformRefused` (the platform
said no: bad parameters, a bad signature, a closed trade; trying again changes nothing).

Paging follows ``oms.channels.pull_rules``. Taobao and PDD page by offset over a list that
shrinks while it is read, so :meth:`MarketplaceClient.changed` reads page 1 first (for the
total), then the last page back to page 1; ``next`` carries the page to read. An order that
moves between pages during the read can come twice: the client drops what it already
returned for the same window (and the intake deduplicates anyway). Amazon follows NextToken.

Signing of the Chinese gateways is simplified to one scheme for the three (the sandbox plays
them): ``sign`` = upper-case hex HMAC-SHA256, keyed by ``app_secret``, of every other
parameter as ``key + value``, sorted by key (Taobao's ``hmac-sha256`` sign method).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from oms.channels.pull_rules import RULES, PullRules

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


class PlatformUnavailable(Exception):
    """Transient: the platform is down, slow, or limiting our rate. Try again later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PlatformRefused(Exception):
    """The platform refused the call; the same call will be refused again."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class PulledPage:
    orders: list[dict[str, Any]]  # native payloads, each in the shape the platform adapter maps
    next: str | None  # the next page to read (page number or NextToken), None when done
    total: int | None = None


class MarketplaceClient(ABC):
    platform: str

    @abstractmethod
    async def now(self) -> datetime:
        """The platform's clock, UTC-aware."""

    @abstractmethod
    async def changed(self, start: datetime, end: datetime, page: str | None) -> PulledPage:
        """One page of the orders modified in ``[start, end)``; ``page`` is None for the
        first call of a window, then the previous page's ``next``."""

    @abstractmethod
    async def ship(self, request: dict[str, Any]) -> dict[str, Any]:
        """Tell the platform the order shipped; the platform's answer."""

    async def aclose(self) -> None:
        return None


def sign_params(params: Mapping[str, str], secret: str) -> str:
    """The gateway signature of ``params`` (every key but ``sign``)."""
    text = "".join(f"{key}{params[key]}" for key in sorted(params) if key != "sign")
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest().upper()


def cn_time(value: datetime) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def iso_z(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def retry_after_of(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _required(credentials: Mapping[str, Any], name: str, platform: str) -> str:
    value = credentials.get(name)
    if not value:
        # The channel's configuration, not the platform: refused until an admin sets it.
        raise PlatformRefused("missing_credential", f"{platform} credentials need {name!r}")
    return str(value)


class _HttpClient(MarketplaceClient):
    def __init__(
        self,
        credentials: Mapping[str, Any],
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._credentials = dict(credentials)
        self._http = httpx.AsyncClient(
            base_url=_required(credentials, "base_url", self.platform),
            timeout=timeout,
            transport=transport,
        )

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise PlatformUnavailable(f"{self.platform}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise PlatformUnavailable(
                f"{self.platform} answered {response.status_code}", retry_after_of(response)
            )
        return response

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            # A proxy's error page or a truncated answer: nothing was decided.
            raise PlatformUnavailable(f"{self.platform} answered no JSON: {exc}") from exc

    async def _date_header_now(self) -> datetime:
        """The platform's clock from the Date header of any answer (its servers set it)."""
        response = await self._send("HEAD", "")
        date = response.headers.get("Date")
        if date:
            try:
                return parsedate_to_datetime(date).astimezone(UTC)
            except (TypeError, ValueError):
                pass
        return datetime.now(UTC)

    async def aclose(self) -> None:
        await self._http.aclose()


class _OffsetPaged(_HttpClient):
    """A platform that pages by number over the window's list (Taobao, PDD, JD)."""

    rules: PullRules

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rules = RULES[self.platform]
        self._window: tuple[datetime, datetime] | None = None
        self._seen: set[tuple[str, str]] = set()

    @abstractmethod
    async def _page(
        self, start: datetime, end: datetime, number: int, size: int
    ) -> tuple[list[dict[str, Any]], int]:
        """Page ``number`` of the window and the window's total."""

    @abstractmethod
    def _identity(self, order: dict[str, Any]) -> tuple[str, str]:
        """(id, modified) of a native order: the same pair is the same version."""

    async def changed(self, start: datetime, end: datetime, page: str | None) -> PulledPage:
        size = self.rules.page_size
        if page is None:
            number = 1
        else:
            try:
                number = int(page)
            except ValueError:
                raise PlatformRefused("invalid_page", f"not a page number: {page!r}") from None
            if number < 1:
                raise PlatformRefused("invalid_page", f"not a page number: {page!r}")
        if page is None or self._window != (start, end):
            self._window, self._seen = (start, end), set()
        orders, total = await self._page(start, end, number, size)
        last = max(1, math.ceil(total / size))
        if self.rules.backwards:
            # Page 1 first for the total, then the last page back to page 1 (read again:
            # orders from later pages may have moved onto it meanwhile).
            if page is None:
                following = str(last) if last > 1 else None
            else:
                following = str(number - 1) if number > 1 else None
        else:
            following = str(number + 1) if number < last else None
        fresh = []
        for order in orders:
            identity = self._identity(order)
            if identity not in self._seen:
                self._seen.add(identity)
                fresh.append(order)
        return PulledPage(fresh, following, total)


class _GatewayClient(_OffsetPaged):
    """Taobao, PDD and JD: one signed POST endpoint, the method named in a parameter."""

    path = ""

    def _signed(self, params: dict[str, str]) -> dict[str, str]:
        params["sign"] = sign_params(
            params, _required(self._credentials, "app_secret", self.platform)
        )
        return params

    async def _call(self, params: dict[str, str]) -> dict[str, Any]:
        response = await self._send("POST", self.path, data=self._signed(params))
        if response.status_code >= 400:
            raise PlatformRefused(str(response.status_code), response.text[:200])
        body = self._json(response)
        if not isinstance(body, dict):
            raise PlatformUnavailable(f"{self.platform} answered {type(body).__name__}")
        if "error_response" in body:
            self._raise(body["error_response"])
        return body

    @abstractmethod
    def _raise(self, error: dict[str, Any]) -> None:
        """Raise the error a gateway's ``error_response`` stands for."""


class TaobaoClient(_GatewayClient):
    platform = "taobao"
    path = "router/rest"

    def _base(self, method: str) -> dict[str, str]:
        return {
            "method": method,
            "app_key": _required(self._credentials, "app_key", self.platform),
            "timestamp": cn_time(datetime.now(UTC)),
            "format": "json",
            "v": "2.0",
            "sign_method": "hmac-sha256",
        }

    def _raise(self, error: dict[str, Any]) -> None:
        code = str(error.get("code", ""))
        sub_code = str(error.get("sub_code") or "")
        message = str(error.get("sub_msg") or error.get("msg") or "")
        # 7: call limit reached; isp.*: the platform's own failure.
        if code == "7" or sub_code.startswith("isp."):
            raise PlatformUnavailable(f"taobao {code} {sub_code}: {message}")
        raise PlatformRefused(sub_code or code, message)

    async def now(self) -> datetime:
        body = await self._call(self._base("taobao.time.get"))
        return _parse_cn(body["time_get_response"]["time"])

    async def _page(
        self, start: datetime, end: datetime, number: int, size: int
    ) -> tuple[list[dict[str, Any]], int]:
        params = self._base("taobao.trades.sold.increment.get")
        params |= {
            "fields": "tid,status,modified,orders",
            "start_modified": cn_time(start),
            "end_modified": cn_time(end),
            "page_no": str(number),
            "page_size": str(size),
            "use_has_next": "true",
        }
        answer = (await self._call(params))["trades_sold_increment_get_response"]
        trades = (answer.get("trades") or {}).get("trade") or []
        return list(trades), int(answer.get("total_results", 0))

    def _identity(self, order: dict[str, Any]) -> tuple[str, str]:
        return str(order["tid"]), str(order.get("modified"))

    async def ship(self, request: dict[str, Any]) -> dict[str, Any]:
        params = self._base("taobao.logistics.offline.send")
        params |= {
            "tid": str(request["tid"]),
            "out_sid": str(request["out_sid"]),
            "company_code": str(request["company_code"]),
        }
        return await self._call(params)


class PddClient(_GatewayClient):
    platform = "pdd"
    path = "api/router"

    def _base(self, kind: str) -> dict[str, str]:
        return {
            "type": kind,
            "client_id": _required(self._credentials, "app_key", self.platform),
            "timestamp": str(int(datetime.now(UTC).timestamp())),
            "data_type": "JSON",
        }

    def _raise(self, error: dict[str, Any]) -> None:
        code = str(error.get("error_code", ""))
        sub_code = str(error.get("sub_code") or "")
        message = str(error.get("sub_msg") or error.get("error_msg") or "")
        # 70031: the app's rate limit; 5xxxx: the platform's own failure.
        if code == "70031" or code.startswith("5"):
            raise PlatformUnavailable(f"pdd {code} {sub_code}: {message}")
        raise PlatformRefused(sub_code or code, message)

    async def now(self) -> datetime:
        body = await self._call(self._base("pdd.time.get"))
        return _parse_cn(body["time_get_response"]["time"])

    async def _page(
        self, start: datetime, end: datetime, number: int, size: int
    ) -> tuple[list[dict[str, Any]], int]:
        params = self._base("pdd.order.number.list.increment.get")
        params |= {
            "start_updated_at": str(int(start.timestamp())),
            "end_updated_at": str(int(end.timestamp())),
            "page": str(number),
            "page_size": str(size),
            "is_lucky_flag": "0",
            "order_status": "5",
            "refund_status": "5",
        }
        answer = (await self._call(params))["order_sn_increment_get_response"]
        return list(answer.get("order_sn_list") or []), int(answer.get("total_count", 0))

    def _identity(self, order: dict[str, Any]) -> tuple[str, str]:
        return str(order["order_sn"]), str(order.get("updated_at"))

    async def ship(self, request: dict[str, Any]) -> dict[str, Any]:
        params = self._base("pdd.logistics.online.send")
        params |= {
            "order_sn": str(request["order_sn"]),
            "logistics_id": str(request["logistics_id"]),
            "tracking_number": str(request["tracking_number"]),
        }
        return await self._call(params)


class JdClient(_GatewayClient):
    platform = "jd"
    path = "routerjson"

    def _base(self, method: str, business: dict[str, Any]) -> dict[str, str]:
        return {
            "method": method,
            "app_key": _required(self._credentials, "app_key", self.platform),
            "timestamp": cn_time(datetime.now(UTC)),
            "v": "2.0",
            "360buy_param_json": json.dumps(business, ensure_ascii=False, separators=(",", ":")),
        }

    def _raise(self, error: dict[str, Any]) -> None:
        code = str(error.get("code", ""))
        message = str(error.get("en_desc") or error.get("zh_desc") or "")
        # 66/67: the gateway is busy or a service behind it failed.
        if code in ("66", "67"):
            raise PlatformUnavailable(f"jd {code}: {message}")
        raise PlatformRefused(code, message)

    async def now(self) -> datetime:
        return await self._date_header_now()

    async def _page(
        self, start: datetime, end: datetime, number: int, size: int
    ) -> tuple[list[dict[str, Any]], int]:
        business = {
            "start_date": cn_time(start),
            "end_date": cn_time(end),
            "order_state": "WAIT_SELLER_STOCK_OUT,WAIT_GOODS_RECEIVE_CONFIRM,FINISHED_L,"
            "TRADE_CANCELED,LOCKED,PAUSE",
            "page": str(number),
            "page_size": str(size),
            "date_type": "0",  # by modification time
        }
        body = await self._call(self._base("jingdong.pop.order.search", business))
        result = body["jingdong_pop_order_search_responce"]["searchorderinfo_result"]
        return list(result.get("orderInfoList") or []), int(result.get("orderTotal", 0))

    def _identity(self, order: dict[str, Any]) -> tuple[str, str]:
        return str(order["orderId"]), str(order.get("modified"))

    async def ship(self, request: dict[str, Any]) -> dict[str, Any]:
        business = {
            "orderId": str(request["orderId"]),
            "logiCoprId": str(request["logiCoprId"]),
            "logiNo": str(request["logiNo"]),
        }
        body = await self._call(self._base("jingdong.pop.order.shipment", business))
        result = body["jingdong_pop_order_shipment_responce"]["sopjosshipment_result"]
        if not result.get("success"):
            raise PlatformRefused(
                str(result.get("errorCode") or "refused"),
                str(result.get("englishErr") or result.get("chineseErr") or ""),
            )
        return body


class AmazonClient(_HttpClient):
    """Selling Partner API: getOrders over ``LastUpdatedAfter``/``Before``, NextToken paging,
    and confirmShipment. A 429 raises PlatformUnavailable with the Retry-After it gave."""

    platform = "amazon"

    def _headers(self) -> dict[str, str]:
        return {"x-amz-access-token": str(self._credentials.get("access_token") or "")}

    @property
    def _marketplace(self) -> str:
        return str(self._credentials.get("marketplace_id") or "ATVPDKIKX0DER")

    async def now(self) -> datetime:
        return await self._date_header_now()

    async def changed(self, start: datetime, end: datetime, page: str | None) -> PulledPage:
        params: dict[str, str] = {"MarketplaceIds": self._marketplace}
        if page is None:
            params |= {
                "LastUpdatedAfter": iso_z(start),
                "LastUpdatedBefore": iso_z(end),
                "MaxResultsPerPage": str(RULES["amazon"].page_size),
            }
        else:
            params["NextToken"] = page
        response = await self._send(
            "GET", "orders/v0/orders", params=params, headers=self._headers()
        )
        body = self._json(response)
        if response.status_code >= 400:
            raise _amazon_refusal(body, response.status_code)
        payload = body.get("payload") or {}
        orders = list(payload.get("Orders") or [])
        return PulledPage(orders, payload.get("NextToken") or None, None)

    async def ship(self, request: dict[str, Any]) -> dict[str, Any]:
        order_id = str(request.get("amazonOrderId") or request["amazon_order_id"])
        body = {
            "marketplaceId": request.get("marketplaceId") or self._marketplace,
            "packageDetail": request["packageDetail"],
        }
        response = await self._send(
            "POST",
            f"orders/v0/orders/{order_id}/shipmentConfirmation",
            json=body,
            headers=self._headers(),
        )
        if response.status_code >= 400:
            raise _amazon_refusal(self._json(response), response.status_code)
        return {"status": response.status_code}


def _amazon_refusal(body: Any, status: int) -> PlatformRefused:
    errors = body.get("errors") if isinstance(body, dict) else None
    first = errors[0] if isinstance(errors, list) and errors else {}
    return PlatformRefused(str(first.get("code") or status), str(first.get("message") or "")[:500])


class _PushPlatformClient(_HttpClient):
    """Shopify and WooCommerce send their orders as webhooks; the client only ships."""

    async def now(self) -> datetime:
        return await self._date_header_now()

    async def changed(self, start: datetime, end: datetime, page: str | None) -> PulledPage:
        raise PlatformRefused(
            "push_only", f"{self.platform} orders arrive as webhooks; nothing to pull"
        )

    def _refusal(self, response: httpx.Response) -> PlatformRefused:
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if isinstance(body, dict):
            code = str(body.get("code") or response.status_code)
            message = json.dumps(body.get("errors") or body.get("message") or body)
        else:
            code, message = str(response.status_code), str(body)
        return PlatformRefused(code, message[:500])


class ShopifyClient(_PushPlatformClient):
    platform = "shopify"

    async def ship(self, request: dict[str, Any]) -> dict[str, Any]:
        response = await self._send(
            "POST",
            f"admin/api/2024-10/orders/{_shopify_order(request)}/fulfillments.json",
            json={"fulfillment": request["fulfillment"]},
            headers={"X-Shopify-Access-Token": str(self._credentials.get("access_token") or "")},
        )
        if response.status_code >= 400:
            raise self._refusal(response)
        answer: dict[str, Any] = self._json(response)
        return answer


class WooCommerceClient(_PushPlatformClient):
    platform = "woocommerce"

    async def ship(self, request: dict[str, Any]) -> dict[str, Any]:
        auth = (str(self._credentials.get("app_key")), str(self._credentials.get("app_secret")))
        response = await self._send(
            "PUT",
            f"wp-json/wc/v3/orders/{request.get('order_id') or request['id']}",
            json={"status": request.get("status", "completed"), "meta_data": request["meta_data"]},
            auth=auth,
        )
        if response.status_code >= 400:
            raise self._refusal(response)
        answer: dict[str, Any] = self._json(response)
        return answer


def _parse_cn(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI).astimezone(UTC)


_CLIENTS: dict[str, type[_HttpClient]] = {
    "taobao": TaobaoClient,
    "pdd": PddClient,
    "jd": JdClient,
    "amazon": AmazonClient,
    "shopify": ShopifyClient,
    "woocommerce": WooCommerceClient,
}


def client_for(
    platform: str,
    credentials: Mapping[str, Any],
    timeout: float = 10.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> MarketplaceClient:
    """The client of ``platform`` with the channel's credentials (ValueError if the platform
    has no seller API or a credential it needs is missing)."""
    try:
        kind = _CLIENTS[platform]
    except KeyError:
        raise ValueError(f"no marketplace client for platform {platform!r}") from None
    return kind(credentials, timeout=timeout, transport=transport)


def _shopify_order(request: dict[str, Any]) -> str:
    """The order a fulfillment is for: beside it, or inside it (the adapter's shape)."""
    return str(request.get("order_id") or request["fulfillment"]["order_id"])
