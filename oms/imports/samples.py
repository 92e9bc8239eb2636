"""Sample export files made the way real exports look (``oms import sample``), for the
tests, the docs and the benchmarks; with ``errors``, a handful of deliberate mistakes
(:data:`MISTAKES`: which order gets which, and the rule that must catch it).

    canonical  orders.csv (our layout)
    shopify    orders_export.csv (Shopify admin's "Export orders", every column)
    taobao     ExportOrderList<stamp>.csv + ExportOrderDetailList<stamp>.csv, GBK, ="..."

Everything is drawn from a seeded generator: the same arguments write the same bytes.
:func:`write_closed_canonical` streams a million closed orders for the import benchmark.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from oms.imports.formats.canonical import ORDER_COLUMNS

DEFAULT_SKUS = ("SAMPLE-TEE-S", "SAMPLE-TEE-M", "SAMPLE-MUG", "SAMPLE-CAP", "SAMPLE-SOCKS")
START = datetime(2024, 1, 2, 9, 0, tzinfo=UTC)
# The n-th order (from 1) of an --errors sample carries the mistake the rule must catch.
MISTAKES: dict[int, str] = {
    3: "total_mismatch",
    5: "money_decimals",
    7: "unknown_sku",
    9: "postal_code",
    11: "date_order",
    13: "duplicate_external_id",
    15: "email",
    17: "status",
    19: "phone",
    21: "quantity",
}
# Taobao never gives the buyer's email: its 15th order carries another mistake.
TAOBAO_MISTAKES = {**MISTAKES, 15: "date_format"}
UNKNOWN_SKU = "NO-SUCH-SKU-404"

_PLACES = (  # country, currency, city, region, postal code, street, phone
    ("DE", "EUR", "Berlin", "BE", "10115", "Invalidenstraße 12", "+49 30 1234567"),
    ("US", "USD", "Boston", "MA", "02134", "12 Harvard Ave", "+1 617-555-0142"),
    ("GB", "GBP", "London", "", "SW1A 1AA", "10 Downing St", "+44 20 7946 0958"),
    ("JP", "JPY", "Tokyo", "13", "100-0001", "1-1 Chiyoda", "+81 3-1234-5678"),
    ("CN", "CNY", "杭州市", "浙江省", "310012", "西湖区文三路90号", "13812345678"),
)
_NAMES = ("Ann Weber", "Bo Chen", "Carla Ruiz", "Dev Patel", "Emi Sato", "Finn Olsen")


@dataclass
class Sample:
    """One generated order, before it is written in a format's shape."""

    n: int
    external_id: str
    status: str
    created: datetime
    currency: str
    lines: list[tuple[str, int, Decimal]]
    shipping: Decimal
    discount: Decimal
    place: tuple[str, str, str, str, str, str, str]
    name: str
    email: str
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    cancelled_at: datetime | None = None
    tracking: str | None = None
    refunded: Decimal = Decimal(0)
    mistake: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def goods(self) -> Decimal:
        return sum((p * q for _, q, p in self.lines), Decimal(0))

    @property
    def total(self) -> Decimal:
        return self.goods + self.shipping - self.discount


def _money(value: Decimal, currency: str) -> str:
    return str(value.quantize(Decimal(1) if currency == "JPY" else Decimal("0.01")))


STATUS_MIX = (
    ("delivered", 60),
    ("cancelled", 8),
    ("refunded", 6),
    ("paid", 14),
    ("dispatched", 12),
)


