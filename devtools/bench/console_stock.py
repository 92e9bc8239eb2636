"""The console's stock page on a big stock table, and its CSV import through the page.

    .venv/bin/python -m devtools.bench.console_stock                 # an embedded PostgreSQL
    DATABASE_URL=postgresql://... .venv/bin/python -m devtools.bench.console_stock

Without ``DATABASE_URL`` a throwaway PostgreSQL (pgserver) is started in a temporary
directory. The run makes ``--warehouses`` warehouses of its own, serves the API (uvicorn,
one process, no Temporal: the stock page needs none), signs in as an operator and uploads a
file of ``--warehouses`` x ``--skus`` levels to ``POST /console/stock/imports`` (multipart),
polling the import's progress as the page does, until it is done: the time from the upload
to the end, and the rows/s. Then it reads the stock page (first page, a SKU prefix, a
warehouse, a page deep in the table, the short SKUs) and a pair's movements ``--reads``
times each, and prints p50 and p99 in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

from devtools.bench.stock_import import create_warehouses, write_levels


async def _serve(database_url: str, port: int) -> tuple[object, asyncio.Task[None], object]:
    import uvicorn

    from api.app import create_app
    from oms.db.engine import make_engine
    from oms.logging import configure_logging
    from oms.settings import Settings

    configure_logging("json", "warning")
    settings = Settings(database_url=database_url, api_port=port, log_level="warning")
    engine = make_engine(settings)
    app = create_app(settings, engine)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # it failed to start: say why
        await asyncio.sleep(0.05)
    return server, task, engine


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms"


async def run(database_url: str, warehouses: int, skus: int, reads: int) -> None:
    from devtools.ports import free_port
    from oms import users

    run_id = uuid.uuid4().hex[:8]
    ids = await create_warehouses(database_url, run_id, warehouses)
    port = free_port()
    server, task, engine = await _serve(database_url, port)
    try:
        user = await users.create_user(engine, f"bench-{run_id}", "operator", by="bench")  # type: ignore[arg-type]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600) as http:
            login = await http.get("/console/login")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
            await http.post(
                "/console/login",
                data={"csrf_token": csrf, "name": user.name, "password": user.password},
            )
            page = await http.get("/console/stock")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            with tempfile.TemporaryDirectory(prefix="oms-bench-") as tmp:
                path = Path(tmp) / "levels.csv"
                rows = write_levels(path, ids, skus, run_id, datetime.now(UTC))
                size = path.stat().st_size
                print(f"{rows:,} rows, {size / 1_048_576:.1f} MiB (run {run_id})")
                started = time.perf_counter()
                answer = await http.post(
                    "/console/stock/imports",
                    data={"csrf_token": csrf, "note": "bench", "skip_invalid": "1"},
                    files={"file": ("levels.csv", path.read_bytes(), "text/csv")},
                    headers={"HX-Request": "true"},
                )
                taken = time.perf_counter() - started
                import_id = re.search(r'data-import="(\d+)"', answer.text).group(1)  # type: ignore[union-attr]
                status = "checking"
                while status in ("checking", "applying"):
                    await asyncio.sleep(0.25)
                    part = await http.get(
                        f"/console/stock/imports/{import_id}", headers={"HX-Request": "true"}
                    )
                    status = re.search(r'data-status="([a-z]+)"', part.text).group(1)  # type: ignore[union-attr]
                done = time.perf_counter() - started
                applied = re.search(r'data-applied="(\d+)"', part.text)
                print(
                    f"import: upload answered in {taken:.2f} s, {status} in {done:.2f} s "
                    f"({rows / done:,.0f} rows/s), applied {applied.group(1) if applied else '?'}"
                )
            sku = f"BENCH-{run_id}-{skus // 2:06d}"
            reads_of = {
                "stock page, first page": ("/console/stock", {}),
                "stock page, a SKU prefix": ("/console/stock", {"sku": f"BENCH-{run_id}-0100"}),
                "stock page, a warehouse": ("/console/stock", {"warehouse": ids[-1]}),
                "stock page, deep (keyset)": (
                    "/console/stock",
                    {"after_sku": sku, "after_warehouse": ids[0]},
                ),
                "stock page, short SKUs": ("/console/stock", {"short": "true"}),
                "movements of a pair": (
                    "/console/stock/history",
                    {"warehouse": ids[0], "sku": sku},
                ),
            }
            for name, (url, params) in reads_of.items():
                samples = []
                for _ in range(reads):
                    began = time.perf_counter()
                    response = await http.get(url, params=params)
                    samples.append(time.perf_counter() - began)
                    assert response.status_code == 200, response.text[:500]
                print(f"{name:<28} {_percentiles(samples)}  ({reads} reads)")
    finally:
        server.should_exit = True  # type: ignore[attr-defined]
        await task
        await engine.dispose()  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warehouses", type=int, default=5)
    parser.add_argument("--skus", type=int, default=20_000)
    parser.add_argument("--reads", type=int, default=200)
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL")
    if database_url:
        asyncio.run(run(database_url, args.warehouses, args.skus, args.reads))
        return
    import pgserver

    data = tempfile.mkdtemp(prefix="omsbench", dir="/tmp")
    server = pgserver.get_server(data, cleanup_mode="delete")
    try:
        asyncio.run(run(server.get_uri(), args.warehouses, args.skus, args.reads))
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()
