"""One absolute stock level as a source sends it (``POST /v1/stock/sync``, a CSV import, a
WMS pull): the rules every way in checks it by; and the WMS pull's activity messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator, Field, StrictInt
from pydantic_core import PydanticCustomError

from oms.domain.annotations import resolve_annotations
from oms.domain.text import Sku, Strict, WarehouseId

MAX_ON_HAND = 1_000_000_000


def _date_time_text(value: object) -> object:
    if not isinstance(value, str):
        raise PydanticCustomError("date_time_text", "an RFC 3339 date-time string")
    return value


class SyncItem(Strict):
    warehouse_id: WarehouseId
    sku: Sku
    on_hand: Annotated[StrictInt, Field(ge=0, le=MAX_ON_HAND)]
    # An RFC 3339 date-time with its offset (a string: no epoch numbers).
    as_of: Annotated[AwareDatetime, BeforeValidator(_date_time_text)]


@dataclass
class StockPull:
    source: str = "wms"  # recorded as each applied level's source


@dataclass
class StockPullResult:
    levels: int  # as many as the WMS sent
    applied: int
    stale: int
    superseded: int
    rejected: int  # malformed, or of a warehouse the OMS does not know
    shortfalls: int


resolve_annotations(globals())