def orders(
    count: int,
    skus: Sequence[str] = DEFAULT_SKUS,
    *,
    seed: int = 18,
    errors: bool = False,
    closed_only: bool = False,
    places: Sequence[int] | None = None,
    id_prefix: str = "S",
) -> Iterator[Sample]:
    rng = random.Random(seed)
    statuses = [s for s, w in STATUS_MIX for _ in range(w)]
    if closed_only:
        statuses = [s for s in statuses if s in ("delivered", "cancelled", "refunded")]
    choices = list(places) if places is not None else list(range(len(_PLACES)))
    for n in range(1, count + 1):
        place = _PLACES[choices[rng.randrange(len(choices))]]
        currency = place[1]
        created = START + timedelta(minutes=37 * n, seconds=rng.randrange(60))
        lines = []
        for k in range(rng.choice((1, 1, 1, 2, 2, 3))):
            price = Decimal(rng.randrange(5, 90)) + (
                Decimal(0) if currency == "JPY" else Decimal(rng.choice((0, 50, 99))) / 100
            )
            if currency == "JPY":
                price *= 100
            lines.append((skus[(n + k) % len(skus)], rng.randint(1, 3), price))
        status = statuses[rng.randrange(len(statuses))]
        shipping = (
            Decimal(0 if currency == "JPY" else rng.choice((0, 0, 4.9, 9.9))).quantize(
                Decimal("0.01")
            )
            if currency != "JPY"
            else Decimal(rng.choice((0, 500)))
        )
        name = _NAMES[n % len(_NAMES)]
        s = Sample(
            n=n,
            external_id=f"{id_prefix}{100000 + n}",
            status=status,
            created=created,
            currency=currency,
            lines=lines,
            shipping=shipping,
            discount=Decimal(0),
            place=place,
            name=name,
            email=f"{name.split()[0].lower()}.{n}@example.com",
        )
        if status != "cancelled" or n % 2:
            s.paid_at = created + timedelta(minutes=2)
        if status in ("dispatched", "delivered", "refunded"):
            s.shipped_at = created + timedelta(hours=20)
            s.tracking = f"1Z{n:012d}"
        if status in ("delivered", "refunded"):
            s.delivered_at = created + timedelta(days=3)
        if status == "cancelled":
            s.cancelled_at = created + timedelta(hours=1)
            s.refunded = s.total if s.paid_at else Decimal(0)
        if status == "refunded":
            s.refunded = s.total
        if errors and n in MISTAKES:
            s.mistake = MISTAKES[n]
        yield s


# --- canonical ---------------------------------------------------------------------------

CANONICAL_HEADER = (*ORDER_COLUMNS, "sku", "quantity", "unit_price", "line_id", "line_name")


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def canonical_rows(s: Sample) -> list[list[str]]:
    c = s.currency
    country, _, city, region, postal, street, phone = s.place
    order = {
        "external_id": s.external_id,
        "status": s.status,
        "created_at": _iso(s.created),
        "currency": c,
        "paid_at": _iso(s.paid_at),
        "shipped_at": _iso(s.shipped_at),
        "delivered_at": _iso(s.delivered_at),
        "cancelled_at": _iso(s.cancelled_at),
        "subtotal": _money(s.goods, c),
        "shipping": _money(s.shipping, c),
        "discount": _money(s.discount, c),
        "tax": _money(Decimal(0), c),
        "total": _money(s.total, c),
        "paid": _money(s.total, c) if s.paid_at else _money(Decimal(0), c),
        "refunded": _money(s.refunded, c),
        "payment_method": "card",
        "payment_reference": f"ch_{s.external_id.lower()}",
        "customer_id": s.email,
        "email": s.email,
        "customer_name": s.name,
        "phone": phone,
        "ship_name": s.name,
        "ship_line1": street,
        "ship_city": city,
        "ship_region": region,
        "ship_postal_code": postal,
        "ship_country": country,
        "ship_phone": phone,
        "tracking_number": s.tracking or "",
        "carrier": "DHL" if s.tracking else "",
        "cancelled_by": "customer" if s.status == "cancelled" else "",
        "cancel_reason": "changed their mind" if s.status == "cancelled" else "",
    }
    lines = [
        [sku, str(q), _money(p, c), str(i + 1), sku.title()]
        for i, (sku, q, p) in enumerate(s.lines)
    ]
    _canonical_mistake(s, order, lines)
    rows = []
    for i, line in enumerate(lines):
        cells = order if i == 0 else {"external_id": order["external_id"]}
        rows.append([cells.get(col, "") for col in ORDER_COLUMNS] + line)
    return rows


