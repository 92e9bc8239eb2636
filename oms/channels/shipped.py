"""A shipment as its platform names it: the units shipped, by the platform's own lines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from oms.channels.canonical import ShippedLine
from oms.domain.messages import SkuQuantity


def shipped_lines(
    shipped: Iterable[SkuQuantity], ordered: Sequence[Mapping[str, Any]]
) -> list[ShippedLine]:
    """Each SKU's shipped units given to the order's lines of that SKU in turn, with the
    platform's line id (a platform may list one SKU on two lines); units beyond the
    lines' quantities (none, for a shipment of the order) go without a line id."""
    skus = [str(x.get("sku")) for x in ordered]
    room = [int(x.get("quantity") or 0) for x in ordered]
    ids = [str(x.get("line_id") or "") for x in ordered]
    out: list[ShippedLine] = []
    for item in shipped:
        units = item.quantity
        for n, sku in enumerate(skus):
            if units == 0:
                break
            if sku != item.sku or room[n] <= 0:
                continue
            take = min(units, room[n])
            out.append(ShippedLine(item.sku, take, ids[n]))
            room[n] -= take
            units -= take
        if units:
            out.append(ShippedLine(item.sku, units))
    return out
