"""Warehouses whose sandbox WMS refuses every dispatch, as a business refusal.

A refused ``POST /wms/dispatches`` answers 422, which the OMS adapter turns into
``WmsRejected`` (not retried): the activity fails with ``DispatchRejected`` and so does the
shipment. Set at start from ``OMS_SIM_REFUSE_WAREHOUSES`` (comma-separated warehouse ids)
and replaced at run time by ``PUT /sim/wms/refusals``. Unlike the faults, which answer 503
and are retried, a refusal is how a test or a demo makes one warehouse say no for good.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class RefusalError(ValueError):
    """An update is not ``{"warehouses": [id, ...]}`` with non-empty string ids."""


def parse_warehouses(value: str) -> set[str]:
    """``"WH-A, WH-B,"`` -> ``{"WH-A", "WH-B"}``: blanks around and between are ignored."""
    return {part.strip() for part in value.split(",") if part.strip()}


class Refusals:
    def __init__(self, warehouses: Iterable[str] = ()) -> None:
        self._warehouses = set(warehouses)

    @classmethod
    def from_setting(cls, value: str) -> Refusals:
        return cls(parse_warehouses(value))

    def refuses(self, warehouse_id: str) -> bool:
        return warehouse_id in self._warehouses

    def to_json(self) -> dict[str, list[str]]:
        return {"warehouses": sorted(self._warehouses)}

    def replace(self, data: Any) -> None:
        """Replace the whole set with ``{"warehouses": [...]}``; all or nothing."""
        if not isinstance(data, dict) or set(data) != {"warehouses"}:
            raise RefusalError('expected an object {"warehouses": ["WH-1", ...]}')
        ids = data["warehouses"]
        if not isinstance(ids, list) or not all(isinstance(w, str) and w.strip() for w in ids):
            raise RefusalError("warehouses: expected a list of warehouse ids")
        self._warehouses = {w.strip() for w in ids}
