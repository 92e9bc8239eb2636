"""The front's side towards a backend: one HTTP/1.1 exchange on a kept-alive connection,
the answer parsed by httptools (llhttp, in C) and relayed to the client as it comes.

Written for the front alone instead of a general client (httpx): the front needs three
outcomes told apart -- refused (nothing reached the backend), dropped (it had the request
and went away before the answer's head), relayed -- and the least CPU per request, since
it sits in the path of every request; ``python -m devtools.bench.front`` measures it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import httptools

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

# Idle connections to a backend are dropped before uvicorn's own keep-alive timeout (5 s)
# could close one just as the front reuses it (which would look like a backend that died).
KEEPALIVE_EXPIRY_S = 2.0
# Idle connections kept per backend; more are closed after their exchange.
MAX_IDLE = 64
READ_SIZE = 65536
# Hop-by-hop headers (RFC 9110 7.6.1): about one connection, never passed on.
HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)


class Refused(Exception):
    """The backend could not be reached: it never saw the request."""


class Dropped(Exception):
    """The backend had the request and closed the connection before answering."""


class AnswerTimeout(Exception):
    """The backend took the request and did not begin its answer in time."""


@dataclass
class Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def usable(self, now: float) -> bool:
        return (
            now - self.idle_since < KEEPALIVE_EXPIRY_S
            and not self.reader.at_eof()
            and not self.writer.is_closing()
        )


@dataclass
class Upstream:
    """Kept-alive connections to one backend address."""

    host: str
    port: int
    connect_timeout_s: float = 2.0
    idle: list[Connection] = field(default_factory=list)

    async def connection(self) -> Connection:
        now = time.monotonic()
        while self.idle:
            conn = self.idle.pop()
            if conn.usable(now):
                return conn
            conn.writer.close()
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                reader, writer = await asyncio.open_connection(self.host, self.port)
        except (OSError, TimeoutError) as exc:
            raise Refused(type(exc).__name__) from exc
        return Connection(reader, writer)

    def release(self, conn: Connection) -> None:
        if len(self.idle) < MAX_IDLE and not conn.writer.is_closing():
            conn.idle_since = time.monotonic()
            self.idle.append(conn)
        else:
            conn.writer.close()

    def close(self) -> None:
        for conn in self.idle:
            conn.writer.close()
        self.idle.clear()


class _Answer:
    """httptools' callbacks: the head, the body pieces not yet relayed, the end."""

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.pieces: list[bytes] = []
        self.head_done = False
        self.done = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.head_done = True

    def on_body(self, body: bytes) -> None:
        self.pieces.append(bytes(body))

    def on_message_complete(self) -> None:
        self.done = True


def request_head(method: str, target: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    lines = [method.encode() + b" " + target + b" HTTP/1.1"]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def exchange(
    upstream: Upstream, head: bytes, body: bytes, send: Send, is_head: bool, timeout_s: float
) -> None:
    """Send one request and relay the answer to ``send`` (ASGI). Raises ``Refused``,
    ``Dropped`` or ``AnswerTimeout`` before anything went to the client; a backend that
    dies mid-body ends the client's answer short (the error propagates)."""
    conn = await upstream.connection()
    answer = _Answer()
    parser = httptools.HttpResponseParser(answer)
    reusable = False
    try:
        try:
            conn.writer.write(head + body if body else head)
            async with asyncio.timeout(timeout_s):
                while not answer.head_done:
                    data = await conn.reader.read(READ_SIZE)
                    if not data:
                        raise Dropped("closed before the answer")
                    parser.feed_data(data)
        except TimeoutError as exc:
            raise AnswerTimeout() from exc
        except (OSError, httptools.HttpParserError) as exc:
            raise Dropped(type(exc).__name__) from exc
        status = parser.get_status_code()
        headers = [(n, v) for n, v in answer.headers if n.lower() not in HOP]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if is_head or status in (204, 304) or 100 <= status < 200:
            answer.done = True
        while True:
            for piece in answer.pieces:
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            answer.pieces.clear()
            if answer.done:
                break
            data = await conn.reader.read(READ_SIZE)
            if not data:
                if _delimited_by_close(answer.headers):
                    break  # an answer without a length ends with its connection
                raise ConnectionResetError("the backend closed the connection mid-answer")
            parser.feed_data(data)
        await send({"type": "http.response.body", "body": b""})
        reusable = not is_head and parser.should_keep_alive()
    finally:
        if reusable:
            upstream.release(conn)
        else:
            conn.writer.close()


def _delimited_by_close(headers: list[tuple[bytes, bytes]]) -> bool:
    names = {name.lower() for name, _ in headers}
    return b"content-length" not in names and b"transfer-encoding" not in names
