"""What the features need besides the order itself: the earlier orders linked to it, and
its shop's latest orders. One procedure for live scoring and for evaluation; only the
:class:`Source` differs (``oms.store.risk.SqlSource`` on the orders table,
``oms.risk.memory.MemorySource`` on a data set), so the features are computed the same way.

Every read is bounded, whatever the buyer's or the shop's history: at most ``PER_KEY``
orders per key value, at most ``SECOND_HOP_KEYS`` values per kind on the second hop, and
the shop's latest ``SHOP_SAMPLE`` orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from oms.risk.facts import OrderFacts

WINDOW = timedelta(days=7)  # the longest feature window
PER_KEY = 100
SECOND_HOP_KEYS = 30
SHOP_SAMPLE = 200


@dataclass(frozen=True)
class Keys:
    """Key values to look up, per kind."""

    customers: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()

    def empty(self) -> bool:
        return not (self.customers or self.addresses or self.phones or self.devices or self.ips)


@dataclass(frozen=True)
class ShopOrder:
    customer_id: str
    at: datetime
    total: Decimal
    currency: str


@dataclass(frozen=True)
class Neighbourhood:
    """Orders before this one (within ``WINDOW``): ``linked`` share a buyer, an address, a
    phone, a device or an IP with it, or (second hop) with one of those; ``shop`` are its
    channel's latest orders."""

    linked: list[OrderFacts] = field(default_factory=list)
    shop: list[ShopOrder] = field(default_factory=list)


class Source(Protocol):
    async def linked(
        self, keys: Keys, before: OrderFacts, since: datetime, per_key: int
    ) -> list[OrderFacts]:
        """Orders taken before ``before`` (by (time, id)) and after ``since`` with any of
        the key values: the latest ``per_key`` for each value."""
        ...

    async def shop(self, before: OrderFacts, since: datetime, limit: int) -> list[ShopOrder]:
        """The latest ``limit`` orders of ``before``'s channel before it and after ``since``."""
        ...


def own_keys(order: OrderFacts) -> Keys:
    def one(value: str | None) -> tuple[str, ...]:
        return (value,) if value else ()

    return Keys(
        one(order.customer_id),
        one(order.address),
        one(order.phone),
        one(order.device),
        one(order.ip),
    )


def second_hop_keys(order: OrderFacts, first: list[OrderFacts]) -> Keys:
    """The buyers, addresses, phones and devices of the first hop not yet looked up (IPs
    are not followed: a mobile network's or an office's IP joins strangers), the most recent
    first, at most ``SECOND_HOP_KEYS`` of each."""
    asked = own_keys(order)

    def new(values: list[str | None], done: tuple[str, ...]) -> tuple[str, ...]:
        kept: list[str] = []
        for value in values:
            if value and value not in done and value not in kept:
                kept.append(value)
            if len(kept) >= SECOND_HOP_KEYS:
                break
        return tuple(kept)

    recent = sorted(first, key=lambda o: (o.at, o.id), reverse=True)
    return Keys(
        new([o.customer_id for o in recent], asked.customers),
        new([o.address for o in recent], asked.addresses),
        new([o.phone for o in recent], asked.phones),
        new([o.device for o in recent], asked.devices),
    )


async def gather(order: OrderFacts, source: Source) -> Neighbourhood:
    since = order.at - WINDOW
    first = await source.linked(own_keys(order), order, since, PER_KEY)
    more = second_hop_keys(order, first)
    second = [] if more.empty() else await source.linked(more, order, since, PER_KEY)
    seen: dict[str, OrderFacts] = {}
    for o in (*first, *second):
        if o.id != order.id:
            seen.setdefault(o.id, o)
    linked = sorted(seen.values(), key=lambda o: (o.at, o.id))
    shop = await source.shop(order, since, SHOP_SAMPLE)
    return Neighbourhood(linked, shop)
