"""``oms front`` (oms.front) against real little backends on loopback: uvicorn servers in
this process, a raw socket server that takes a request and drops the connection (a backend
dying mid-request), and ports where nothing listens (a backend that is down)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import uvicorn

from devtools.ports import free_port
from oms.front import HEALTH_PATH, Front

Scope = dict[str, Any]


def backend_app(name: str) -> Callable[..., Any]:
    """An ASGI app that says who it is, echoes what it was sent, and streams on /stream."""

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/stream":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"text/csv"), (b"x-backend", name.encode())],
                }
            )
            for n in range(5):
                await send(
                    {"type": "http.response.body", "body": b"row,%d\n" % n, "more_body": True}
                )
                await asyncio.sleep(0.05)
            await send({"type": "http.response.body", "body": b""})
            return
        answer = json.dumps(
            {
                "backend": name,
                "method": scope["method"],
                "path": scope["path"],
                "query": scope["query_string"].decode(),
                "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
                "body": body.decode(),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 201 if scope["method"] == "POST" else 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"x-backend", name.encode()),
                    (b"set-cookie", b"a=1"),
                    (b"set-cookie", b"b=2"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    return app


async def serve(app: Any, port: int, **options: Any) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="auto", **options
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    return server, task


class Stack:
    def __init__(self) -> None:
        self.servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []
        self.front: Front | None = None
        self.url = ""

    async def backend(self, name: str) -> str:
        port = free_port()
        self.servers.append(await serve(backend_app(name), port))
        return f"127.0.0.1:{port}"

    async def start_front(self, backends: list[str]) -> httpx.AsyncClient:
        port = free_port()
        self.front = Front(backends)
        # As oms.front.serve runs it: the peer's own address, the backend's own headers.
        self.servers.append(
            await serve(
                self.front, port, proxy_headers=False, server_header=False, date_header=False
            )
        )
        self.url = f"http://127.0.0.1:{port}"
        return httpx.AsyncClient(base_url=self.url, timeout=10)

    async def close(self) -> None:
        for server, task in reversed(self.servers):
            server.should_exit = True
            await task


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    made = Stack()
    yield made
    await made.close()


async def test_round_robin_per_request_on_one_kept_alive_connection(stack: Stack) -> None:
    backends = [await stack.backend(name) for name in ("a", "b", "c")]
    async with await stack.start_front(backends) as http:
        # One client, one kept-alive connection: the requests still go round.
        seen = [(await http.get("/v1/x")).headers["x-backend"] for _ in range(9)]
    assert seen[:3] in (["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"])
    assert seen == seen[:3] * 3


async def test_request_and_answer_pass_unchanged_with_forwarded_headers(stack: Stack) -> None:
    backend = await stack.backend("a")
    async with await stack.start_front([backend]) as http:
        answer = await http.post(
            "/v1/orders?dry=1&x=%20y",
            content=b'{"k": "v"}',
            headers={
                "Authorization": "Bearer secret",
                "Idempotency-Key": "k1",
                "Content-Type": "application/json",
                "X-Forwarded-For": "203.0.113.9",
            },
        )
    assert answer.status_code == 201
    assert answer.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert answer.headers["content-type"] == "application/json"
    seen = answer.json()
    assert (seen["method"], seen["path"], seen["query"]) == ("POST", "/v1/orders", "dry=1&x=%20y")
    assert seen["body"] == '{"k": "v"}'
    headers = seen["headers"]
    assert headers["authorization"] == "Bearer secret"
    assert headers["idempotency-key"] == "k1"
    assert headers["host"] == stack.url.removeprefix("http://")
    assert headers["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"


async def test_streamed_answer_arrives_in_pieces(stack: Stack) -> None:
    backend = await stack.backend("a")
    async with await stack.start_front([backend]) as http:
        async with http.stream("GET", "/stream") as answer:
            assert answer.headers["content-type"] == "text/csv"
            chunks = [chunk async for chunk in answer.aiter_raw()]
    assert b"".join(chunks) == b"".join(b"row,%d\n" % n for n in range(5))
    assert len(chunks) > 1  # not gathered into one body by the front


async def test_refused_backend_is_skipped_and_marked_down(stack: Stack) -> None:
    alive = await stack.backend("a")
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    async with await stack.start_front([dead, alive]) as http:
        answers = [await http.post("/v1/orders", content=b"{}") for _ in range(6)]
        health = (await http.get(HEALTH_PATH)).json()
    assert [a.status_code for a in answers] == [201] * 6
    assert {a.headers["x-backend"] for a in answers} == {"a"}
    by_address = {b["address"]: b for b in health["backends"]}
    assert by_address[dead]["up"] is False
    assert by_address[alive]["requests"] == 6
    assert health["failures"]["refused"] >= 1


async def test_backend_dying_mid_request_is_a_502_problem(stack: Stack) -> None:
    taken: list[bytes] = []

    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        taken.append(await reader.read(65536))  # the request reached it ...
        writer.transport.abort()  # ... and it died before answering

    port = free_port()
    dying = await asyncio.start_server(drop, "127.0.0.1", port)
    try:
        async with await stack.start_front([f"127.0.0.1:{port}"]) as http:
            answer = await http.post("/v1/orders", content=b'{"n": 1}')
    finally:
        dying.close()
        await dying.wait_closed()
    assert taken and taken[0].startswith(b"POST /v1/orders")
    assert answer.status_code == 502
    assert answer.headers["content-type"] == "application/problem+json"
    assert int(answer.headers["retry-after"]) >= 1
    problem = answer.json()
    assert problem["status"] == 502 and problem["type"].endswith("/api-dropped")


async def test_all_backends_down_is_a_503_problem(stack: Stack) -> None:
    down = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    async with await stack.start_front(down) as http:
        answer = await http.get("/v1/orders")
        health = await http.get(HEALTH_PATH)
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert int(answer.headers["retry-after"]) >= 1
    assert answer.json()["type"].endswith("/api-unavailable")
    assert health.status_code == 503 and health.json()["status"] == "down"


async def test_a_host_name_counts_once_per_address(stack: Stack) -> None:
    port = free_port()
    # localhost may resolve to 127.0.0.1 and ::1; the backend listens on the first only,
    # so the other address is refused and skipped and every request is still answered.
    stack.servers.append(await serve(backend_app("a"), port))
    async with await stack.start_front([f"localhost:{port}"]) as http:
        answers = [await http.get("/x") for _ in range(4)]
        health = (await http.get(HEALTH_PATH)).json()
    assert [a.status_code for a in answers] == [200] * 4
    assert f"127.0.0.1:{port}" in {b["address"] for b in health["backends"]}


async def test_head_and_a_chunked_request_body_pass(stack: Stack) -> None:
    backend = await stack.backend("a")

    async def pieces():  # no length: the client sends the body chunked
        for piece in (b'{"a": ', b"1}"):
            yield piece

    async with await stack.start_front([backend]) as http:
        head = await http.head("/v1/x")
        posted = await http.post("/v1/orders", content=pieces())
        after = await http.get("/v1/y")  # the kept-alive backend connection still works
    assert head.status_code == 200 and head.content == b""
    assert head.headers["x-backend"] == "a"
    assert posted.status_code == 201 and posted.json()["body"] == '{"a": 1}'
    assert after.status_code == 200 and after.json()["path"] == "/v1/y"
