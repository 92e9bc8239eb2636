"""Wakes backordered orders when stock they wait for becomes available.

PostgreSQL announces it: a trigger on ``stock`` sends ``NOTIFY oms_stock_available, <sku>``
when a row's availability rises (a set, an adjust, a sync or import, a released
reservation) and some order waits for that SKU, and one on ``backorder_lines`` when an order
leaves the queue. The waker LISTENs, gathers the SKUs for a moment, and signals
``stock_arrived`` to the orders at the head of each SKU's queue, oldest first, as many as
the available units could serve. Each woken order tries a reservation round; the queue
order is enforced there, in the reservation's transaction, so a wake-up is only a hint and
a duplicate is harmless. Each order also rechecks on a timer, and the waker sweeps every
waiting SKU whenever it (re)connects, so a notification lost while it was away delays an
order but never strands it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

import asyncpg
from temporalio.client import Client

from oms.domain.ids import order_workflow_id
from oms.domain.messages import StockArrival
from oms.logging import get_logger
from oms.store import reservations, stock
from workflows.order import OrderWorkflow

log = get_logger(__name__)

CHANNEL = "oms_stock_available"
DEBOUNCE_S = 0.05


def to_wake(queue: Iterable[tuple[str, str, int]], available: dict[str, int]) -> list[str]:
    """The orders to wake, given each SKU's queue (sku, order_id, units; oldest first) and
    the units available: per SKU, the orders from the head of the queue whose turn comes
    within those units. Each order once, in the order first reached."""
    wake: dict[str, None] = {}
    ahead: dict[str, int] = {}
    for sku, order_id, units in queue:
        if ahead.get(sku, 0) < available.get(sku, 0):
            wake.setdefault(order_id)
        ahead[sku] = ahead.get(sku, 0) + units
    return list(wake)


class BackorderWaker:
    def __init__(self, client: Client, dsn: str) -> None:
        self._client = client
        self._dsn = dsn
        self._pending: set[str] = set()
        self._arrived = asyncio.Event()
        self.woken = 0  # signals sent, for tests and logs

    async def run(self, stop: asyncio.Event) -> None:
        delay = 0.5
        while not stop.is_set():
            try:
                await self._listen(stop)
                delay = 0.5
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("backorder_waker_disconnected", error=str(exc)[:200], retry_in_s=delay)
                try:
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                except TimeoutError:
                    pass
                delay = min(10.0, delay * 2)

    async def _listen(self, stop: asyncio.Event) -> None:
        conn = await asyncpg.connect(self._dsn)
        try:
            await conn.add_listener(CHANNEL, self._notified)
            # Anything that arrived while no one listened: look at every waiting SKU.
            waited = await reservations.waited_for(conn)
            await self._wake(conn, waited)
            while not stop.is_set():
                if conn.is_closed():
                    raise asyncpg.InterfaceError("connection closed")
                try:
                    await asyncio.wait_for(self._arrived.wait(), timeout=1.0)
                except TimeoutError:
                    continue
                await asyncio.sleep(DEBOUNCE_S)  # gather a burst (a sync, an import)
                self._arrived.clear()
                skus, self._pending = sorted(self._pending), set()
                await self._wake(conn, skus)
        finally:
            await conn.close()

    def _notified(self, _conn: object, _pid: int, _channel: str, sku: str) -> None:
        self._pending.add(sku)
        self._arrived.set()

    async def _wake(self, conn: asyncpg.Connection, skus: Sequence[str]) -> None:
        if not skus:
            return
        queue = await reservations.waiting_queue(conn, skus)
        available = await stock.available_by_sku(conn, skus)
        orders = to_wake(queue, available)
        by_order: dict[str, list[str]] = {}
        for sku, order_id, _ in queue:
            by_order.setdefault(order_id, []).append(sku)
        results = await asyncio.gather(
            *(self._signal(order_id, by_order[order_id]) for order_id in orders),
            return_exceptions=True,
        )
        sent = sum(1 for r in results if r is True)
        self.woken += sent
        if orders:
            log.info("backorders_woken", skus=list(skus)[:20], orders=len(orders), signalled=sent)

    async def _signal(self, order_id: str, skus: list[str]) -> bool:
        handle = self._client.get_workflow_handle(order_workflow_id(order_id))
        try:
            await handle.signal(OrderWorkflow.stock_arrived, StockArrival(skus))
        except Exception as exc:  # finished meanwhile, or Temporal busy: the recheck covers it
            log.info("backorder_wake_failed", order_id=order_id, error=str(exc)[:200])
            return False
        return True
