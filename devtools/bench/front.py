"""What ``oms front`` adds to a request: ``python -m devtools.bench.front``.

Against a running ``oms dev`` (its ``run.json``; loopback only) it starts a front of its
own (``oms front`` on a free port) with ONE backend, the first API process, and sends the
same requests to that API directly and through the front, interleaved (each client
alternates the two paths), so both see the same backend, the same load on the machine and
the same moments. Two passes: ``GET /health`` (the front's cost alone shows) and
``POST /v1/orders`` (the API's real work; orders of a warehouse and SKU of the bench's own,
so they are accepted and run). Reported per pass and path: p50 and p99 in ms, and the
added p50 / p99 (front minus direct); and the front's CPU per request next to the API
process's, read from /proc, since the front sits in the path of every request on a machine
of few cores.

    python -m devtools.bench.front --requests 400 --concurrency 8

``--stub``: no ``oms dev``; the backend is a stub of the bench's own (a uvicorn app that
answers a POST with 1 KB of JSON at once), so the front's own cost shows without the API's
noise: ``python -m devtools.bench.front --stub --requests 2000``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from typing import Any
from urllib.parse import urlparse

import httpx

from devtools.bench.figures import percentile
from devtools.bench.probe import tree_cpu_s
from devtools.order_body import order_body
from devtools.ports import free_port
from oms.settings import get_settings

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _target() -> dict[str, Any]:
    from devtools.dev import read_run_file

    home = get_settings().home.resolve()
    run = read_run_file(home)
    if run is None:
        raise SystemExit(f"error: no running oms dev found under {home} (start it with make dev)")
    urls = run.get("api_urls") or [run["api_url"]]
    if urlparse(urls[0]).hostname not in LOOPBACK:
        raise SystemExit(f"error: {urls[0]} is not on loopback")
    pids = run["pids"]
    key = json.loads((home / "secrets.json").read_text())["admin_api_key"]
    return {
        "api": urls[0],
        "api_pid": pids.get("api-1") or pids.get("api"),
        "key": os.environ.get("OMS_ADMIN_API_KEY") or key,
    }


async def _stub_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An API stand-in that costs next to nothing: reads the body, answers 1 KB of JSON."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    body = json.dumps({"id": "0" * 20, "status": "accepted", "pad": "x" * 960}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 202,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _serve_stub(port: int) -> None:
    import uvicorn

    uvicorn.run(
        _stub_app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


def _start_stub() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtools.bench.front", "--serve-stub", str(port)]
    )
    url = f"http://127.0.0.1:{port}"
    _wait_up(proc, f"{url}/health")
    return proc, url


def _wait_up(proc: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"error: {url} did not come up")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _start_front(api: str) -> tuple[subprocess.Popen[bytes], str]:
    host = urlparse(api).hostname or "127.0.0.1"
    port = free_port(host)
    backend = f"{host}:{urlparse(api).port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "oms.cli", "front", "--port", str(port), "--backend", backend],
        env={**os.environ, "OMS_LOG_FORMAT": "json"},
        stdout=subprocess.DEVNULL,
    )
    url = f"http://{host}:{port}"
    _wait_up(proc, f"{url}/front/health")
    return proc, url


async def _setup(http: httpx.AsyncClient, run: str, stock: int) -> str:
    warehouse, sku = f"front-{run}", f"FRONT-{run}"
    answer = await http.post(
        "/v1/warehouses",
        json={"id": warehouse, "name": warehouse, "country": "DE", "lat": 52.5, "lon": 13.4},
    )
    answer.raise_for_status()
    (await http.put(f"/v1/stock/{warehouse}/{sku}", json={"on_hand": stock})).raise_for_status()
    return sku


async def _pass(
    direct: httpx.AsyncClient,
    front: httpx.AsyncClient,
    requests: int,
    concurrency: int,
    call: Any,
) -> tuple[dict[str, list[float]], dict[str, list[str]]]:
    """``requests`` calls per path, ``concurrency`` clients, each alternating the paths:
    the seconds of each answered call and the failures (status or error), per path."""
    times: dict[str, list[float]] = {"direct": [], "front": []}
    sequence = iter(range(requests * 2))

    async def client(offset: int) -> None:
        for n in sequence:
            path = "direct" if (n + offset) % 2 == 0 else "front"
            http = direct if path == "direct" else front
            started = time.perf_counter()
            try:
                response = await call(http, n)
            except httpx.HTTPError as exc:  # counted, not timed: the figures say how many
                errors[path].append(type(exc).__name__)
                continue
            times[path].append(time.perf_counter() - started)
            if response.status_code >= 400:
                errors[path].append(str(response.status_code))

    errors: dict[str, list[str]] = {"direct": [], "front": []}
    await asyncio.gather(*(client(i) for i in range(concurrency)))
    return times, errors


def _summary(times: dict[str, list[float]], errors: dict[str, list[str]]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for path in ("direct", "front"):
        values = times[path]
        ms = [v * 1000 for v in values]
        figures[path] = {
            "n": len(ms),
            "p50_ms": round(percentile(ms, 50) or 0, 2),
            "p99_ms": round(percentile(ms, 99) or 0, 2),
            "errors": errors[path],
        }
    figures["added_p50_ms"] = round(figures["front"]["p50_ms"] - figures["direct"]["p50_ms"], 2)
    figures["added_p99_ms"] = round(figures["front"]["p99_ms"] - figures["direct"]["p99_ms"], 2)
    return figures


async def run_stub(requests: int, concurrency: int) -> dict[str, Any]:
    """The front before a stub backend: its own latency and CPU per request."""
    stub, stub_url = _start_stub()
    try:
        proc, front_url = _start_front(stub_url)
    except BaseException:
        _stop(stub)
        raise
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    payload = b"x" * 600  # about an order's JSON
    report: dict[str, Any] = {"requests_per_path": requests, "concurrency": concurrency}
    try:
        async with (
            httpx.AsyncClient(base_url=stub_url, limits=limits) as direct,
            httpx.AsyncClient(base_url=front_url, limits=limits) as front,
        ):

            async def post(http: httpx.AsyncClient, n: int) -> httpx.Response:
                return await http.post("/v1/orders", content=payload)

            await _pass(direct, front, min(requests, 200), concurrency, post)  # warm up
            front_cpu, stub_cpu = tree_cpu_s(proc.pid) or 0.0, tree_cpu_s(stub.pid) or 0.0
            times, errors = await _pass(direct, front, requests, concurrency, post)
            figures = _summary(times, errors)
            front_cpu = (tree_cpu_s(proc.pid) or 0.0) - front_cpu
            stub_cpu = (tree_cpu_s(stub.pid) or 0.0) - stub_cpu
            figures["front_cpu_ms_per_request"] = round(front_cpu * 1000 / requests, 3)
            figures["api_cpu_ms_per_request"] = round(stub_cpu * 1000 / (2 * requests), 3)
            report["stub"] = figures
    finally:
        _stop(proc)
        _stop(stub)
    return report


async def run_bench(requests: int, concurrency: int) -> dict[str, Any]:
    target = _target()
    proc, front_url = _start_front(target["api"])
    headers = {"Authorization": f"Bearer {target['key']}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    run = secrets.token_hex(3)
    report: dict[str, Any] = {"requests_per_path": requests, "concurrency": concurrency}
    try:
        async with (
            httpx.AsyncClient(
                base_url=target["api"], headers=headers, limits=limits, timeout=60
            ) as direct,
            httpx.AsyncClient(
                base_url=front_url, headers=headers, limits=limits, timeout=60
            ) as front,
        ):
            sku = await _setup(direct, run, stock=requests * 2 + 10)

            async def health(http: httpx.AsyncClient, n: int) -> httpx.Response:
                return await http.get("/health")

            async def order(http: httpx.AsyncClient, n: int) -> httpx.Response:
                body = order_body(
                    "Bench-front", f"front-{run}-{n}", f"front-{run}", f"{run} Front St",
                    [(sku, 1, "9.90")],
                )  # fmt: skip
                return await http.post("/v1/orders", json=body)

            for name, call in (("health", health), ("orders", order)):
                await _pass(direct, front, min(requests, 50), concurrency, call)  # warm up
                front_cpu = tree_cpu_s(proc.pid) or 0.0
                api_cpu = tree_cpu_s(target["api_pid"]) or 0.0 if target["api_pid"] else 0.0
                times, errors = await _pass(direct, front, requests, concurrency, call)
                front_cpu = (tree_cpu_s(proc.pid) or 0.0) - front_cpu
                api_cpu = (
                    (tree_cpu_s(target["api_pid"]) or 0.0) - api_cpu if target["api_pid"] else 0.0
                )
                figures = _summary(times, errors)
                # The front handled `requests` of them, the API all 2 x `requests`.
                figures["front_cpu_ms_per_request"] = round(front_cpu * 1000 / requests, 3)
                figures["api_cpu_ms_per_request"] = round(api_cpu * 1000 / (2 * requests), 3)
                report[name] = figures
    finally:
        _stop(proc)
    return report


def render(report: dict[str, Any]) -> str:
    lines = [
        f"oms front overhead: {report['requests_per_path']} requests per path, "
        f"concurrency {report['concurrency']}, one backend behind the front",
        f"{'pass':<8}{'path':<8}{'p50 ms':>9}{'p99 ms':>9}",
    ]
    for name in ("stub", "health", "orders"):
        if name not in report:
            continue
        figures = report[name]
        for path in ("direct", "front"):
            errors = figures[path]["errors"]
            lines.append(
                f"{name:<8}{path:<8}{figures[path]['p50_ms']:>9.2f}{figures[path]['p99_ms']:>9.2f}"
                + (f"   errors: {', '.join(sorted(set(errors)))} ({len(errors)})" if errors else "")
            )
        lines.append(
            f"{name:<8}{'added':<8}{figures['added_p50_ms']:>9.2f}{figures['added_p99_ms']:>9.2f}"
            f"   CPU per request: front {figures['front_cpu_ms_per_request']:.2f} ms, "
            f"{'stub' if name == 'stub' else 'API'} {figures['api_cpu_ms_per_request']:.2f} ms"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.bench.front", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--requests", type=int, default=400, help="per path and pass")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--stub", action="store_true", help="a stub backend of the bench's own, no oms dev"
    )
    parser.add_argument("--serve-stub", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_stub:
        _serve_stub(args.serve_stub)
        return
    if not 1 <= args.requests <= 100_000 or not 1 <= args.concurrency <= 256:
        raise SystemExit("error: --requests 1..100000, --concurrency 1..256")
    run = run_stub if args.stub else run_bench
    report = asyncio.run(run(args.requests, args.concurrency))
    print(json.dumps(report, indent=2) if args.json else render(report), flush=True)


if __name__ == "__main__":
    main()
