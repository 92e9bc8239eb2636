"""The bench's own shop (warehouse, SKU, customer) and its books after the run, through the
API: every order delivered, payments and stock balanced."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx

from devtools.bench.figures import order_problems, payment_problems, stock_problems
from devtools.order_body import order_body


class Shop:
    """The bench's own warehouse, SKU and customer, so other traffic cannot blur its books."""

    def __init__(self, http: httpx.AsyncClient, run: str) -> None:
        self.http = http
        self.run = run
        self.warehouse = f"bench-{run}"
        self.sku = f"BENCH-{run}"
        self.customer = f"bench-{run}"
        self.initial = 0

    async def open(self, units: int) -> None:
        place = {"id": self.warehouse, "name": "Bench", "country": "DE", "lat": 52.5, "lon": 13.4}
        (await self.http.post("/v1/warehouses", json={**place, "priority": 1})).raise_for_status()
        path = f"/v1/stock/{self.warehouse}/{self.sku}"
        (await self.http.put(path, json={"on_hand": units})).raise_for_status()
        self.initial = units

    def order(self, phase: str, n: int) -> dict[str, Any]:
        """Order ``n`` of a phase: one unit of the bench's SKU, under a reference of this run's
        own (a reference used before with another body is refused, 409)."""
        # An address of this run's own: the address-velocity hold rule counts customers.
        street = f"{self.run} Bench St"
        external_id = f"{self.run}-{phase}-{n}"
        return order_body("Bench", external_id, self.customer, street, [(self.sku, 1, "1.00")])


async def views_of(http: httpx.AsyncClient, customer: str) -> dict[str, dict[str, Any]]:
    views: dict[str, dict[str, Any]] = {}
    cursor = None
    while True:
        params: dict[str, Any] = {"customer_id": customer, "limit": 200}
        if cursor:
            params["cursor"] = cursor
        answer = await http.get("/v1/orders", params=params)
        answer.raise_for_status()
        page = answer.json()
        views.update({v["id"]: v for v in page["items"]})
        cursor = page["next_cursor"]
        if not cursor:
            return views


async def check_books(shop: Shop, submitted: list[str]) -> list[str]:
    views = await views_of(shop.http, shop.customer)
    problems = order_problems(submitted, views)
    gate = asyncio.Semaphore(8)

    async def payments(order_id: str) -> list[str]:
        async with gate:
            answer = await shop.http.get("/v1/payments", params={"order_id": order_id})
        answer.raise_for_status()
        total = Decimal(views[order_id]["totals"]["total"])
        return payment_problems(order_id, total, answer.json()["items"])

    for found in await asyncio.gather(*(payments(i) for i in submitted if i in views)):
        problems += found
    delivered = sum(
        line["quantity"]
        for v in views.values()
        if v["status"] == "delivered"
        for line in v["lines"]
    )
    answer = await shop.http.get(f"/v1/stock/{shop.sku}")
    levels = answer.json().get("warehouses", []) if answer.status_code == 200 else []
    level = next((w for w in levels if w["warehouse_id"] == shop.warehouse), None)
    where = f"{shop.sku}@{shop.warehouse}"
    return problems + stock_problems(where, shop.initial, level, delivered)