def _canonical_mistake(s: Sample, order: dict[str, str], lines: list[list[str]]) -> None:
    m = s.mistake
    if m == "total_mismatch":
        order["total"] = _money(s.total + 1, s.currency)
        order["paid"] = order["total"]
    elif m == "money_decimals":
        lines[0][2] = lines[0][2] + "9" if s.currency != "JPY" else lines[0][2] + ".5"
    elif m == "unknown_sku":
        lines[0][0] = UNKNOWN_SKU
    elif m == "postal_code":
        order["ship_postal_code"] = "1234"
    elif m == "date_order":
        order["paid_at"] = _iso(s.created - timedelta(days=1))
    elif m == "duplicate_external_id":
        order["external_id"] = f"{s.external_id[0]}{100000 + 2}"
    elif m == "email":
        order["email"] = s.email.replace("@", ".at.")
    elif m == "status":
        order["status"] = "shipped-ish"
    elif m == "phone":
        order["ship_phone"] = "call me"
    elif m == "quantity":
        lines[0][1] = "1.5"


def write_canonical(folder: Path, count: int, skus: Sequence[str], *, errors: bool) -> list[Path]:
    path = folder / "orders.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(CANONICAL_HEADER)
        for s in orders(count, skus, errors=errors):
            w.writerows(canonical_rows(s))
    return [path]


def write_closed_canonical(path: Path, count: int, skus: Sequence[str], *, seed: int = 1) -> int:
    """``count`` closed orders (delivered, cancelled, refunded) in the canonical CSV, fast:
    the benchmark's million orders in seconds. Returns the rows written."""
    rng = random.Random(seed)
    rows = 0
    places = (
        ("EUR", "DE", "Berlin", "10115", "Invalidenstraße 12"),
        ("USD", "US", "Boston", "02134", "12 Harvard Ave"),
        ("CNY", "CN", "杭州市", "310012", "西湖区文三路90号"),
    )
    prices = [f"{p}.{c:02d}" for p in range(5, 60) for c in (0, 50, 99)]
    at = {name: i for i, name in enumerate(CANONICAL_HEADER)}
    width = len(CANONICAL_HEADER)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(CANONICAL_HEADER)
        base = START
        for n in range(1, count + 1):
            currency, country, city, postal, street = places[n % 3]
            created = base + timedelta(seconds=20 * n)
            k = rng.random()
            status = "delivered" if k < 0.85 else "cancelled" if k < 0.95 else "refunded"
            nlines = 1 if rng.random() < 0.6 else 2
            chosen = [
                (
                    skus[rng.randrange(len(skus))],
                    rng.randint(1, 3),
                    prices[rng.randrange(len(prices))],
                )
                for _ in range(nlines)
            ]
            total = sum((Decimal(p) * q for _, q, p in chosen), Decimal(0))
            row = [""] * width
            created_iso = created.isoformat()
            row[at["external_id"]] = f"B{n:08d}"
            row[at["status"]] = status
            row[at["created_at"]] = created_iso
            row[at["currency"]] = currency
            row[at["paid_at"]] = created_iso
            row[at["total"]] = str(total)
            row[at["email"]] = f"buyer{n % 50000}@example.com"
            row[at["ship_name"]] = "Ann Weber"
            row[at["ship_line1"]] = street
            row[at["ship_city"]] = city
            row[at["ship_postal_code"]] = postal
            row[at["ship_country"]] = country
            if status == "delivered":
                row[at["shipped_at"]] = (created + timedelta(hours=20)).isoformat()
                row[at["delivered_at"]] = (created + timedelta(days=3)).isoformat()
            elif status == "cancelled":
                row[at["cancelled_at"]] = (created + timedelta(hours=1)).isoformat()
                row[at["refunded"]] = str(total)
            for i, (sku, q, p) in enumerate(chosen):
                if i:
                    row = [""] * width
                    row[at["external_id"]] = f"B{n:08d}"
                row[at["sku"]], row[at["quantity"]], row[at["unit_price"]] = sku, str(q), p
                w.writerow(row)
                rows += 1
    return rows


# --- Shopify -----------------------------------------------------------------------------

