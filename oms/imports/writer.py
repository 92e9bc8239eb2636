"""The set-based writer of imported orders (to be built: issue 18, helper B).

Interface agreed between the import command, the writer and the starter."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from oms.imports.model import Order


@dataclass
class WriteResult:
    inserted: int = 0  # new records
    updated: int = 0  # imported records a corrected file changed
    unchanged: int = 0  # already there, identical (a second run)
    refused: int = 0  # already there and not allowed to change (reported)
    open_orders: int = 0  # inserted open orders, waiting for their workflow to start
    resumed_after: int = 0  # orders a previous run of the same files had committed


async def write_orders(
    engine: AsyncEngine,
    channel: str,
    orders: Iterable[Order],
    *,
    run_key: str,
    batch_size: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> WriteResult:
    raise NotImplementedError
