"""The features of one order, known at intake: a pure function of the order and its
neighbourhood (``oms.risk.gather``), the same for live scoring and for evaluation.

Counts include the order itself (a buyer's first order counts 1). A key the order lacks
(no phone, no device, a masked address) gives 0 for the counts keyed on it: unknown, not
suspicious. ``account_age_days`` is -1 when the account's creation time is unknown.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from statistics import median

from oms.risk.facts import OrderFacts
from oms.risk.gather import Neighbourhood

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEK = timedelta(days=7)
WINDOWS = {"1h": HOUR, "24h": DAY, "7d": WEEK}

# An order total under this is tiny, whatever the shop sells; a line's unit price under
# CHEAP is a cheap SKU. Other currencies: against the shop's median alone.
TINY = {"EUR": Decimal(5), "USD": Decimal(5), "GBP": Decimal(5), "CHF": Decimal(5)}
TINY |= {"CNY": Decimal(30), "JPY": Decimal(700)}
CHEAP = {"EUR": Decimal(3), "USD": Decimal(3), "GBP": Decimal(3), "CHF": Decimal(3)}
CHEAP |= {"CNY": Decimal(15), "JPY": Decimal(400)}
TINY_VS_MEDIAN = Decimal("0.15")
YOUNG_ACCOUNT_DAYS = 7

KEYS = ("buyer", "address", "phone", "device", "ip")

FEATURE_NAMES: tuple[str, ...] = (
    *(f"{key}_orders_{w}" for key in KEYS for w in WINDOWS),
    "buyers_at_address_24h",
    "buyers_at_address_7d",
    "addresses_of_buyer_7d",
    "buyers_of_phone_7d",
    "addresses_of_phone_7d",
    "buyers_of_device_7d",
    "buyers_of_ip_24h",
    "account_age_days",
    "total",
    "tiny",
    "amount_vs_median",
    "same_amount_others_7d",
    "cheap_quantity",
    "single_sku",
    "shop_orders_1h",
    "shop_buyers_1h",
    "shop_concentration",
    "buyer_shop_orders_1h",
    "shop_tiny_1h",
    "locker",
    "incomplete",
    "component_buyers",
    "component_orders",
    "young_linked_buyers",
)


def _key(order: OrderFacts, kind: str) -> str | None:
    if kind == "buyer":
        return order.customer_id or None
    value: str | None = getattr(order, kind)
    return value


def account_age_days(order: OrderFacts) -> float:
    if order.account_created is None:
        return -1.0
    return max(0.0, (order.at - order.account_created).total_seconds() / 86400.0)


def _is_tiny(total: Decimal, currency: str, shop_median: Decimal | None = None) -> bool:
    floor = TINY.get(currency)
    return (floor is not None and total < floor) or (
        shop_median is not None and total < TINY_VS_MEDIAN * shop_median
    )


def _distinct(values: Iterable[str | None]) -> int:
    return len({v for v in values if v})


class _Components:
    """Union-find over buyers, addresses, phones and devices."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, node: str) -> str:
        self.parent.setdefault(node, node)
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def join(self, nodes: list[str]) -> None:
        first = self.find(nodes[0])
        for node in nodes[1:]:
            other = self.find(node)
            if other != first:
                self.parent[other] = first


def _nodes(order: OrderFacts) -> list[str]:
    """The graph's nodes of one order. A parcel locker or pickup point is a public place,
    not a tie between its users: it joins no one."""
    nodes = [f"c:{order.customer_id}"]
    nodes += [f"a:{order.address}"] if order.address and not order.locker else []
    nodes += [f"p:{order.phone}"] if order.phone else []
    nodes += [f"d:{order.device}"] if order.device else []
    return nodes


