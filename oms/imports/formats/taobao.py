"""Taobao/Tmall seller-center exports: the order report (订单报表, one row per order) and
the item report (宝贝报表, one row per item), joined by 订单编号; or one file carrying
both (one row per item, the order's columns on its first row at least).

Each file is told by its header: an order report has 总金额 and no 购买数量, an item report
has 购买数量 and no 总金额, a file with both is both. The encoding is detected (GBK as the
export writes it, or UTF-8 with or without a byte order mark) and Excel's ``="..."`` guard
is read as its value. The item reports are read first and kept in memory, lines only (an
export holds at most some hundred thousand items); the order reports are then streamed.

The ids and the buyer are the live Taobao channel's (``oms.channels.platforms.taobao``):
订单编号 is the trade's ``tid``, the buyer is 买家会员名 (``buyer_nick``; the live channel
prefers ``buyer_open_uid`` when the platform gives it, which the export does not), the email
a placeholder in ``.invalid``, and a missing postal code is ``000000``. The status word is
read as the API's status (:data:`WORDS`) and then as the live channel reads that, except
交易关闭 (closed): ``refunded`` when the order was paid and money was given back,
``cancelled`` otherwise. Times are China time. The currency is CNY.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

from oms.channels.canonical import PlatformState
from oms.channels.payload import CHINA, placeholder_email
from oms.channels.platforms import taobao as live
from oms.imports.dialect import Dialect, StatusProblem
from oms.imports.formats import cn_address
from oms.imports.formats.csvfile import FileProblem, Row, Table, file_issue
from oms.imports.formats.grouping import build, groups
from oms.imports.model import ImportStatus, Issue, RawLine, RawOrder, Where

ID = "订单编号"
COLUMNS: dict[str, str] = {
    "external_id": ID,
    "customer_id": "买家会员名",
    "subtotal": "买家应付货款",
    "shipping": "买家应付邮费",
    "total": "总金额",
    "paid": "买家实际支付金额",
    "status": "订单状态",
    "ship_name": "收货人姓名",
    "ship_phone": "联系手机",
    "created_at": "订单创建时间",
    "paid_at": "订单付款时间",
    "shipped_at": "发货时间",
    "delivered_at": "确认收货时间",
    "tracking_number": "物流单号",
    "carrier": "物流公司",
    "cancel_reason": "订单关闭原因",
    "refunded": "退款金额",
    "payment_reference": "支付单号",
    "note": "买家留言",
}
ADDRESS = "收货地址"
PHONE_FALLBACK = "联系电话"
ITEM_COUNT = "宝贝总数量"
LINE_COLUMNS = {"name": "标题", "unit_price": "价格", "quantity": "购买数量"}
SKU_COLUMNS = ("商家编码", "外部系统编号")  # outer_sku_id, else outer_iid (as the live channel)

# The export's status words -> the API's trade status (then read as the live channel does).
WORDS: dict[str, str] = {
    "等待买家付款": "WAIT_BUYER_PAY",
    "买家已付款，等待卖家发货": "WAIT_SELLER_SEND_GOODS",
    "等待卖家发货": "WAIT_SELLER_SEND_GOODS",
    "卖家部分发货": "SELLER_CONSIGNED_PART",
    "卖家已发货，等待买家确认": "WAIT_BUYER_CONFIRM_GOODS",
    "等待买家确认收货": "WAIT_BUYER_CONFIRM_GOODS",
    "买家已签收": "TRADE_BUYER_SIGNED",
    "交易成功": "TRADE_FINISHED",
    "交易关闭": "TRADE_CLOSED",
    "交易自动关闭": "TRADE_CLOSED_BY_TAOBAO",
    "付款以前，卖家或买家主动关闭交易": "TRADE_CLOSED_BY_TAOBAO",
}
_STATES: dict[PlatformState, ImportStatus | None] = {
    PlatformState.UNPAID: None,
    PlatformState.PAID: ImportStatus.PAID,
    PlatformState.ON_HOLD: ImportStatus.PAID,
    PlatformState.REFUND_REQUESTED: ImportStatus.PAID,
    PlatformState.SHIPPED: ImportStatus.DISPATCHED,
    PlatformState.DELIVERED: ImportStatus.DELIVERED,
    PlatformState.CANCELLED: ImportStatus.CANCELLED,
}
_BRACKETED = re.compile(r"\s*[(（][^)）]*[)）]\s*$")


def api_status(word: str) -> str | None:
    """The API's status for an export word: commas either width, spaces ignored, and a
    refund note in brackets (交易成功（部分退款）) read as the word before it."""
    key = "".join(word.split()).replace(",", "，")
    return WORDS.get(key) or WORDS.get(_BRACKETED.sub("", key))


def _amount(value: str | None) -> Decimal:
    try:
        return Decimal((value or "0").strip() or "0")
    except InvalidOperation:
        return Decimal(0)


def status_of(raw: RawOrder) -> ImportStatus:
    word = (raw.status or "").strip()
    code = api_status(word)
    if code is None:
        raise StatusProblem("status", f"not a Taobao order status (known: {', '.join(WORDS)})")
    found = _STATES[live.STATUS[code]]
    if found is None:
        raise StatusProblem("unpaid", f"{word!r}: an order never paid is not imported")
    if found is ImportStatus.CANCELLED and raw.paid_at and _amount(raw.refunded) > 0:
        return ImportStatus.REFUNDED
    return found


DIALECT = Dialect(
    name="taobao",
    status_of=status_of,
    date_formats=(
        "%Y-%m-%d %H:%M:%S",
        "%Y/%m/%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M",
    ),
    naive=CHINA,
    subtotal_after_discount=True,
    currency=live.CURRENCY,
    statuses=tuple(WORDS),
)


class Taobao:
    name = "taobao"
    dialect = DIALECT

    def fingerprint(self) -> bytes:
        return b""

    def read(self, paths: Sequence[Path]) -> Iterator[RawOrder | Issue]:
        orders: list[Table] = []
        items: dict[str, list[RawLine]] = {}
        item_rows: dict[str, Where] = {}
        for path in paths:
            try:
                table = Table(path)
            except FileProblem as problem:
                yield problem.issue
                continue
            has_orders = "总金额" in table.header
            has_items = "购买数量" in table.header
            if ID not in table.header or not (has_orders or has_items):
                table.close()
                yield file_issue(
                    path,
                    "not a Taobao order report (订单编号, 总金额, ...) nor an "
                    "item report (订单编号, 购买数量, ...)",
                )
                continue
            if has_orders:
                orders.append(table)
                continue
            with table:
                for row in table.rows():
                    tid = row.cells.get(ID, "")
                    items.setdefault(tid, []).append(_line(table, row))
                    item_rows.setdefault(tid, Where(table.name, row.line))
                    if row.issues:
                        yield _broken(table.name, row, row.issues)
        for table in orders:
            with table:
                yield from _orders(table, items)
        for tid, where in item_rows.items():
            if tid in items:  # never claimed by an order row
                yield Issue(
                    "file_format",
                    where,
                    ID,
                    tid,
                    "items of an order that is in no order report given",
                    external_id=tid or None,
                )


def _line(table: Table, row: Row) -> RawLine:
    sku = ""
    for column in SKU_COLUMNS:
        if row.cells.get(column):
            sku = row.cells[column]
            break
    return RawLine(
        sku=sku,
        quantity=row.cells.get(LINE_COLUMNS["quantity"], ""),
        unit_price=row.cells.get(LINE_COLUMNS["unit_price"], ""),
        name=row.cells.get(LINE_COLUMNS["name"], ""),
        where=Where(table.name, row.line),
    )


def _broken(file: str, row: Row, issues: list[Issue]) -> Issue:
    first = issues[0]
    return Issue(
        first.code,
        first.where,
        first.field,
        first.value,
        f"item report: {first.message}",
        external_id=row.cells.get(ID) or None,
    )


def _orders(table: Table, items: dict[str, list[RawLine]]) -> Iterator[RawOrder]:
    present = {k: v for k, v in COLUMNS.items() if v in table.header}
    with_items = "购买数量" in table.header
    for rows in groups(table.rows(), ID):
        order = build(table.name, rows, present, {})
        first = rows[0].cells
        if with_items:
            order.lines = [_line(table, row) for row in rows]
        tid = order.external_id or ""
        order.lines.extend(items.pop(tid, []))
        if not order.ship_phone:
            order.ship_phone = first.get(PHONE_FALLBACK) or None
        order.customer_name = order.customer_id
        if tid:
            order.email = placeholder_email(tid, live.PLATFORM)
        address = cn_address.split(first.get(ADDRESS, ""))
        order.ship_region = address.region or None
        order.ship_city = address.city or None
        order.ship_line1 = address.line1 or None
        order.ship_postal_code = address.postal_code or live.NO_POSTAL_CODE
        order.ship_country = "CN"
        count = first.get(ITEM_COUNT, "")
        if count.isdigit() and order.lines and all(x.quantity.isdigit() for x in order.lines):
            listed = sum(int(x.quantity) for x in order.lines)
            if listed != int(count):
                order.read_issues.append(
                    Issue(
                        "quantity",
                        order.where,
                        ITEM_COUNT,
                        count,
                        f"the order counts {count} items, its item rows {listed}",
                        external_id=order.external_id,
                    )
                )
        yield order
