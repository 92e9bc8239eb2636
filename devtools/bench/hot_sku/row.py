"""Phases a and b of the hot-SKU benchmark: the hot row, the bare update and the
reservation activity, and the rounds that drive them and check the row after each."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.exceptions import ApplicationError

from activities.errors import OUT_OF_STOCK
from activities.inventory import InventoryActivities
from oms.domain.messages import ReserveRequest, SkuQuantity

_BARE = text(
    "UPDATE stock SET reserved = reserved + 1 "
    "WHERE warehouse_id = :w AND sku = :sku AND on_hand - reserved >= 1"
)


# --- the hot row -----------------------------------------------------------------------------


@dataclass
class HotRow:
    warehouse_id: str
    sku: str

    @property
    def key(self) -> dict[str, str]:
        return {"w": self.warehouse_id, "sku": self.sku}

    async def create(self, engine: AsyncEngine) -> None:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO warehouses (id, name, country, lat, lon, priority, created_at) "
                    "VALUES (:w, 'Hot SKU bench', 'DE', 52.5, 13.4, 1, now())"
                ),
                self.key,
            )
            await conn.execute(
                text(
                    "INSERT INTO stock (warehouse_id, sku, on_hand, reserved, updated_at) "
                    "VALUES (:w, :sku, 0, 0, now())"
                ),
                self.key,
            )

    async def reset(self, engine: AsyncEngine, on_hand: int) -> None:
        """Back to ``on_hand`` free units, no reservations and no journal; then vacuumed, so
        every phase starts from the same row and the same table sizes."""
        async with engine.begin() as conn:
            for table in ("reservations", "stock_movements"):
                await conn.execute(
                    text(f"DELETE FROM {table} WHERE warehouse_id = :w AND sku = :sku"), self.key
                )
            await conn.execute(
                text(
                    "UPDATE stock SET on_hand = :n, reserved = 0, updated_at = now() "
                    "WHERE warehouse_id = :w AND sku = :sku"
                ),
                {**self.key, "n": on_hand},
            )
        async with engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await auto.execute(text("VACUUM stock, reservations, stock_movements"))

    async def drop(self, engine: AsyncEngine) -> None:
        async with engine.begin() as conn:
            for table in ("reservations", "stock_movements", "stock"):
                await conn.execute(
                    text(f"DELETE FROM {table} WHERE warehouse_id = :w AND sku = :sku"), self.key
                )
            await conn.execute(text("DELETE FROM warehouses WHERE id = :w"), self.key)

    async def levels(self, engine: AsyncEngine) -> dict[str, int]:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        """
                        SELECT s.on_hand, s.reserved,
                          (SELECT count(*) FROM reservations r WHERE r.warehouse_id = s.warehouse_id
                             AND r.sku = s.sku AND r.status = 'held') AS held_rows,
                          (SELECT coalesce(sum(quantity), 0) FROM reservations r
                             WHERE r.warehouse_id = s.warehouse_id AND r.sku = s.sku
                             AND r.status = 'held') AS held_units,
                          (SELECT count(DISTINCT order_id) FROM reservations r
                             WHERE r.warehouse_id = s.warehouse_id AND r.sku = s.sku) AS orders,
                          (SELECT coalesce(sum(reserved_delta), 0) FROM stock_movements m
                             WHERE m.warehouse_id = s.warehouse_id AND m.sku = s.sku
                             AND m.kind = 'reserve') AS journal
                        FROM stock s WHERE s.warehouse_id = :w AND s.sku = :sku
                        """
                    ),
                    self.key,
                )
            ).one()
        return {k: int(v) for k, v in row._mapping.items()}


# --- phases a and b --------------------------------------------------------------------------

Reserve = Callable[[int], Awaitable[bool]]


def bare(engine: AsyncEngine, row: HotRow) -> Reserve:
    async def reserve(_: int) -> bool:
        async with engine.begin() as conn:
            return (await conn.execute(_BARE, row.key)).rowcount == 1

    return reserve


def activity(engine: AsyncEngine, row: HotRow, prefix: str, round_: int = 0) -> Reserve:
    """``reserve_stock`` with an order id and lines only; with ``round_`` (``--round``) also
    that field, the path orders take since the backorders patch (round 0: orders before)."""
    inventory = InventoryActivities(engine)
    extra: dict[str, Any] = {"round": round_} if round_ else {}

    async def reserve(n: int) -> bool:
        lines = [SkuQuantity(row.sku, 1)]
        request = ReserveRequest(order_id=f"{prefix}-{n}", lines=lines, **extra)
        try:
            await inventory.reserve_stock(request)
        except ApplicationError as exc:
            if exc.type == OUT_OF_STOCK:
                return False
            raise
        return True

    return reserve


@dataclass
class Round:
    made: int
    refused: int
    seconds: float
    latencies_ms: list[float]
    cpu_s: float

    @property
    def rate(self) -> float:
        return self.made / self.seconds


async def drive(reserve: Reserve, count: int, clients: int) -> Round:
    """``clients`` coroutines taking numbers from one counter until ``count`` are done."""
    numbers = itertools.count()
    made = refused = 0
    latencies: list[float] = []

    async def client() -> None:
        nonlocal made, refused
        while (n := next(numbers)) < count:
            started = time.perf_counter()
            if await reserve(n):
                made += 1
            else:
                refused += 1
            latencies.append((time.perf_counter() - started) * 1000)

    cpu, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return Round(made, refused, time.perf_counter() - t0, latencies, time.process_time() - cpu)


@dataclass
class Phase:
    name: str
    rounds: list[Round] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def median(self) -> Round:
        return sorted(self.rounds, key=lambda r: r.rate)[len(self.rounds) // 2]


async def run_round(
    phase: Phase, engine: AsyncEngine, row: HotRow, reserve: Reserve, count: int, clients: int
) -> None:
    await row.reset(engine, count)
    result = await drive(reserve, count, clients)
    phase.rounds.append(result)
    levels = await row.levels(engine)
    tag = f"{phase.name} round {len(phase.rounds)}"
    if result.made != count or result.refused:
        phase.problems.append(f"{tag}: {result.made} made, {result.refused} refused of {count}")
    if levels["reserved"] != result.made or levels["reserved"] > levels["on_hand"]:
        phase.problems.append(f"{tag}: reserved {levels['reserved']}, made {result.made}")
    if phase.name != "a" and not (
        levels["held_rows"]
        == levels["held_units"]
        == levels["orders"]
        == levels["journal"]
        == levels["reserved"]
    ):
        phase.problems.append(f"{tag}: counters disagree {levels}")
    # The row is full: one more must leave it as it is, by either path.
    await reserve(count + 1)
    if (after := await row.levels(engine))["reserved"] != levels["reserved"]:
        phase.problems.append(f"{tag}: one more reservation beyond on_hand changed {after}")