SHOPIFY_HEADER = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,"
    "Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,"
    "Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem compare at price,"
    "Lineitem sku,Lineitem requires shipping,Lineitem taxable,Lineitem fulfillment status,"
    "Billing Name,Billing Street,Billing Address1,Billing Address2,Billing Company,"
    "Billing City,Billing Zip,Billing Province,Billing Country,Billing Phone,Shipping Name,"
    "Shipping Street,Shipping Address1,Shipping Address2,Shipping Company,Shipping City,"
    "Shipping Zip,Shipping Province,Shipping Country,Shipping Phone,Notes,Note Attributes,"
    "Cancelled at,Payment Method,Payment Reference,Refunded Amount,Vendor,Outstanding Balance,"
    "Employee,Location,Device ID,Id,Tags,Risk Level,Source,Lineitem discount,Tax 1 Name,"
    "Tax 1 Value,Tax 2 Name,Tax 2 Value,Tax 3 Name,Tax 3 Value,Tax 4 Name,Tax 4 Value,"
    "Tax 5 Name,Tax 5 Value,Phone,Receipt Number,Duties,Billing Province Name,"
    "Shipping Province Name,Payment ID,Payment Terms Name,Next Payment Due At,"
    "Payment References"
).split(",")
_EASTERN = timezone(timedelta(hours=-5))


def _shopify_time(moment: datetime | None) -> str:
    return moment.astimezone(_EASTERN).strftime("%Y-%m-%d %H:%M:%S %z") if moment else ""


def shopify_rows(s: Sample) -> list[list[str]]:
    c = s.currency
    _, _, city, region, postal, street, phone = s.place
    financial, fulfillment = {
        "delivered": ("paid", "fulfilled"),
        "paid": ("paid", "unfulfilled"),
        "dispatched": ("paid", "fulfilled"),
        "refunded": ("refunded", "fulfilled"),
        "cancelled": ("refunded" if s.paid_at else "voided", "unfulfilled"),
    }[s.status]
    order_id = str(5523400000000 + s.n)
    first = {
        "Name": f"#{1000 + s.n}",
        "Email": s.email,
        "Financial Status": financial,
        "Paid at": _shopify_time(s.paid_at),
        "Fulfillment Status": fulfillment,
        "Fulfilled at": _shopify_time(s.shipped_at),
        "Accepts Marketing": "no",
        "Currency": c,
        "Subtotal": _money(s.goods - s.discount, c),
        "Shipping": _money(s.shipping, c),
        "Taxes": _money(Decimal(0), c),
        "Total": _money(s.total, c),
        "Discount Amount": _money(s.discount, c),
        "Shipping Method": "Standard",
        "Created at": _shopify_time(s.created),
        "Billing Name": s.name,
        "Billing Street": street,
        "Billing Address1": street,
        "Billing City": city,
        "Billing Zip": f"'{postal}",
        "Billing Province": region,
        "Billing Country": "US",
        "Shipping Name": s.name,
        "Shipping Street": street,
        "Shipping Address1": street,
        "Shipping City": city,
        "Shipping Zip": f"'{postal}",
        "Shipping Province": region,
        "Shipping Country": "US",
        "Shipping Phone": phone,
        "Cancelled at": _shopify_time(s.cancelled_at),
        "Payment Method": "Shopify Payments",
        "Payment Reference": f"c{order_id}.1",
        "Refunded Amount": _money(s.refunded, c),
        "Vendor": "Sample Store",
        "Outstanding Balance": _money(Decimal(0), c),
        "Id": order_id,
        "Risk Level": "Low",
        "Source": "web",
        "Phone": "",
        "Payment ID": f"c{order_id}.1",
        "Payment References": f"c{order_id}.1",
    }
    if s.mistake == "total_mismatch":
        first["Total"] = _money(s.total + 1, c)
    elif s.mistake == "postal_code":
        first["Shipping Zip"] = "'2134"
    elif s.mistake == "date_order":
        first["Paid at"] = _shopify_time(s.created - timedelta(days=1))
    elif s.mistake == "email":
        first["Email"] = s.email.replace("@", " at ")
    elif s.mistake == "status":
        first["Financial Status"] = "paid_in_gold"
    elif s.mistake == "phone":
        first["Shipping Phone"] = "n/a"
    elif s.mistake == "duplicate_external_id":
        first["Id"] = str(5523400000000 + 2)
    rows = []
    for i, (sku, q, p) in enumerate(s.lines):
        cells = dict(first) if i == 0 else {"Name": first["Name"], "Email": first["Email"]}
        cells.update(
            {
                "Lineitem quantity": str(q),
                "Lineitem name": f"{sku.title()} - Default Title",
                "Lineitem price": _money(p, c),
                "Lineitem compare at price": "",
                "Lineitem sku": sku,
                "Lineitem requires shipping": "true",
                "Lineitem taxable": "true",
                "Lineitem fulfillment status": "fulfilled"
                if fulfillment == "fulfilled"
                else "pending",
                "Lineitem discount": _money(Decimal(0), c),
            }
        )
        if i == 0 and s.mistake == "money_decimals":
            cells["Lineitem price"] += "9"
        if i == 0 and s.mistake == "unknown_sku":
            cells["Lineitem sku"] = UNKNOWN_SKU
        if i == 0 and s.mistake == "quantity":
            cells["Lineitem quantity"] = "0"
        rows.append([cells.get(col, "") for col in SHOPIFY_HEADER])
    return rows


