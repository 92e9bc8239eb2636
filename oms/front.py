"""``oms front``: a small round-robin HTTP front for several API processes.

One API process runs one request's Python at a time, so the API scales out as processes
(``oms dev --api N``, or a scaled ``api`` service in compose) behind one address. The front
is that address: each REQUEST goes to the next backend in turn (so a client that keeps its
connection open still spreads), passed on unchanged (method, path, headers, body) with
``X-Forwarded-For`` and ``X-Forwarded-Proto`` added, and the answer comes back as it was
given (status, headers, body streamed, so a CSV download is not held in memory).

Backends are ``host:port``; a host name that resolves to several addresses (Docker's DNS
for a scaled service) counts as one backend per address, resolved again every few seconds
as replicas come and go.

Failures, and why each is answered as it is:

- a backend that refuses the connection never saw the request: it is marked down for a
  moment and the request goes to the next one;
- a backend that drops the connection after the request was sent may or may not have
  acted on it: the client gets a 502 problem with ``Retry-After`` and decides (order
  submissions are idempotent by (channel, external_id), so resending them is safe);
- every backend down: 503 with ``Retry-After``, as for any dependency that is down.

Built on uvicorn (httptools, uvloop) towards the client and a small HTTP/1.1 client of its
own towards the backends (oms.front_upstream: kept-alive connections, answers parsed by
httptools and relayed piece by piece). A first version used httpx there and cost about
seven times the CPU per request; docs/performance.md has both figures. Request bodies are
read whole before a backend is chosen, so the refused-backend retry can send them again;
the API's bodies are small.

``GET /front/health`` is the front's own: its backends, which are marked down, and how many
requests each has been given.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from oms.front_upstream import (
    HOP,
    AnswerTimeout,
    Dropped,
    Refused,
    Upstream,
    exchange,
    request_head,
)
from oms.logging import get_logger

log = get_logger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

HEALTH_PATH = "/front/health"
# A refused backend is left out this long before it is tried again.
DOWN_FOR_S = 1.0
# Host names are resolved again this often (replicas of a scaled service come and go).
RESOLVE_EVERY_S = 5.0
# What the client is told to wait before retrying a 502 or a 503.
RETRY_AFTER_S = 1
PROBLEM_TYPE = "https://oms.example/problems/"
# Not passed on: the hop-by-hop headers, the length (the body is re-sent whole, with its
# own) and Expect (uvicorn already answered the client's 100-continue).
_REQUEST_DROP = HOP | {b"content-length", b"expect"}
_BODILESS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})


def parse_backend(spec: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for an IPv6 address) as (host, port)."""
    host, sep, port = spec.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"a backend is host:port, not {spec!r}")
    return host.strip("[]"), int(port)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass
class Backend:
    """One address that serves the API."""

    host: str
    port: int
    down_until: float = 0.0
    requests: int = 0
    upstream: Upstream = field(init=False)

    def __post_init__(self) -> None:
        self.upstream = Upstream(self.host, self.port)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass
class Pool:
    """The backends, in turn: the configured ``host:port``s, each host name expanded to
    the addresses it resolves to (re-resolved every ``RESOLVE_EVERY_S``)."""

    specs: list[tuple[str, int]]
    backends: list[Backend] = field(default_factory=list)
    resolved_at: float = 0.0
    turn: int = 0
    _resolving: asyncio.Task[None] | None = None

    async def resolve(self) -> None:
        """Resolve every host name; a name that does not resolve now keeps its addresses
        from the last time (a DNS hiccup is not a dead backend)."""
        loop = asyncio.get_running_loop()
        known = {(b.host, b.port): b for b in self.backends}
        fresh: list[Backend] = []
        for host, port in self.specs:
            if _is_address(host):
                addresses = [host]
            else:
                try:
                    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
                    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
                except OSError as exc:
                    log.warning("front_resolve_failed", host=host, error=str(exc)[:200])
                    addresses = [b.host for b in self.backends if (b.host, b.port) in known]
            for address in addresses:
                if all((b.host, b.port) != (address, port) for b in fresh):
                    fresh.append(known.get((address, port)) or Backend(address, port))
        if [(b.host, b.port) for b in fresh] != [(b.host, b.port) for b in self.backends]:
            log.info("front_backends", backends=[f"{b.host}:{b.port}" for b in fresh])
        self.backends = fresh
        self.resolved_at = time.monotonic()

    async def current(self) -> list[Backend]:
        """The backends; resolved at first use, then again in the background when due."""
        if not self.backends and self.resolved_at == 0.0:
            await self.resolve()
        elif time.monotonic() - self.resolved_at > RESOLVE_EVERY_S and (
            self._resolving is None or self._resolving.done()
        ):
            self.resolved_at = time.monotonic()  # one refresh at a time
            self._resolving = asyncio.get_running_loop().create_task(self.resolve())
        return self.backends

    async def order(self) -> list[Backend]:
        """Every backend not marked down, starting with the one whose turn it is."""
        backends = await self.current()
        if not backends:
            return []
        now = time.monotonic()
        start = self.turn % len(backends)
        self.turn += 1
        rotated = backends[start:] + backends[:start]
        return [b for b in rotated if b.down_until <= now]


