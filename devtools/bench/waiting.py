"""``oms bench --waiting N``: N open orders waiting at once, and what that costs.

Places N orders that each wait on an operator (high value: one unit at 1500.00 EUR, held by
the ``high_value`` rule, so no stock is involved), waits until all are ``on_hold``, then
measures, with every one of them waiting:

- the worker's RSS (its process tree), against the 1 GiB target;
- ``GET /v1/orders`` (the newest page, and filtered by ``status=on_hold``) and
  ``GET /v1/ops/summary``: p50 and p99 of sequential requests, against 100 ms.

Then it rejects them all (each ends ``cancelled`` with its authorization voided), unless
``--keep``. Loopback only, like every bench.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx

from devtools.bench.figures import latency_ms
from devtools.bench.probe import Probe
from devtools.order_body import order_body

HELD_PRICE = "1500.00"  # above the default high-value threshold (EUR 1000)


def _order(run: str, n: int) -> dict[str, Any]:
    lines = [(f"WAIT-{run}", 1, HELD_PRICE)]
    return order_body("Bench", f"{run}-waiting-{n}", f"bench-{run}", f"{run} Waiting St", lines)


async def _in_slots(count: int, concurrency: int, one: Any) -> list[str]:
    errors: list[str] = []
    queue = iter(range(count))

    async def slot() -> None:
        for n in queue:
            try:
                await one(n)
            except Exception as exc:  # counted and reported; the run goes on
                errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")

    await asyncio.gather(*(slot() for _ in range(concurrency)))
    return errors


async def _held(http: httpx.AsyncClient) -> int:
    summary = (await http.get("/v1/ops/summary")).json()
    return int(summary["orders_by_status"].get("on_hold", 0))


async def _timed(http: httpx.AsyncClient, path: str, params: dict[str, Any], n: int) -> Any:
    took = []
    for _ in range(n):
        started = time.perf_counter()
        response = await http.get(path, params=params)
        response.raise_for_status()
        took.append(time.perf_counter() - started)
    return latency_ms(took)


async def run_waiting(
    api_url: str,
    admin_key: str,
    probe: Probe,
    count: int,
    concurrency: int,
    within_s: float,
    keep: bool,
    samples: int = 200,
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    headers = {"Authorization": f"Bearer {admin_key}"}
    limits = httpx.Limits(max_connections=concurrency + 4)
    async with httpx.AsyncClient(
        base_url=api_url, headers=headers, timeout=60, limits=limits
    ) as http:
        # The SKU must be stocked somewhere to be ordered (it is never reserved: holds come
        # before the reservation).
        site = {"id": f"wait-{run}", "name": "Bench", "country": "DE", "lat": 52.5, "lon": 13.4}
        (await http.post("/v1/warehouses", json={**site, "priority": 1})).raise_for_status()
        stock = f"/v1/stock/wait-{run}/WAIT-{run}"
        (await http.put(stock, json={"on_hand": count})).raise_for_status()
        before = await _held(http)
        rss_before = probe.worker_rss()
        ids: list[str] = []

        async def place(n: int) -> None:
            response = await http.post("/v1/orders", json=_order(run, n))
            if response.status_code >= 400:
                raise RuntimeError(f"{response.status_code} {response.text[:200]}")
            ids.append(response.json()["id"])

        started = time.monotonic()
        errors = await _in_slots(count, concurrency, place)
        placed_s = time.monotonic() - started
        deadline = time.monotonic() + within_s
        held = await _held(http)
        while held - before < len(ids) and time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            held = await _held(http)
        waiting_s = time.monotonic() - started
        rss = probe.worker_rss()
        reads = {
            "list_newest": await _timed(http, "/v1/orders", {"limit": 50}, samples),
            "list_on_hold": await _timed(
                http, "/v1/orders", {"status": "on_hold", "limit": 50}, samples
            ),
            "summary": await _timed(http, "/v1/ops/summary", {}, samples),
        }
        rejected: list[str] = []
        if not keep:

            async def reject(n: int) -> None:
                path = f"/v1/orders/{ids[n]}/reject"
                response = await http.post(path, json={"reason": "bench done"})
                if response.status_code not in (200, 202):
                    raise RuntimeError(f"{response.status_code} {response.text[:100]}")

            rejected = await _in_slots(len(ids), concurrency, reject)
    return {
        "waiting": {
            "placed": len(ids),
            "on_hold_reached": held - before,
            "place_errors": len(errors),
            "first_error": errors[0] if errors else None,
            "placed_per_s": round(len(ids) / placed_s, 2) if placed_s else None,
            "all_waiting_after_s": round(waiting_s, 1),
            "worker_rss_mb": None if rss is None else round(rss / 2**20, 1),
            "worker_rss_mb_before": None if rss_before is None else round(rss_before / 2**20, 1),
            "reads_ms": reads,
            "released": "kept waiting" if keep else f"rejected, {len(rejected)} errors",
        }
    }