def features(order: OrderFacts, near: Neighbourhood) -> dict[str, float]:
    """Every feature of ``FEATURE_NAMES``, by name."""
    out: dict[str, float] = {}
    linked = [o for o in near.linked if (o.at, o.id) < (order.at, order.id)]
    sharing: dict[str, list[OrderFacts]] = {}
    for kind in KEYS:
        mine = _key(order, kind)
        sharing[kind] = [o for o in linked if mine and _key(o, kind) == mine]
        for w, span in WINDOWS.items():
            n = sum(1 for o in sharing[kind] if order.at - o.at <= span)
            out[f"{kind}_orders_{w}"] = float(n + 1 if mine else 0)

    def within(orders: list[OrderFacts], span: timedelta) -> list[OrderFacts]:
        return [o for o in orders if order.at - o.at <= span]

    at_address = sharing["address"]
    out["buyers_at_address_24h"] = float(
        _distinct([order.customer_id, *(o.customer_id for o in within(at_address, DAY))])
        if order.address
        else 0
    )
    out["buyers_at_address_7d"] = float(
        _distinct([order.customer_id, *(o.customer_id for o in at_address)]) if order.address else 0
    )
    out["addresses_of_buyer_7d"] = float(
        _distinct([order.address, *(o.address for o in sharing["buyer"])])
    )
    phone = sharing["phone"]
    out["buyers_of_phone_7d"] = float(
        _distinct([order.customer_id, *(o.customer_id for o in phone)]) if order.phone else 0
    )
    out["addresses_of_phone_7d"] = float(
        _distinct([order.address, *(o.address for o in phone)]) if order.phone else 0
    )
    out["buyers_of_device_7d"] = float(
        _distinct([order.customer_id, *(o.customer_id for o in sharing["device"])])
        if order.device
        else 0
    )
    out["buyers_of_ip_24h"] = float(
        _distinct([order.customer_id, *(o.customer_id for o in within(sharing["ip"], DAY))])
        if order.ip
        else 0
    )
    out["account_age_days"] = account_age_days(order)

    # Amounts: tiny for the currency or for the shop; the same total from other buyers.
    shop = [s for s in near.shop if order.at - s.at <= WEEK]
    same_currency = [s.total for s in shop if s.currency == order.currency]
    shop_median = Decimal(str(median(same_currency))) if len(same_currency) >= 5 else None
    tiny = _is_tiny(order.total, order.currency, shop_median)
    out["total"] = float(order.total)
    out["tiny"] = 1.0 if tiny else 0.0
    out["amount_vs_median"] = (
        float(order.total / shop_median) if shop_median and shop_median > 0 else 1.0
    )
    shared_point = {id(o): o for k in ("address", "phone", "device") for o in sharing[k]}
    out["same_amount_others_7d"] = float(
        sum(
            1
            for o in shared_point.values()
            if o.customer_id != order.customer_id
            and o.total == order.total
            and o.currency == order.currency
        )
    )
    cheap = CHEAP.get(order.currency)
    out["cheap_quantity"] = float(
        max(
            (x.quantity for x in order.lines if cheap is not None and x.unit_price < cheap),
            default=0,
        )
    )
    out["single_sku"] = 1.0 if len({x.sku for x in order.lines}) == 1 else 0.0

    # The shop in the last hour: orders, buyers, concentration (orders per buyer).
    hour = [s for s in shop if order.at - s.at <= HOUR]
    out["shop_orders_1h"] = float(len(hour) + 1)
    buyers = {s.customer_id for s in hour} | {order.customer_id}
    out["shop_buyers_1h"] = float(len(buyers))
    out["shop_concentration"] = out["shop_orders_1h"] / out["shop_buyers_1h"]
    out["buyer_shop_orders_1h"] = float(
        1 + sum(1 for s in hour if s.customer_id == order.customer_id)
    )
    out["shop_tiny_1h"] = float(
        (1 if tiny else 0)
        + sum(1 for s in hour if s.currency == order.currency and _is_tiny(s.total, s.currency))
    )
    out["locker"] = 1.0 if order.locker else 0.0
    out["incomplete"] = 1.0 if order.incomplete else 0.0

    # The connected component of the buyer in the buyers-addresses-phones-devices graph.
    graph = _Components()
    for o in (*linked, order):
        graph.join(_nodes(o))
    root = graph.find(f"c:{order.customer_id}")
    members = [o for o in (*linked, order) if graph.find(f"c:{o.customer_id}") == root]
    out["component_buyers"] = float(_distinct(o.customer_id for o in members))
    out["component_orders"] = float(len(members))
    young = {
        o.customer_id
        for o in members
        if o.account_created is not None and 0 <= account_age_days(o) < YOUNG_ACCOUNT_DAYS
    }
    out["young_linked_buyers"] = float(len(young))
    return {name: out[name] for name in FEATURE_NAMES}
