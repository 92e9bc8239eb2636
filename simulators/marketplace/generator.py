"""Marketplace orders, made up from a seeded random generator, and their lifecycle.

The generator is pure: the same seed, platform, SKUs and clock give the same orders. An order
is kept in one platform-neutral shape, :class:`MarketOrder` (buyer, address, lines, money as
``Decimal`` to the cent, a neutral ``state``); ``simulators.marketplace.shapes`` renders it in
each platform's own JSON. Keeping one shape means the money is split once (the order's
discount and shipping shared over its lines to the cent) and every rendering adds up.

The lifecycle (:func:`transition`) is what a buyer, the platform or the seller does to an
order: pay, close (unpaid and timed out, or after a refund), request a refund before dispatch,
cancel, and ship (the seller's feedback). Each change moves ``modified``.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")  # no daylight saving since 1991
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MARKET_PLATFORMS = ("taobao", "jd", "pdd", "amazon", "shopify", "woocommerce", "native")
CHINESE = frozenset({"taobao", "jd", "pdd"})
CURRENCY = {
    "taobao": "CNY",
    "jd": "CNY",
    "pdd": "CNY",
    "amazon": "USD",
    "shopify": "USD",
    "woocommerce": "EUR",
    "native": "EUR",
}
DEFAULT_SKUS = tuple(f"SKU-{n:04d}" for n in range(1, 21))


class State(StrEnum):
    UNPAID = "unpaid"
    PAID = "paid"
    REFUND_REQUESTED = "refund_requested"  # the buyer asked for the money back before dispatch
    SHIPPED = "shipped"
    CLOSED = "closed"  # closed unpaid (timed out), or closed after a refund
    CANCELLED = "cancelled"  # cancelled by the seller or the platform


class Action(StrEnum):
    PAY = "pay"
    CLOSE = "close"
    REFUND = "refund"
    CANCEL = "cancel"
    SHIP = "ship"


# Which states each action may start from.
_FROM: dict[Action, frozenset[State]] = {
    Action.PAY: frozenset({State.UNPAID}),
    Action.CLOSE: frozenset({State.UNPAID, State.PAID, State.REFUND_REQUESTED}),
    Action.REFUND: frozenset({State.PAID}),
    Action.CANCEL: frozenset({State.UNPAID, State.PAID, State.REFUND_REQUESTED}),
    Action.SHIP: frozenset({State.PAID}),
}
_TO = {
    Action.PAY: State.PAID,
    Action.CLOSE: State.CLOSED,
    Action.REFUND: State.REFUND_REQUESTED,
    Action.CANCEL: State.CANCELLED,
    Action.SHIP: State.SHIPPED,
}


class TransitionRefused(Exception):
    """The action does not apply to the order in its state (paying a closed trade)."""

    def __init__(self, order: MarketOrder, action: str) -> None:
        super().__init__(f"cannot {action} {order.platform} order {order.id}: it is {order.state}")
        self.state = order.state
        self.action = action


@dataclass
class Buyer:
    id: str
    nick: str
    name: str  # in full; renderings mask it where the platform does
    email: str
    phone: str
    country: str  # ISO 3166-1 alpha-2
    region: str  # province / state
    region_code: str
    city: str
    district: str
    town: str
    line1: str
    line2: str
    postal_code: str

    @property
    def first_name(self) -> str:
        return self.name.split(" ")[0]

    @property
    def last_name(self) -> str:
        return self.name.split(" ", 1)[-1]


@dataclass
class Line:
    line_id: str
    sku: str
    title: str
    quantity: int
    unit_price: Decimal
    product_id: str
    variant_id: str
    # This line's share of the order's discount, shipping and tax (they add up to the order's).
    discount: Decimal = ZERO
    shipping: Decimal = ZERO
    tax: Decimal = ZERO

    @property
    def goods(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass
class MarketOrder:
    platform: str
    id: str
    number: int  # the shop's order number (Shopify #1001, Woo number)
    currency: str
    state: str
    created: datetime  # UTC-aware
    modified: datetime
    buyer: Buyer
    lines: list[Line]
    discount: Decimal
    shipping: Decimal
    tax: Decimal
    payment_reference: str
    paid_at: datetime | None = None
    closed_at: datetime | None = None
    shipped_at: datetime | None = None
    version: int = 1
    shipments: list[dict[str, str]] = field(default_factory=list)
    # ``refunded`` once a refund closed the order (Taobao refund_status SUCCESS).
    refunded: bool = False

    @property
    def goods(self) -> Decimal:
        return sum((line.goods for line in self.lines), ZERO)

    @property
    def total(self) -> Decimal:
        return self.goods - self.discount + self.shipping + self.tax

    @property
    def ever_paid(self) -> bool:
        return self.paid_at is not None


def money(value: Decimal | float | str) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def allocate(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """``amount`` shared over ``weights`` to the cent; the shares add up to it exactly (the
    last share takes what rounding left)."""
    total = sum(weights, ZERO)
    if not weights:
        return []
    if total == 0:
        return [ZERO] * (len(weights) - 1) + [amount]
    shares = [money(amount * w / total) for w in weights[:-1]]
    return [*shares, amount - sum(shares, ZERO)]


def transition(order: MarketOrder, action: str, now: datetime) -> None:
    """Apply ``action`` to ``order`` at ``now``; ``TransitionRefused`` if it does not apply."""
    act = Action(action)
    if order.state not in _FROM[act]:
        raise TransitionRefused(order, act)
    refunding = order.state == State.REFUND_REQUESTED
    order.state = _TO[act]
    order.modified = max(now, order.modified)
    order.version += 1
    if act is Action.PAY:
        order.paid_at = order.modified
    elif act in (Action.CLOSE, Action.CANCEL):
        order.closed_at = order.modified
        order.refunded = order.ever_paid and (refunding or act is Action.CANCEL)
    elif act is Action.SHIP:
        order.shipped_at = order.modified


# --- made-up people, places and goods ------------------------------------------------------

_CN_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_CN_GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰"]
# province, city, district, town, road, postcode
_CN_PLACES = [
    ("浙江省", "杭州市", "余杭区", "五常街道", "文一西路", "311100"),
    ("浙江省", "宁波市", "鄞州区", "首南街道", "天童南路", "315100"),
    ("广东省", "深圳市", "南山区", "粤海街道", "科技南路", "518057"),
    ("广东省", "广州市", "天河区", "石牌街道", "天河路", "510630"),
    ("北京市", "北京市", "朝阳区", "建外街道", "建国路", "100022"),
    ("上海市", "上海市", "浦东新区", "陆家嘴街道", "世纪大道", "200120"),
    ("江苏省", "南京市", "鼓楼区", "湖南路街道", "中山北路", "210008"),
    ("四川省", "成都市", "武侯区", "玉林街道", "人民南路", "610041"),
    ("湖北省", "武汉市", "洪山区", "珞南街道", "珞喻路", "430070"),
    ("山东省", "青岛市", "市南区", "香港中路街道", "香港中路", "266071"),
]
_CN_MOBILE_PREFIXES = ["130", "133", "135", "136", "138", "139", "150", "158", "186", "188"]
_CN_GOODS = ["纯棉T恤", "保温杯", "蓝牙耳机", "运动鞋", "收纳盒", "面霜", "茶叶礼盒", "充电宝"]

_FIRST = ["Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Mia", "Ethan", "Sofia", "Leo"]
_LAST = ["Smith", "Johnson", "Brown", "Miller", "Davis", "Wilson", "Moore", "Clark", "Hall"]
_STREETS = ["Main St", "Oak Ave", "Maple Rd", "Cedar Ln", "Park Blvd", "Elm St", "Lake Dr"]
# city, state, state code, postcode, country
_US_PLACES = [
    ("Seattle", "Washington", "WA", "98101", "US"),
    ("Austin", "Texas", "TX", "73301", "US"),
    ("Denver", "Colorado", "CO", "80202", "US"),
    ("Boston", "Massachusetts", "MA", "02108", "US"),
    ("Portland", "Oregon", "OR", "97201", "US"),
    ("Chicago", "Illinois", "IL", "60601", "US"),
]
_EU_PLACES = [
    ("Berlin", "Berlin", "BE", "10115", "DE"),
    ("Munich", "Bavaria", "BY", "80331", "DE"),
    ("Lyon", "Auvergne-Rhône-Alpes", "ARA", "69001", "FR"),
    ("Amsterdam", "North Holland", "NH", "1011", "NL"),
    ("Madrid", "Madrid", "MD", "28001", "ES"),
]
_EN_GOODS = ["Cotton T-Shirt", "Travel Mug", "Wireless Earbuds", "Running Shoes", "Desk Lamp"]


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(n))


def _stable(text: str, digits: int) -> str:
    """A number derived from ``text``: the same SKU has the same product id on every order."""
    return str(int(hashlib.sha256(text.encode()).hexdigest(), 16) % 10**digits).zfill(digits)


def _chinese_buyer(rng: random.Random) -> Buyer:
    name = rng.choice(_CN_SURNAMES) + rng.choice(_CN_GIVEN)
    province, city, district, town, road, postcode = rng.choice(_CN_PLACES)
    mobile = rng.choice(_CN_MOBILE_PREFIXES) + _digits(rng, 8)
    nick = "tb" + _digits(rng, 8)
    return Buyer(
        id=_digits(rng, 12),
        nick=nick,
        name=name,
        email="",
        phone=mobile,
        country="CN",
        region=province,
        region_code="",
        city=city,
        district=district,
        town=town,
        line1=f"{road}{rng.randint(1, 999)}号",
        line2=f"{rng.randint(1, 30)}幢{rng.randint(101, 2502)}室",
        postal_code=postcode,
    )


def _western_buyer(rng: random.Random, europe: bool) -> Buyer:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    city, region, code, postcode, country = rng.choice(_EU_PLACES if europe else _US_PLACES)
    return Buyer(
        id=_digits(rng, 10),
        nick=f"{first.lower()}{_digits(rng, 3)}",
        name=f"{first} {last}",
        email=f"{first.lower()}.{last.lower()}{_digits(rng, 2)}@example.com",
        phone=("+49" if europe else "+1") + _digits(rng, 10),
        country=country,
        region=region,
        region_code=code,
        city=city,
        district="",
        town="",
        line1=f"{rng.randint(1, 999)} {rng.choice(_STREETS)}",
        line2=rng.choice(["", "", f"Apt {rng.randint(1, 40)}"]),
        postal_code=postcode,
    )


def _unit_price(rng: random.Random, chinese: bool) -> Decimal:
    if chinese:  # 9.90 .. 999.00, ending in .00 or .90 as shops price them
        return Decimal(rng.randint(9, 399)) + rng.choice([Decimal("0.00"), Decimal("0.90")])
    return Decimal(rng.randint(4, 199)) + rng.choice([Decimal("0.99"), Decimal("0.49")])


def _order_id(platform: str, rng: random.Random, created: datetime, number: int) -> str:
    if platform == "taobao":
        return "33" + _digits(rng, 17)
    if platform == "jd":
        return "23" + _digits(rng, 10)
    if platform == "pdd":
        return created.astimezone(SHANGHAI).strftime("%y%m%d") + "-" + _digits(rng, 15)
    if platform == "amazon":
        return f"{rng.randint(111, 999)}-{_digits(rng, 7)}-{_digits(rng, 7)}"
    if platform == "shopify":
        return str(5_000_000_000_000 + rng.randrange(10**12))
    if platform == "woocommerce":
        return str(number)
    return "ord_" + _digits(rng, 12)


def generate(
    platform: str,
    rng: random.Random,
    now: datetime,
    skus: list[str] | tuple[str, ...] = DEFAULT_SKUS,
    number: int = 1001,
    paid: bool = True,
) -> MarketOrder:
    """One order of ``platform`` created at ``now``, paid at once or not yet."""
    if platform not in MARKET_PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}")
    if not skus:
        raise ValueError("no SKUs to order")
    chinese = platform in CHINESE
    buyer = (
        _chinese_buyer(rng)
        if chinese
        else _western_buyer(rng, europe=platform in ("woocommerce", "native"))
    )
    goods_names = _CN_GOODS if chinese else _EN_GOODS
    picked = rng.sample(list(skus), k=min(len(skus), rng.randint(1, 4)))
    lines = []
    for n, sku in enumerate(picked, start=1):
        lines.append(
            Line(
                line_id=_digits(rng, 12) if platform != "woocommerce" else str(number * 10 + n),
                sku=sku,
                title=f"{rng.choice(goods_names)} {sku}",
                quantity=rng.choice([1, 1, 1, 2, 2, 3]),
                unit_price=_unit_price(rng, chinese),
                product_id=_stable(f"{platform}/{sku}", 11),
                variant_id=_stable(f"{platform}/{sku}/v", 13),
            )
        )
    goods = sum((line.goods for line in lines), ZERO)
    # A discount on some orders (up to a fifth, whole yuan on Chinese platforms), and a
    # shipping fee on orders under a threshold.
    discount = ZERO
    if rng.random() < 0.4:
        cut = goods * Decimal(rng.randint(5, 20)) / 100
        discount = money(cut.to_integral_value() if chinese else cut)
    free_above = Decimal(99) if chinese else Decimal(50)
    shipping = ZERO if goods >= free_above else (Decimal("8.00") if chinese else Decimal("5.99"))
    # Sales tax on US orders where the platform adds it (not included in prices).
    tax = ZERO
    if platform in ("amazon", "shopify") and rng.random() < 0.5:
        tax = money((goods - discount) * Decimal("0.0825"))
    for line, d, s, t in zip(
        lines,
        allocate(discount, [line.goods for line in lines]),
        allocate(shipping, [line.goods for line in lines]),
        allocate(tax, [line.goods for line in lines]),
        strict=True,
    ):
        line.discount, line.shipping, line.tax = d, s, t
    order = MarketOrder(
        platform=platform,
        id=_order_id(platform, rng, now, number),
        number=number,
        currency=CURRENCY[platform],
        state=State.UNPAID,
        created=now,
        modified=now,
        buyer=buyer,
        lines=lines,
        discount=discount,
        shipping=shipping,
        tax=tax,
        payment_reference=_digits(rng, 28) if chinese else "txn_" + _digits(rng, 16),
    )
    if paid or platform == "native":  # a native order arrives paid (card token)
        order.state = State.PAID
        order.paid_at = now
    return order


@dataclass(frozen=True)
class Mix:
    """How a batch of orders lives on: shares of the batch (each in [0, 1])."""

    paid_ratio: float = 0.8  # paid at once
    unpaid_then_paid_ratio: float = 0.1  # paid after a delay
    closed_ratio: float = 0.05  # closed unpaid after a delay
    # (the rest stays unpaid)
    refund_ratio: float = 0.0  # of the paid ones: a refund requested after a delay

    def validate(self) -> None:
        for name in ("paid_ratio", "unpaid_then_paid_ratio", "closed_ratio", "refund_ratio"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.paid_ratio + self.unpaid_then_paid_ratio + self.closed_ratio > 1 + 1e-9:
            raise ValueError("paid_ratio + unpaid_then_paid_ratio + closed_ratio exceed 1")


@dataclass
class Planned:
    """An order with the actions to apply to it later: ``[(seconds from now, action)]``."""

    order: MarketOrder
    later: list[tuple[float, str]]


def plan(
    platform: str,
    rng: random.Random,
    now: datetime,
    mix: Mix,
    delay_s: float,
    skus: list[str] | tuple[str, ...] = DEFAULT_SKUS,
    number: int = 1001,
) -> Planned:
    """One order and its future: paid now, paid later, closed later, or left unpaid; a refund
    later for some of the paid ones. Delays are drawn up to ``delay_s``."""
    draw = rng.random()
    paid_now = draw < mix.paid_ratio
    order = generate(platform, rng, now, skus, number, paid=paid_now)
    later: list[tuple[float, str]] = []
    step = rng.uniform(delay_s / 2, delay_s) if delay_s > 0 else 0.0
    if order.state == State.UNPAID:
        if draw < mix.paid_ratio + mix.unpaid_then_paid_ratio:
            later.append((step, Action.PAY))
        elif draw < mix.paid_ratio + mix.unpaid_then_paid_ratio + mix.closed_ratio:
            later.append((step, Action.CLOSE))
    will_be_paid = order.state == State.PAID or later == [(step, Action.PAY)]
    if will_be_paid and rng.random() < mix.refund_ratio:
        later.append((step * 2 if later else step, Action.REFUND))
    return Planned(order, later)
