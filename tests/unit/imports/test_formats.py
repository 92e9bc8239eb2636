"""The readers, on files made the way real exports look (tests/fixtures/imports)."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime
from pathlib import Path

import pytest

from oms.imports import samples
from oms.imports.formats import UnknownFormat, get_format
from oms.imports.formats.cn_address import split
from oms.imports.formats.mapping import Mapping, MappingFileError
from oms.imports.formats.taobao import api_status
from oms.imports.model import ImportStatus, Issue, Order, RawOrder
from oms.imports.rules import Checks, Seen, validate

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "imports"
NOW = datetime(2025, 1, 1, tzinfo=UTC)
SKUS = set(samples.DEFAULT_SKUS)


def run(fmt_name: str, paths: list[Path]) -> tuple[list[Order], list[Issue], list[RawOrder]]:
    fmt = get_format(fmt_name)
    checks, seen = Checks(fmt.dialect, now=NOW, known_skus=SKUS), Seen()
    orders: list[Order] = []
    issues: list[Issue] = []
    raws: list[RawOrder] = []
    for item in fmt.read(paths):
        if isinstance(item, Issue):
            issues.append(item)
            continue
        raws.append(item)
        order, found = validate(item, checks, seen)
        issues.extend(found)
        if order:
            orders.append(order)
    return orders, issues, raws


def errors(issues: list[Issue]) -> list[tuple[str, int, str]]:
    return [
        (Path(i.where.file).name, i.where.line, i.code) for i in issues if i.severity == "error"
    ]


def test_canonical_csv_rows_grouped_into_orders():
    orders, issues, raws = run("canonical", [FIXTURES / "canonical" / "orders.csv"])
    assert issues == [] and len(orders) == 6
    multi = next(r for r in raws if len(r.lines) > 1)
    assert multi.where.last_line == multi.where.line + len(multi.lines) - 1


def test_canonical_json_lines_nested_or_flat_with_numbers_kept_as_written():
    orders, issues, _ = run("canonical", [FIXTURES / "canonical" / "orders.jsonl"])
    j1 = next(o for o in orders if o.external_id == "J-1")
    assert (j1.customer_id, j1.ship_city, j1.total, j1.lines[0].unit_price) == (
        "C-9",
        "Berlin",
        "25.00",
        "10.00",
    )
    assert next(o for o in orders if o.external_id == "J-2").total == "1200"
    assert errors(issues) == [
        ("orders.jsonl", 3, "money_decimals"),
        ("orders.jsonl", 3, "money_decimals"),
        ("orders.jsonl", 4, "file_format"),
    ]


def test_canonical_repeated_order_values_must_agree(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(
        "external_id,status,created_at,currency,total,email,sku,quantity,unit_price\n"
        "A,delivered,2024-03-01T10:00:00Z,EUR,30.00,a@example.com,SAMPLE-MUG,1,10.00\n"
        "A,delivered,2024-03-01T10:00:00Z,USD,,,SAMPLE-CAP,2,10.00\n"
    )
    orders, issues, _ = run("canonical", [path])
    assert orders == [] and [(i.where.line, i.code, i.field) for i in issues] == [
        (3, "inconsistent", "currency")
    ]


def test_canonical_file_problems_are_issues_not_tracebacks(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "wrong.csv").write_text("id,what\n1,2\n")
    (tmp_path / "orders.txt").write_text("x")
    bad = tmp_path / "bytes.csv"
    bad.write_bytes(
        b"external_id,status,created_at,currency,total,email,sku,quantity,unit_price\n"
        b"A,delivered,2024-03-01T10:00:00Z,EUR,10.00,a@example.com,SAMPLE-MUG,1,10.00\n"
        + b"B,delivered,2024-03-01T10:00:00Z,EUR,10.00,a@example.com,M\xffG,1,10.00\n"
        * 2000
    )
    _, issues, _ = run(
        "canonical", [tmp_path / n for n in ("empty.csv", "wrong.csv", "orders.txt")]
    )
    assert [i.code for i in issues] == ["file_format"] * 3
    orders, issues, _ = run("canonical", [bad])
    assert [o.external_id for o in orders] == ["A"]
    first = next(i for i in issues if i.code == "encoding")
    assert (first.where.line, first.field, first.value) == (3, "sku", "M\\xffG")
    assert sum(i.code == "encoding" for i in issues) == 2000


def test_shopify_export_multi_row_orders_statuses_and_ids():
    orders, issues, raws = run("shopify", [FIXTURES / "shopify" / "orders_export.csv"])
    assert errors(issues) == [
        ("orders_export.csv", 6, "total_mismatch"),
        ("orders_export.csv", 10, "money_decimals"),
        ("orders_export.csv", 16, "unknown_sku"),
    ]
    first = orders[0]
    assert first.external_id == "5523400000001"  # the Id column, as the live channel's id
    assert first.customer_id == first.email == "bo.1@example.com"
    assert first.ship_postal_code == "02134"  # Excel's apostrophe read away
    assert first.created_at == "2024-01-02T09:37:07+00:00"
    assert len(first.lines) == 3 and first.source_status == "paid/fulfilled"
    assert first.status is ImportStatus.DELIVERED
    by_status = {o.source_status: o.status for o in orders}
    assert by_status["paid/unfulfilled"] is ImportStatus.PAID
    assert len(raws) == 8


@pytest.mark.parametrize(
    ("financial", "fulfillment", "cancelled", "expected"),
    [
        ("paid", "fulfilled", "", ImportStatus.DELIVERED),
        ("paid", "", "", ImportStatus.PAID),
        ("authorized", "unfulfilled", "", ImportStatus.PAID),
        ("partially_refunded", "fulfilled", "", ImportStatus.DELIVERED),
        ("refunded", "fulfilled", "", ImportStatus.REFUNDED),
        ("refunded", "unfulfilled", "2024-01-03 10:00:00 -0500", ImportStatus.CANCELLED),
        ("voided", "unfulfilled", "", ImportStatus.CANCELLED),
        ("paid", "partial", "", ImportStatus.DISPATCHED),
        ("pending", "unfulfilled", "", "unpaid"),
        ("paid_in_gold", "", "", "status"),
    ],
)
def test_shopify_status_table(tmp_path, financial, fulfillment, cancelled, expected):
    from oms.imports.dialect import StatusProblem
    from oms.imports.formats.shopify import DIALECT, source_status
    from oms.imports.model import Where

    raw = RawOrder(
        Where("x", 2), "1", source_status(financial, fulfillment, bool(cancelled)), None, None
    )
    if expected in ("unpaid", "status"):
        with pytest.raises(StatusProblem) as problem:
            DIALECT.status_of(raw)
        assert problem.value.code == expected
    else:
        assert DIALECT.status_of(raw) is expected


def test_taobao_gbk_pair_joined_with_excel_guards():
    folder = FIXTURES / "taobao"
    paths = [
        folder / "ExportOrderList202403011015.csv",
        folder / "ExportOrderDetailList202403011015.csv",
    ]
    assert b'="3712345678901234001"' in paths[0].read_bytes()
    with pytest.raises(UnicodeDecodeError):
        paths[0].read_bytes().decode("utf-8")
    orders, issues, raws = run("taobao", paths)
    assert errors(issues) == [
        ("ExportOrderList202403011015.csv", 4, "total_mismatch"),
        ("ExportOrderDetailList202403011015.csv", 10, "money_decimals"),
        ("ExportOrderDetailList202403011015.csv", 16, "unknown_sku"),
    ]
    first = orders[0]
    assert first.external_id == "3712345678901234001"
    assert (first.currency, first.ship_country, first.ship_region, first.ship_city) == (
        "CNY",
        "CN",
        "广东省",
        "深圳市",
    )
    assert (first.ship_line1, first.ship_postal_code) == ("南山区 粤海街道科技园南区", "518057")
    assert first.email == "3712345678901234001@taobao.invalid"
    assert first.customer_id == "快乐购物2020" and first.ship_phone == "13800000001"
    assert first.created_at == "2024-01-02T09:37:07+00:00"  # China time read as such
    assert first.tracking_number == "YT7000000000001" and first.status is ImportStatus.DELIVERED
    assert len(first.lines) == 3 and {line.sku for line in first.lines} <= SKUS
    assert len(raws) == 8


def test_taobao_utf8_with_bom_and_one_combined_file(tmp_path):
    folder = FIXTURES / "taobao"
    orders_text = (folder / "ExportOrderList202403011015.csv").read_bytes().decode("gbk")
    items_text = (folder / "ExportOrderDetailList202403011015.csv").read_bytes().decode("gbk")
    o, i = tmp_path / "orders.csv", tmp_path / "items.csv"
    o.write_bytes(codecs.BOM_UTF8 + orders_text.encode())
    i.write_text(items_text, encoding="utf-8")
    utf8, _, _ = run("taobao", [i, o])  # the order of the files does not matter
    gbk, _, _ = run(
        "taobao",
        [
            folder / "ExportOrderList202403011015.csv",
            folder / "ExportOrderDetailList202403011015.csv",
        ],
    )
    assert [x.external_id for x in utf8] == [x.external_id for x in gbk]

    # one file: the order columns on the first item row of each order
    header = (
        "订单编号,订单状态,总金额,买家应付货款,买家应付邮费,买家会员名,收货人姓名,收货地址,"
        "联系手机,订单创建时间,订单付款时间,标题,价格,购买数量,商家编码"
    )
    both = tmp_path / "both.csv"
    both.write_text(
        header + "\n"
        '="1001","买家已付款，等待卖家发货",30.00,30.00,0.00,tb_a,张伟,浙江省杭州市西湖区文三路90号,'
        "13812345678,2024-03-01 10:00:00,2024-03-01 10:01:00,杯子,10.00,1,SAMPLE-MUG\n"
        '="1001",,,,,,,,,,,帽子,10.00,2,SAMPLE-CAP\n',
        encoding="utf-8",
    )
    orders, issues, _ = run("taobao", [both])
    assert issues == []
    (order,) = orders
    assert order.status is ImportStatus.PAID and len(order.lines) == 2
    assert (order.ship_region, order.ship_city, order.ship_line1) == (
        "浙江省",
        "杭州市",
        "西湖区文三路90号",
    )


def test_taobao_items_without_their_order_are_reported(tmp_path):
    items = tmp_path / "items.csv"
    items.write_text('订单编号,标题,价格,购买数量,商家编码\n="42",杯子,10.00,1,SAMPLE-MUG\n')
    _, issues, _ = run("taobao", [items])
    assert [(i.code, i.value) for i in issues] == [("file_format", "42")]


@pytest.mark.parametrize(
    ("word", "code"),
    [
        ("交易成功", "TRADE_FINISHED"),
        ("买家已付款,等待卖家发货", "WAIT_SELLER_SEND_GOODS"),
        ("交易成功（部分退款）", "TRADE_FINISHED"),
        ("交易关闭", "TRADE_CLOSED"),
        ("发货中", None),
    ],
)
def test_taobao_status_words(word, code):
    assert api_status(word) == code


def test_taobao_closed_is_refunded_when_money_went_back():
    from oms.imports.formats.taobao import DIALECT
    from oms.imports.model import Where

    closed = RawOrder(Where("x", 2), "1", "交易关闭", None, None)
    assert DIALECT.status_of(closed) is ImportStatus.CANCELLED
    closed.paid_at, closed.refunded = "2024-03-01 10:00:00", "30.00"
    assert DIALECT.status_of(closed) is ImportStatus.REFUNDED


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        (
            "浙江省 杭州市 西湖区 文三路90号 (310012)",
            ("浙江省", "杭州市", "西湖区 文三路90号", "310012"),
        ),
        ("北京 北京市 朝阳区 建国路1号", ("北京", "北京市", "朝阳区 建国路1号", None)),
        ("广东省深圳市南山区科技园南区", ("广东省", "深圳市", "南山区科技园南区", None)),
        ("上海市浦东新区世纪大道100号", ("上海市", "上海市", "浦东新区世纪大道100号", None)),
        (
            "新疆维吾尔自治区 乌鲁木齐市 天山区 X路",
            ("新疆维吾尔自治区", "乌鲁木齐市", "天山区 X路", None),
        ),
        ("某地 某街", ("", "", "某地 某街", None)),
    ],
)
def test_chinese_addresses_split(text, parts):
    a = split(text)
    assert (a.region, a.city, a.line1, a.postal_code) == parts


def test_a_mapping_reads_an_erp_export():
    fmt = get_format(str(FIXTURES / "mapping" / "erp.yaml"))
    assert isinstance(fmt, Mapping)
    orders, issues, _ = run(
        str(FIXTURES / "mapping" / "erp.yaml"), [FIXTURES / "mapping" / "erp_export.csv"]
    )
    assert [o.external_id for o in orders] == ["AB-1001", "AB-1002"]
    ab1, ab2 = orders
    assert (ab1.total, ab1.currency, ab1.ship_country, ab1.ship_city) == (
        "1024.90",
        "EUR",
        "DE",
        "München",
    )
    assert ab1.created_at == "2024-03-01T09:15:00+00:00"  # Berlin time
    assert ab2.status is ImportStatus.PAID and len(ab2.lines) == 2
    assert sorted((i.where.line, i.code) for i in issues) == [
        (5, "unpaid"),
        (6, "date_format"),
        (6, "postal_code"),
        (6, "status_facts"),
    ]


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("columns: {external_id: a}", "sku must name a column"),
        ("colums: {}", "unknown keys colums"),
        (
            "columns: {external_id: a, sku: b, quantity: c, unit_price: d, colour: e}",
            "not our fields: colour",
        ),
        (
            "columns: {external_id: a, sku: b, quantity: c, unit_price: d}\n"
            "statuses: {Done: finished}",
            "finished is not one of",
        ),
        (
            "columns: {external_id: a, sku: b, quantity: c, unit_price: d}\ntimezone: Mars/Base",
            "unknown zone",
        ),
        ("[1, 2", "not YAML"),
    ],
)
def test_a_wrong_mapping_file_is_refused_by_its_key(tmp_path, yaml_text, message):
    path = tmp_path / "m.yaml"
    path.write_text(yaml_text)
    with pytest.raises(MappingFileError, match=message):
        get_format(str(path))


def test_an_unknown_format_is_refused():
    with pytest.raises(UnknownFormat):
        get_format("woo")
