"""Phase c of the hot-SKU benchmark: orders for a hot SKU through a running system's API."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

import httpx

from devtools.order_body import order_body

# Reserved or any later step of an order (the stock is held, or was committed on shipping).
REACHED = {"reserved", "dispatched", "partially_shipped", "shipped", "delivered"}
# Statuses an order of this benchmark should not end in before reserving.
GAVE_UP = {"failed", "cancelled", "on_hold", "backordered"}


# --- phase c ---------------------------------------------------------------------------------


def _order(run: str, n: int, sku: str) -> dict[str, object]:
    # One customer and an address of its own per run, so the address velocity rule (three
    # customers at one address) never holds a benchmark order.
    return order_body(
        "Bench", f"hot-{run}-{n}", f"hot-{run}", f"{run} Hot Street", [(sku, 1, "1.00")]
    )


@dataclass
class OrderPath:
    orders: int
    reached: int
    seconds: float
    statuses: Counter[str]
    problems: list[str]
    latencies_s: list[float]
    # Seconds between consecutive events of the orders' timelines, by step.
    steps: dict[str, list[float]]

    @property
    def rate(self) -> float:
        return self.reached / self.seconds if self.seconds else 0.0


async def order_path(
    api: str, key: str, orders: int, clients: int, within: float, poll: float, run_id: str
) -> OrderPath:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=clients + 5)
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=30, limits=limits) as http:
        wh, sku = f"hot-{run_id}", f"HOT-C-{run_id}"
        place = {"id": wh, "name": "Hot", "country": "DE", "lat": 52.5, "lon": 13.4, "priority": 1}
        (await http.post("/v1/warehouses", json=place)).raise_for_status()
        (await http.put(f"/v1/stock/{wh}/{sku}", json={"on_hand": orders})).raise_for_status()
        numbers = itertools.count()
        statuses: Counter[str] = Counter()
        latencies: list[float] = []
        reached_ids: list[str] = []
        last = 0.0
        t0 = time.perf_counter()
        deadline = t0 + within

        async def client() -> None:
            nonlocal last
            while (n := next(numbers)) < orders and time.perf_counter() < deadline:
                response = await http.post("/v1/orders", json=_order(run_id, n, sku))
                if response.status_code != 202:
                    statuses[f"refused {response.status_code}"] += 1
                    continue
                order_id = response.json()["id"]
                posted = time.perf_counter()
                status = "received"
                while time.perf_counter() < deadline:
                    status = (await http.get(f"/v1/orders/{order_id}")).json()["status"]
                    if status in REACHED or status in GAVE_UP:
                        break
                    await asyncio.sleep(poll)
                statuses[status if status not in REACHED else "reached"] += 1
                if status in REACHED:
                    last = time.perf_counter()
                    latencies.append(last - posted)
                    reached_ids.append(order_id)

        await asyncio.gather(*(client() for _ in range(clients)))
        reached = statuses["reached"]
        stock = (await http.get(f"/v1/stock/{sku}")).json()
        steps = await _steps(http, reached_ids[:: max(1, len(reached_ids) // 50)])
    problems = []
    level = next((w for w in stock["warehouses"] if w["warehouse_id"] == wh), None)
    if level is None:
        problems.append(f"c: no stock of {sku} at {wh}")
    else:
        # Committed units left on_hand; held ones are reserved: together, the reached orders.
        holding = (orders - level["on_hand"]) + level["reserved"]
        if holding != reached or level["reserved"] > level["on_hand"]:
            problems.append(f"c: {reached} orders reached reservation, stock says {level}")
    if reached < orders:
        problems.append(f"c: {reached} of {orders} orders reached reservation: {dict(statuses)}")
    seconds = (last - t0) if reached else 0.0
    return OrderPath(orders, reached, seconds, statuses, problems, latencies, steps)


async def _steps(http: httpx.AsyncClient, order_ids: list[str]) -> dict[str, list[float]]:
    """Where an order's time goes up to its reservation, from its timeline (a sample)."""
    steps: dict[str, list[float]] = defaultdict(list)
    for order_id in order_ids:
        events = (await http.get(f"/v1/orders/{order_id}/events")).json()["items"]
        for before, after in itertools.pairwise(events):
            gap = datetime.fromisoformat(after["created_at"]) - datetime.fromisoformat(
                before["created_at"]
            )
            steps[f"{before['type']} -> {after['type']}"].append(gap.total_seconds())
            if after["type"] == "stock_reserved":
                break
    return steps
