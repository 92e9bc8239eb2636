"""The learned delivery times: a refresh reads the recorded shipments of the orders of the
last ``OMS_ROUTING_LEARN_DAYS`` days, learns per warehouse and destination region
(oms.domain.delivery.learn) and replaces ``routing_lead_times`` whole. ``oms routing
learn`` runs it once; the worker (its singleton process) runs it every
``OMS_ROUTING_LEARN_INTERVAL_S``. Allocations only read the table it writes."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from oms.domain.delivery import learn, region_of
from oms.logging import get_logger
from oms.store import routing as routing_store

log = get_logger(__name__)


@dataclass(frozen=True)
class Refreshed:
    shipments: int  # parcels learned from
    rows: int  # rows of the learned table
    seconds: float


async def refresh(engine: AsyncEngine, days: float, now: datetime | None = None) -> Refreshed:
    started = time.perf_counter()
    since = (now or datetime.now(UTC)) - timedelta(days=days)
    samples = await routing_store.shipment_samples(engine, since)
    learned = learn(
        (warehouse, *region_of(country, postal, region), delivered_in)
        for warehouse, country, postal, region, delivered_in in samples
    )
    rows = await routing_store.replace_lead_times(engine, learned)
    return Refreshed(len(samples), rows, round(time.perf_counter() - started, 3))


async def learn_loop(engine: AsyncEngine, interval_s: float, days: float) -> None:
    """Refresh now and then every ``interval_s`` until cancelled; a database away is
    tried again at the next turn."""
    while True:
        try:
            done = await refresh(engine, days)
            log.info(
                "routing_learned", shipments=done.shipments, rows=done.rows, seconds=done.seconds
            )
        except Exception as exc:  # the database away or busy: next time
            log.warning("routing_not_learned", error=str(exc)[:200])
        await asyncio.sleep(interval_s)
