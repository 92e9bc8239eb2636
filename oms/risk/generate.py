"""A labelled data set of orders for training and evaluating the risk score: ordinary
customers with realistic habits, and brushing rings of several kinds.

Each order is an order view as JSON (the read model's shape, with ``customer.created_at``,
``shipping_address.phone`` and ``client {ip, device_id}``) plus ``label``: ``genuine`` or
``ring:<kind>``. Everything is drawn from ``random.Random(seed)``: the same seed gives the
same file, another seed other customers and other rings (sizes, timing, amounts, shops).

Genuine customers: repeat buyers with one or two favourite shops, families sharing an
address (some a landline or a tablet), offices where colleagues have parcels sent to work
from the office's IP, parcel-locker users (a locker serves many strangers), mobile networks
whose IPs many strangers share, new accounts now and then, baskets of one to four lines,
occasionally many units of a cheap SKU, a second order within the hour.

Ring kinds (``RING_KINDS``), each with its own ranges in ``RING_SPECS``:

- ``address``: one or two addresses (often a locker or an incomplete one), many accounts;
- ``phone``: one phone number behind many accounts, each with its own address;
- ``tiny_burst``: a burst of tiny orders within hours;
- ``sku_farm``: aged accounts buying many units of one cheap SKU, to pickup points;
- ``device``: many accounts on a few devices and one IP, normal addresses and amounts.

Training and evaluation use different seeds, and may use different kinds (``rings``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

RING_KINDS = ("address", "phone", "tiny_burst", "sku_farm", "device")
GENUINE = "genuine"

STREETS = (
    "Hauptstr.", "Bahnhofstr.", "Gartenweg", "Lindenallee", "Schillerstr.", "Goethestr.",
    "Bergstr.", "Kirchplatz", "Am Markt", "Rosenweg", "Waldstr.", "Mozartstr.",
)  # fmt: skip
CITIES = (
    ("Berlin", "10"), ("Hamburg", "20"), ("München", "80"), ("Köln", "50"),
    ("Leipzig", "04"), ("Dresden", "01"), ("Bremen", "28"), ("Mainz", "55"),
)  # fmt: skip
CN_ROADS = ("文一西路", "南京路", "中山路", "人民路", "解放路", "建国路", "长江路", "延安路")
CN_CITIES = (("杭州", "310"), ("上海", "200"), ("南京", "210"), ("成都", "610"))


@dataclass(frozen=True)
class Shop:
    channel: str
    currency: str
    weight: float  # share of genuine orders
    price_scale: float  # the shop's typical price level
    country: str = "DE"


SHOPS = (
    Shop("shop-mode", "EUR", 0.30, 40.0),
    Shop("shop-tech", "EUR", 0.25, 60.0),
    Shop("shop-home", "EUR", 0.20, 25.0),
    Shop("shop-cn", "CNY", 0.15, 150.0, "CN"),
    Shop("shop-small", "EUR", 0.06, 30.0),
    Shop("shop-tiny", "EUR", 0.04, 20.0),
)


@dataclass(frozen=True)
class RingSpec:
    accounts: tuple[int, int]
    orders_per_account: tuple[int, int]
    span_hours: tuple[float, float]
    new_account_share: float


RING_SPECS: dict[str, RingSpec] = {
    "address": RingSpec((10, 30), (1, 2), (6, 72), 0.7),
    "phone": RingSpec((8, 25), (1, 2), (12, 96), 0.6),
    "tiny_burst": RingSpec((8, 20), (2, 5), (1, 3), 0.8),
    "sku_farm": RingSpec((6, 15), (2, 5), (48, 120), 0.2),
    "device": RingSpec((12, 35), (1, 2), (24, 96), 0.7),
}


@dataclass
class Persona:
    id: str
    created: datetime
    address: dict[str, Any]
    phone: str
    devices: list[str]
    home_ip: str
    shops: list[Shop]
    office_ip: str | None = None
    # Where parcels from a shop of another country go (the same place every time).
    abroad: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class _World:
    rng: random.Random
    start: datetime
    end: datetime
    catalogue: dict[str, list[tuple[str, Decimal]]] = field(default_factory=dict)
    counter: int = 0

    def uid(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter:06x}"


def _money(value: float) -> Decimal:
    return Decimal(str(max(value, 0.01))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _catalogue(rng: random.Random, shop: Shop) -> list[tuple[str, Decimal]]:
    items = []
    for n in range(40):
        if n < 6:  # cheap SKUs: cables, socks, stickers
            price = rng.uniform(0.5, 2.9) * shop.price_scale / 40.0
        else:
            price = rng.lognormvariate(0, 0.6) * shop.price_scale
        items.append((f"{shop.channel.upper()}-{n:03d}", _money(price)))
    return items


def _address(w: _World, shop_country: str, kind: str = "home") -> dict[str, Any]:
    rng = w.rng
    if shop_country == "CN":
        city, zip_prefix = rng.choice(CN_CITIES)
        if kind == "locker":
            line1 = f"{rng.choice(CN_ROADS)}{rng.randint(1, 300)}号丰巢快递柜"
        elif kind == "incomplete":
            line1 = rng.choice(("1号", "x", "..", ""))
        else:
            line1 = f"{rng.choice(CN_ROADS)}{rng.randint(1, 999)}号{rng.randint(1, 30)}栋"
        return {
            "line1": line1,
            "city": city,
            "postal_code": f"{zip_prefix}{rng.randint(0, 999):03d}",
            "country": "CN",
        }
    city, zip_prefix = rng.choice(CITIES)
    if kind == "locker":
        line1 = f"Packstation {rng.randint(100, 399)}"
    elif kind == "incomplete":
        line1 = rng.choice(("x", "1", "..", ""))
    else:
        line1 = f"{rng.choice(STREETS)} {rng.randint(1, 180)}"
    return {
        "line1": line1,
        "city": city,
        "postal_code": f"{zip_prefix}{rng.randint(100, 999)}",
        "country": "DE",
    }


def _phone(rng: random.Random, country: str) -> str:
    if country == "CN":
        return f"+86 1{rng.randint(30, 99)}{rng.randint(10_000_000, 99_999_999)}"
    return f"+49 1{rng.randint(50, 79)} {rng.randint(1_000_000, 9_999_999)}"


def _ip(rng: random.Random) -> str:
    return (
        f"{rng.randint(2, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    )


def _order(
    w: _World,
    persona: Persona,
    shop: Shop,
    at: datetime,
    lines: list[tuple[str, int, Decimal]],
    ip: str,
    device: str,
    label: str,
    address: dict[str, Any] | None = None,
    phone: str | None = None,
) -> dict[str, Any]:
    total = sum((price * qty for _, qty, price in lines), Decimal(0))
    ship = {"name": "", **(address or persona.address), "phone": phone or persona.phone}
    return {
        "id": "",
        "channel": shop.channel,
        "external_id": "",
        "customer": {"id": persona.id, "created_at": persona.created.isoformat()},
        "shipping_address": ship,
        "client": {"ip": ip, "device_id": device},
        "currency": shop.currency,
        "lines": [{"sku": s, "quantity": q, "unit_price": str(p)} for s, q, p in lines],
        "totals": {"subtotal": str(total), "total": str(total)},
        "created_at": at.isoformat(),
        "label": label,
    }


def _basket(w: _World, shop: Shop) -> list[tuple[str, int, Decimal]]:
    rng = w.rng
    items = w.catalogue[shop.channel]
    lines = []
    for sku, price in rng.sample(items, rng.choice((1, 1, 1, 2, 2, 3, 4))):
        cheap = items.index((sku, price)) < 6
        qty = rng.choice((1, 1, 1, 1, 2, 3))
        if cheap:
            qty = rng.randint(5, 12) if rng.random() < 0.05 else rng.randint(1, 4)
        lines.append((sku, qty, price))
    return lines


def _genuine(w: _World, target: int) -> list[dict[str, Any]]:
    rng, span = w.rng, (w.end - w.start).total_seconds()
    households: list[Persona] = []
    offices = [(_address(w, "DE"), _ip(rng)) for _ in range(6)]
    lockers = {"DE": [_address(w, "DE", "locker") for _ in range(25)]}
    lockers["CN"] = [_address(w, "CN", "locker") for _ in range(15)]
    mobile_ips = [_ip(rng) for _ in range(150)]
    orders: list[dict[str, Any]] = []
    while len(orders) < target:
        shops = rng.choices(SHOPS, weights=[s.weight for s in SHOPS], k=rng.choice((1, 1, 2)))
        country = shops[0].country
        new = rng.random() < 0.05
        created = (
            w.start + timedelta(seconds=rng.uniform(-86400, span))
            if new
            else w.start - timedelta(days=rng.uniform(30, 2000))
        )
        roll = rng.random()
        devices = [w.uid("dev-") for _ in range(rng.choice((1, 1, 2)))]
        persona = Persona(
            w.uid("cust-"), created, _address(w, country), _phone(rng, country), devices,
            _ip(rng), shops,
        )  # fmt: skip
        same_country = [h for h in households if h.address["country"] == country]
        if roll < 0.22 and same_country:  # family: the household's address and IP
            home = rng.choice(same_country)
            persona.address, persona.home_ip = home.address, home.home_ip
            if rng.random() < 0.10:
                persona.phone = home.phone  # the landline
            if rng.random() < 0.25:
                persona.devices.append(home.devices[0])  # the family tablet
        elif roll < 0.25 and country == "DE":  # parcels to the office
            persona.address, persona.office_ip = rng.choice(offices)
        elif roll < 0.31:
            persona.address = rng.choice(lockers[country])
        else:
            households.append(persona)
        count = min(30, 1 + int(rng.expovariate(1 / 1.6)))
        first = max(0.0, (created - w.start).total_seconds())
        for _ in range(count):
            at = w.start + timedelta(seconds=rng.uniform(first, span))
            if at < persona.created:
                at = persona.created + timedelta(hours=rng.uniform(0.1, 24))
            orders.append(_genuine_order(w, persona, at, mobile_ips))
            if rng.random() < 0.04:  # forgot something: a second order within the hour
                again = at + timedelta(minutes=rng.uniform(3, 55))
                orders.append(_genuine_order(w, persona, again, mobile_ips))
    return orders


def _genuine_order(
    w: _World, persona: Persona, at: datetime, mobile_ips: list[str]
) -> dict[str, Any]:
    rng = w.rng
    shop = rng.choice(persona.shops)
    roll = rng.random()
    if persona.office_ip and roll < 0.5:
        ip = persona.office_ip
    elif roll < 0.7:
        ip = persona.home_ip
    else:
        ip = rng.choice(mobile_ips)
    address = None
    if persona.address["country"] != shop.country:
        address = persona.abroad.setdefault(shop.country, _address(w, shop.country))
    return _order(
        w, persona, shop, at, _basket(w, shop), ip, rng.choice(persona.devices), GENUINE, address
    )


def _ring(w: _World, kind: str) -> list[dict[str, Any]]:
    rng, spec = w.rng, RING_SPECS[kind]
    shop = rng.choices(SHOPS, weights=[1, 1, 1, 1, 3, 3])[0]
    country = shop.country
    span_h = rng.uniform(*spec.span_hours)
    begin = w.start + timedelta(
        hours=rng.uniform(0, max(1.0, (w.end - w.start).total_seconds() / 3600 - span_h))
    )
    items = w.catalogue[shop.channel]
    target_sku, target_price = rng.choice(items[6:])
    cheap_sku, cheap_price = rng.choice(items[:6])
    n_accounts = rng.randint(*spec.accounts)
    devices = [w.uid("dev-") for _ in range(rng.randint(1, 3))]
    ips = [_ip(rng) for _ in range(rng.randint(1, 3))]
    drop_kind = "locker" if rng.random() < 0.5 else ("incomplete" if rng.random() < 0.4 else "home")
    drops = [_address(w, country, drop_kind) for _ in range(rng.randint(1, 2))]
    phones = [_phone(rng, country) for _ in range(rng.randint(1, 2))]
    label = f"ring:{kind}"
    orders = []
    for _ in range(n_accounts):
        first_at = begin + timedelta(hours=rng.uniform(0, span_h))
        if rng.random() < spec.new_account_share:
            created = first_at - timedelta(hours=rng.uniform(0.5, 72))
        else:
            created = first_at - timedelta(days=rng.uniform(30, 400))  # a bought account
        own_device = w.uid("dev-")
        persona = Persona(
            w.uid("cust-"), created, _address(w, country), _phone(rng, country), [own_device],
            _ip(rng), [shop],
        )  # fmt: skip
        for n in range(rng.randint(*spec.orders_per_account)):
            at = first_at if n == 0 else begin + timedelta(hours=rng.uniform(0, span_h))
            at = max(at, created + timedelta(minutes=5))
            lines = [(target_sku, 1, target_price)]
            address: dict[str, Any] | None = None
            phone: str | None = None
            device, ip = rng.choice(devices), rng.choice(ips)
            if kind == "address":
                address = rng.choice(drops)
            elif kind == "phone":
                phone = rng.choice(phones)
                device, ip = own_device, persona.home_ip if rng.random() < 0.5 else rng.choice(ips)
                lines = [(target_sku, rng.choice((1, 1, 2)), target_price)]
            elif kind == "tiny_burst":
                price = _money(rng.uniform(0.01, 0.99))
                lines = [(f"{shop.channel.upper()}-TINY", 1, price)]
                if rng.random() < 0.4:
                    address = _address(w, country, "incomplete")
            elif kind == "sku_farm":
                address = rng.choice(drops)
                lines = [(cheap_sku, rng.randint(5, 40), cheap_price)]
            # device: the ring's devices and IPs, the account's own address and phone
            orders.append(_order(w, persona, shop, at, lines, ip, device, label, address, phone))
    return orders


def generate(
    orders: int,
    seed: int,
    rings: tuple[str, ...] = RING_KINDS,
    ring_share: float = 0.05,
    days: int = 14,
    start: datetime | None = None,
) -> list[dict[str, Any]]:
    """About ``orders`` orders (rings come whole, so a few more or less), oldest first."""
    unknown = set(rings) - set(RING_KINDS)
    if unknown:
        raise ValueError(f"unknown ring kinds {sorted(unknown)}; known: {', '.join(RING_KINDS)}")
    if orders < 1 or not 0 <= ring_share < 1 or days < 1:
        raise ValueError("orders >= 1, 0 <= ring share < 1 and days >= 1 are needed")
    begin = start or datetime(2026, 1, 5, tzinfo=UTC)
    w = _World(random.Random(seed), begin, begin + timedelta(days=days))
    for shop in SHOPS:
        w.catalogue[shop.channel] = _catalogue(w.rng, shop)
    fake: list[dict[str, Any]] = []
    while rings and len(fake) < orders * ring_share:
        fake += _ring(w, w.rng.choice(rings))
    out = _genuine(w, max(0, orders - len(fake))) + fake
    out.sort(key=lambda o: o["created_at"])
    for n, o in enumerate(out):
        o["id"] = f"s{seed}-{n:07d}"
        o["external_id"] = o["id"]
    return out