def write_shopify(folder: Path, count: int, skus: Sequence[str], *, errors: bool) -> list[Path]:
    path = folder / "orders_export.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(SHOPIFY_HEADER)
        for s in orders(count, skus, errors=errors, places=[1]):
            if s.status == "dispatched":
                s.status = "delivered"  # a Shopify export has no tracking numbers
            w.writerows(shopify_rows(s))
    return [path]


# --- Taobao ------------------------------------------------------------------------------

TAOBAO_ORDER_HEADER = (
    "订单编号,买家会员名,买家支付宝账号,支付单号,支付详情,买家应付货款,买家应付邮费,买家支付积分,"
    "总金额,返点积分,买家实际支付金额,买家实际支付积分,订单状态,买家留言,收货人姓名,收货地址,"
    "运送方式,联系电话,联系手机,订单创建时间,订单付款时间,宝贝标题,宝贝种类,物流单号,物流公司,"
    "订单备注,宝贝总数量,店铺Id,店铺名称,订单关闭原因,卖家服务费,买家服务费,发票抬头,是否手机订单,"
    "分阶段订单信息,特权订金订单id,是否上传合同照片,是否上传小票,是否代付,定金排名,修改后的sku,"
    "修改后的收货地址,异常信息,天猫卡券抵扣,集分宝抵扣,是否是O2O交易,退款金额,预约门店,"
    "确认收货时间,打款商家金额"
).split(",")
TAOBAO_ITEM_HEADER = (
    "订单编号,标题,价格,购买数量,外部系统编号,商品属性,套餐信息,联系方式,备注,订单状态,商家编码"
).split(",")
_CHINA = timezone(timedelta(hours=8))
_BUYERS = ("tb_小明123", "快乐购物2020", "hz_lily", "王先生168", "tb8827361_00")
_ADDRESSES = (
    "浙江省 杭州市 西湖区 文三路90号东部软件园 (310012)",
    "广东省 深圳市 南山区 粤海街道科技园南区 (518057)",
    "北京 北京市 朝阳区 建国路88号SOHO现代城 (100022)",
    "上海 上海市 浦东新区 世纪大道100号 (200120)",
    "四川省 成都市 武侯区 天府大道北段1700号 (610041)",
)
_TAOBAO_STATUS = {
    "delivered": "交易成功",
    "paid": "买家已付款，等待卖家发货",
    "dispatched": "卖家已发货，等待买家确认",
    "refunded": "交易关闭",
    "cancelled": "交易关闭",
}


def _tb_time(moment: datetime | None) -> str:
    return moment.astimezone(_CHINA).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _guard(value: str) -> str:
    return f'="{value}"' if value else ""


