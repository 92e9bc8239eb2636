"""Order throughput against a running system (``make dev``), loopback only.

    OMS_SIM_SHIP_DELAY_S=0.2 OMS_SIM_CARRIER_STEP_S=0.2 make dev      # in one terminal
    .venv/bin/python -m devtools.bench.throughput --key <admin key> --orders 200 --concurrency 20

Creates a warehouse and a SKU of its own with enough stock, submits the orders, waits until
every one is terminal, and prints submission latency and end-to-end throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from urllib.parse import urlparse

import httpx

from devtools.order_body import order_body

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _order(run: str, n: int, sku: str) -> dict[str, object]:
    return order_body("Bench", f"{run}-{n}", f"bench-{run}", "1 Main St", [(sku, 1, "1.00")])


async def _statuses(http: httpx.AsyncClient, customer: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    cursor = None
    while True:
        params: dict[str, str | int] = {"customer_id": customer, "limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = (await http.get("/v1/orders", params=params)).json()
        for order in page["items"]:
            counts[order["status"]] = counts.get(order["status"], 0) + 1
        cursor = page["next_cursor"]
        if not cursor:
            return counts


async def run(api: str, key: str, orders: int, concurrency: int, within: float) -> int:
    run_id = uuid.uuid4().hex[:8]
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=60) as http:
        wh, sku = f"bench-{run_id}", f"BENCH-{run_id}"
        r = await http.post(
            "/v1/warehouses",
            json={
                "id": wh,
                "name": "Bench",
                "country": "DE",
                "lat": 52.5,
                "lon": 13.4,
                "priority": 1,
            },
        )
        r.raise_for_status()
        (await http.put(f"/v1/stock/{wh}/{sku}", json={"on_hand": orders})).raise_for_status()
        gate = asyncio.Semaphore(concurrency)
        latencies: list[float] = []

        async def submit(n: int) -> None:
            async with gate:
                started = time.perf_counter()
                response = await http.post("/v1/orders", json=_order(run_id, n, sku))
                latencies.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()

        t0 = time.perf_counter()
        await asyncio.gather(*(submit(n) for n in range(orders)))
        submitted = time.perf_counter() - t0
        counts: dict[str, int] = {}
        while time.perf_counter() - t0 < within:
            counts = await _statuses(http, f"bench-{run_id}")
            if sum(counts.get(s, 0) for s in ("delivered", "failed", "cancelled")) >= orders:
                break
            await asyncio.sleep(0.5)
        finished = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100)
    print(f"orders               {orders} (concurrency {concurrency})")
    print(f"submit latency ms    p50 {q[49]:.1f}  p95 {q[94]:.1f}  max {max(latencies):.1f}")
    print(f"submit throughput    {orders / submitted:.1f} orders/s")
    print(f"all terminal after   {finished:.1f} s  ({orders / finished:.1f} orders/s end to end)")
    print(f"final statuses       {counts}")
    return 0 if counts.get("delivered", 0) == orders else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument("--key", default=os.environ.get("OMS_ADMIN_API_KEY"), required=False)
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--within", type=float, default=600, help="give up after seconds")
    args = parser.parse_args()
    if urlparse(args.api).hostname not in LOOPBACK:
        sys.exit("benchmarks only target this machine (127.0.0.1)")
    if not args.key:
        sys.exit("pass --key (the admin key make dev printed) or set OMS_ADMIN_API_KEY")
    if not 1 <= args.orders <= 5000:
        sys.exit("--orders must be between 1 and 5000")
    sys.exit(asyncio.run(run(args.api, args.key, args.orders, args.concurrency, args.within)))


if __name__ == "__main__":
    main()
