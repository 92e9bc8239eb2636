"""A :class:`~oms.risk.gather.Source` over orders in memory (a generated data set, a file
to train on): the same answers the orders table gives live, from indexes per key."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from oms.risk.facts import OrderFacts
from oms.risk.gather import Keys, ShopOrder


class MemorySource:
    def __init__(self, orders: Iterable[OrderFacts]) -> None:
        ordered = sorted(orders, key=lambda o: (o.at, o.id))
        self._index: dict[str, dict[str, list[OrderFacts]]] = {
            kind: defaultdict(list)
            for kind in ("customers", "addresses", "phones", "devices", "ips", "shops")
        }
        for o in ordered:
            for kind, value in (
                ("customers", o.customer_id),
                ("addresses", o.address),
                ("phones", o.phone),
                ("devices", o.device),
                ("ips", o.ip),
                ("shops", o.channel),
            ):
                if value:
                    self._index[kind][value].append(o)
        # The (time, id) of each list, for bisecting.
        self._positions = {
            kind: {v: [(o.at, o.id) for o in found] for v, found in values.items()}
            for kind, values in self._index.items()
        }

    def _latest(
        self, kind: str, value: str, before: OrderFacts, since: datetime, limit: int
    ) -> list[OrderFacts]:
        found = self._index[kind].get(value)
        if not found:
            return []
        end = bisect_left(self._positions[kind][value], (before.at, before.id))
        out = []
        for o in reversed(found[max(0, end - limit) : end]):
            if o.at <= since:
                break
            out.append(o)
        return out

    async def linked(
        self, keys: Keys, before: OrderFacts, since: datetime, per_key: int
    ) -> list[OrderFacts]:
        out: list[OrderFacts] = []
        for kind in ("customers", "addresses", "phones", "devices", "ips"):
            for value in getattr(keys, kind):
                out += self._latest(kind, value, before, since, per_key)
        return out

    async def shop(self, before: OrderFacts, since: datetime, limit: int) -> list[ShopOrder]:
        return [
            ShopOrder(o.customer_id, o.at, o.total, o.currency)
            for o in self._latest("shops", before.channel, before, since, limit)
        ]
