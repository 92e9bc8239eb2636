"""Live scoring for the hold check: the order's facts from the read model, its
neighbourhood from PostgreSQL, the newest active model.

The model is loaded lazily (the first score needs it, not the worker's start: unpickling
imports scikit-learn, about a second) and cached; at most every ``recheck_s`` seconds the
scorer asks which version is newest and loads it when it changed, so every worker replica
moves to a new version within that time.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncEngine

from oms.domain.messages import RiskView
from oms.logging import get_logger
from oms.risk.facts import from_view
from oms.risk.features import features
from oms.risk.gather import gather
from oms.risk.model import TrainedModel, loads
from oms.risk.score import risk_view
from oms.store import risk as store

log = get_logger(__name__)


@dataclass
class _Loaded:
    version: str | None
    model: TrainedModel | None
    checked: float


class RiskScorer:
    def __init__(self, engine: AsyncEngine, recheck_s: float = 60.0) -> None:
        self._engine = engine
        self._recheck_s = recheck_s
        self._loaded: _Loaded | None = None
        self._lock = asyncio.Lock()

    async def model(self) -> tuple[str | None, TrainedModel | None]:
        """The newest active model and its version (None, None before one is trained)."""
        loaded = self._loaded
        if loaded is not None and time.monotonic() - loaded.checked < self._recheck_s:
            return loaded.version, loaded.model
        async with self._lock:
            loaded = self._loaded
            if loaded is not None and time.monotonic() - loaded.checked < self._recheck_s:
                return loaded.version, loaded.model
            version = await store.active_version(self._engine)
            if loaded is not None and version == loaded.version:
                self._loaded = _Loaded(version, loaded.model, time.monotonic())
                return version, loaded.model
            model = None
            if version is not None:
                data = await store.model_bytes(self._engine, version)
                model = await asyncio.to_thread(loads, data) if data else None
                log.info("risk_model_loaded", version=version)
            self._loaded = _Loaded(version if model else None, model, time.monotonic())
            return self._loaded.version, model

    async def score(self, order_id: str) -> RiskView | None:
        """The order's risk; None when the order is not in the read model."""
        row = await store.order_row(self._engine, order_id)
        if row is None:
            return None
        order = from_view(dict(row.view), at=row.created_at)
        if order.id != order_id:
            order = replace(order, id=order_id)
        near = await gather(order, store.SqlSource(self._engine))
        f = features(order, near)
        version, model = await self.model()
        if model is None:
            return risk_view(f)
        anomaly = (await asyncio.to_thread(model.anomalies, [f]))[0]
        return risk_view(f, model, version, anomaly)