def taobao_rows(s: Sample) -> tuple[list[str], list[list[str]]]:
    tid = str(3712345678901234000 + s.n)
    goods = s.goods
    payable = goods - s.discount
    paid = s.total if s.paid_at else Decimal(0)
    order = {
        "订单编号": _guard(tid),
        "买家会员名": _BUYERS[s.n % len(_BUYERS)],
        "买家支付宝账号": "",
        "支付单号": _guard(f"2024{s.n:020d}") if s.paid_at else "",
        "买家应付货款": _money(payable, "CNY"),
        "买家应付邮费": _money(s.shipping, "CNY"),
        "买家支付积分": "0",
        "总金额": _money(s.total, "CNY"),
        "返点积分": "0",
        "买家实际支付金额": _money(paid, "CNY"),
        "买家实际支付积分": "0",
        "订单状态": _TAOBAO_STATUS[s.status],
        "买家留言": "",
        "收货人姓名": ("张伟", "李娜", "王芳", "刘洋", "陈静")[s.n % 5],
        "收货地址": _ADDRESSES[s.n % len(_ADDRESSES)],
        "运送方式": "快递",
        "联系电话": "",
        "联系手机": _guard(f"138{s.n:08d}"[:11]),
        "订单创建时间": _tb_time(s.created),
        "订单付款时间": _tb_time(s.paid_at),
        "宝贝标题": s.lines[0][0],
        "宝贝种类": str(len(s.lines)),
        "物流单号": _guard(f"YT{7000000000000 + s.n}") if s.tracking else "",
        "物流公司": "圆通速递" if s.tracking else "",
        "宝贝总数量": str(sum(q for _, q, _ in s.lines)),
        "店铺Id": "0",
        "店铺名称": "样品旗舰店",
        "订单关闭原因": (
            "买家不想买了" if s.status == "cancelled" else "退款" if s.status == "refunded" else ""
        ),
        "是否手机订单": "手机订单",
        "退款金额": _money(s.refunded, "CNY"),
        "确认收货时间": _tb_time(s.delivered_at),
        "打款商家金额": _money(paid - s.refunded, "CNY") + "元",
    }
    if s.mistake == "total_mismatch":
        order["总金额"] = _money(s.total + 1, "CNY")
    elif s.mistake == "date_order":
        order["订单付款时间"] = _tb_time(s.created - timedelta(days=1))
    elif s.mistake == "status":
        order["订单状态"] = "交易进行中"
    elif s.mistake == "phone":
        order["联系手机"] = "不详"
    elif s.mistake == "duplicate_external_id":
        order["订单编号"] = _guard(str(3712345678901234000 + 2))
    elif s.mistake == "postal_code":
        order["收货地址"] = "浙江省 杭州市 西湖区 文三路90号 (31001)"
    elif s.mistake == "email":  # no email in a Taobao export: a date Excel rewrote instead
        order["订单创建时间"] = s.created.astimezone(_CHINA).strftime("%Y年%m月%d日")
    items = []
    for i, (sku, q, p) in enumerate(s.lines):
        item = [
            _guard(order["订单编号"][2:-1]),
            f"{sku} 官方正品",
            _money(p, "CNY"),
            str(q),
            "",
            "颜色分类:默认",
            "",
            "",
            "",
            order["订单状态"],
            sku,
        ]
        if i == 0 and s.mistake == "money_decimals":
            item[2] += "9"
        if i == 0 and s.mistake == "unknown_sku":
            item[10] = UNKNOWN_SKU
        if i == 0 and s.mistake == "quantity":
            item[3] = "一"
        items.append(item)
    return [order.get(col, "") for col in TAOBAO_ORDER_HEADER], items


def _tb_line(cells: list[str]) -> str:
    """A row as the export writes it: ``="..."`` cells bare, a cell with a comma quoted."""
    out = []
    for cell in cells:
        if cell.startswith('="') or not any(c in cell for c in ',"\n'):
            out.append(cell)
        else:
            out.append('"' + cell.replace('"', '""') + '"')
    return ",".join(out) + "\r\n"


def write_taobao(folder: Path, count: int, skus: Sequence[str], *, errors: bool) -> list[Path]:
    stamp = "202403011015"
    orders_path = folder / f"ExportOrderList{stamp}.csv"
    items_path = folder / f"ExportOrderDetailList{stamp}.csv"
    with (
        orders_path.open("w", newline="", encoding="gbk") as fo,
        items_path.open("w", newline="", encoding="gbk") as fi,
    ):
        fo.write(_tb_line(TAOBAO_ORDER_HEADER))
        fi.write(_tb_line(TAOBAO_ITEM_HEADER))
        for s in orders(count, skus, errors=errors, places=[4]):
            row, items = taobao_rows(s)
            fo.write(_tb_line(row))
            fi.writelines(_tb_line(item) for item in items)
    return [orders_path, items_path]


WRITERS = {"canonical": write_canonical, "shopify": write_shopify, "taobao": write_taobao}


def write(
    fmt: str, folder: Path, count: int, skus: Sequence[str] = DEFAULT_SKUS, *, errors: bool = False
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return WRITERS[fmt](folder, count, skus, errors=errors)