def problem(status: int, detail: str, kind: str) -> tuple[dict[str, Any], bytes]:
    body = {
        "type": PROBLEM_TYPE + kind,
        "title": {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}[status],
        "status": status,
        "detail": detail,
    }
    return body, json.dumps(body).encode()


class Front:
    """The ASGI application of ``oms front``."""

    def __init__(self, backends: list[str], timeout_s: float = 300.0) -> None:
        self.pool = Pool([parse_backend(spec) for spec in backends])
        self.timeout_s = timeout_s
        self.failures = {"refused": 0, "bad_gateway": 0, "unavailable": 0}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":  # websockets: the API serves none
            return
        if scope["path"] == HEALTH_PATH:
            await self._health(send)
            return
        body = await _read_body(receive)
        target = scope["raw_path"] or scope["path"].encode()
        if scope["query_string"]:
            target += b"?" + scope["query_string"]
        headers = _forwarded_headers(scope)
        if body or scope["method"] not in _BODILESS:
            headers.append((b"content-length", str(len(body)).encode()))
        head = request_head(scope["method"], target, headers)
        for backend in await self.pool.order():
            try:
                await exchange(
                    backend.upstream, head, body, send, scope["method"] == "HEAD", self.timeout_s
                )
            except Refused as exc:
                # Nothing reached it: the next backend may take the request.
                now = time.monotonic()
                if backend.down_until <= now - DOWN_FOR_S:  # once per outage, not per retry
                    log.warning("front_backend_down", backend=backend.address, error=str(exc))
                backend.down_until = now + DOWN_FOR_S
                self.failures["refused"] += 1
                continue
            except AnswerTimeout:
                await self._problem(send, 504, "the API did not answer in time", "api-timeout")
                return
            except Dropped as exc:  # it had the request and dropped the connection
                self.failures["bad_gateway"] += 1
                log.warning("front_backend_dropped", backend=backend.address, error=str(exc))
                await self._problem(
                    send,
                    502,
                    "the API process handling the request went away before answering; "
                    "whether it acted on it is unknown: retry (order submissions are "
                    "idempotent)",
                    "api-dropped",
                )
                return
            backend.requests += 1
            return
        self.failures["unavailable"] += 1
        await self._problem(send, 503, "no API process is reachable", "api-unavailable")

    async def _problem(self, send: Send, status: int, detail: str, kind: str) -> None:
        _, body = problem(status, detail, kind)
        headers = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if status in (502, 503):
            headers.append((b"retry-after", str(RETRY_AFTER_S).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _health(self, send: Send) -> None:
        backends = await self.pool.current()
        now = time.monotonic()
        report = {
            "status": "ok" if any(b.down_until <= now for b in backends) else "down",
            "backends": [
                {"address": f"{b.host}:{b.port}", "up": b.down_until <= now, "requests": b.requests}
                for b in backends
            ],
            "failures": self.failures,
        }
        body = json.dumps(report).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200 if report["status"] == "ok" else 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.pool.resolve()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for backend in self.pool.backends:
                    backend.upstream.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _forwarded_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The client's headers less the hop-by-hop ones, with X-Forwarded-For (the client's
    address appended) and X-Forwarded-Proto (kept if a front before us set it)."""
    headers: list[tuple[bytes, bytes]] = []
    forwarded_for = b""
    proto = b""
    listed: set[bytes] = set()  # headers the client's Connection header names
    for name, value in scope["headers"]:
        if name == b"connection":
            listed |= {token.strip().lower() for token in value.split(b",")}
    for name, value in scope["headers"]:
        if name in _REQUEST_DROP or name in listed:
            continue
        if name == b"x-forwarded-for":
            forwarded_for = value
            continue
        if name == b"x-forwarded-proto":
            proto = value
            continue
        headers.append((name, value))
    client = scope.get("client")
    if client:
        address = client[0].encode()
        forwarded_for = forwarded_for + b", " + address if forwarded_for else address
    if forwarded_for:
        headers.append((b"x-forwarded-for", forwarded_for))
    headers.append((b"x-forwarded-proto", proto or scope.get("scheme", "http").encode()))
    return headers


def serve(port: int, backends: list[str], host: str) -> None:
    """Serve the front on ``host:port`` until stopped."""
    import uvicorn

    from oms.loop import uvicorn_loop
    from oms.ports import require_free
    from oms.settings import get_settings

    settings = get_settings()
    for spec in backends:
        parse_backend(spec)  # a bad spec is a message before anything starts
    require_free(host, port, "front", "--port")
    uvicorn.run(
        Front(backends),
        host=host,
        port=port,
        loop=uvicorn_loop(settings),
        http="httptools",
        lifespan="on",
        log_level="warning",
        access_log=False,
        log_config=None,
        proxy_headers=False,  # the client's own address goes into X-Forwarded-For
        server_header=False,  # the backend's headers go back as they were
        date_header=False,
    )
