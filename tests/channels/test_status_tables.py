"""Every status value each platform documents has a state, and a value it does not
document is refused rather than guessed."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from oms.channels.canonical import PlatformState
from oms.channels.errors import MappingError
from oms.channels.platforms import amazon, jd, native, pdd, shopify, taobao, woocommerce
from oms.channels.registry import adapter
from tests.channels.conftest import load

S = PlatformState

# The platforms' documented values, written out here (not read from the tables), so a
# value dropped from a table fails.
DOCUMENTED: dict[str, dict[str, PlatformState]] = {
    "shopify": {
        "pending": S.UNPAID,
        "authorized": S.PAID,
        "partially_paid": S.PAID,
        "paid": S.PAID,
        "partially_refunded": S.REFUND_REQUESTED,
        "refunded": S.CANCELLED,
        "voided": S.CANCELLED,
    },
    "woocommerce": {
        "pending": S.UNPAID,
        "processing": S.PAID,
        "on-hold": S.UNPAID,
        "completed": S.SHIPPED,
        "cancelled": S.CANCELLED,
        "refunded": S.CANCELLED,
        "failed": S.UNPAID,
        "trash": S.CANCELLED,
        "checkout-draft": S.UNPAID,
    },
    "taobao": {
        "WAIT_BUYER_PAY": S.UNPAID,
        "TRADE_NO_CREATE_PAY": S.UNPAID,
        "PAY_PENDING": S.UNPAID,
        "WAIT_PRE_AUTH_CONFIRM": S.UNPAID,
        "WAIT_SELLER_SEND_GOODS": S.PAID,
        "PAID_FORBID_CONSIGN": S.ON_HOLD,
        "SELLER_CONSIGNED_PART": S.SHIPPED,
        "WAIT_BUYER_CONFIRM_GOODS": S.SHIPPED,
        "TRADE_BUYER_SIGNED": S.DELIVERED,
        "TRADE_FINISHED": S.DELIVERED,
        "TRADE_CLOSED": S.CANCELLED,
        "TRADE_CLOSED_BY_TAOBAO": S.CANCELLED,
    },
    "jd": {
        "WAIT_SELLER_STOCK_OUT": S.PAID,
        "WAIT_GOODS_RECEIVE_CONFIRM": S.SHIPPED,
        "FINISHED_L": S.DELIVERED,
        "TRADE_CANCELED": S.CANCELLED,
        "LOCKED": S.REFUND_REQUESTED,
        "PAUSE": S.ON_HOLD,
        "POP_ORDER_PAUSE": S.ON_HOLD,
    },
    "amazon": {
        "PendingAvailability": S.UNPAID,
        "Pending": S.UNPAID,
        "Unshipped": S.PAID,
        "PartiallyShipped": S.SHIPPED,
        "Shipped": S.SHIPPED,
        "Canceled": S.CANCELLED,
        "Unfulfillable": S.ON_HOLD,
        "InvoiceUnconfirmed": S.SHIPPED,
    },
    "native": {s.value: s for s in PlatformState},
}
STATUS_FIELD = {
    "shopify": "financial_status",
    "woocommerce": "status",
    "taobao": "status",
    "jd": "orderState",
    "amazon": "OrderStatus",
    "native": "status",
}
BASE = {
    "shopify": "shopify/paid_multi_line",
    "woocommerce": "woocommerce/paid_multi_line",
    "taobao": "taobao/paid_multi_line",
    "jd": "jd/paid_multi_line",
    "amazon": "amazon/unshipped_multi_line",
    "native": "native/paid_default",
    "pdd": "pdd/paid_multi_line",
}
CASES = [(p, value, state) for p, table in DOCUMENTED.items() for value, state in table.items()]


@pytest.mark.parametrize("platform", sorted(DOCUMENTED))
def test_the_table_is_exactly_the_documented_values(platform: str) -> None:
    assert adapter(platform).STATUS == DOCUMENTED[platform]


@pytest.mark.parametrize(("platform", "value", "state"), CASES)
def test_each_documented_status_maps_a_whole_order(
    platform: str, value: str, state: PlatformState
) -> None:
    payload = load(BASE[platform])
    payload[STATUS_FIELD[platform]] = value
    order = adapter(platform).to_order(payload)
    assert order.state == state.value
    assert value in order.platform_status


@pytest.mark.parametrize("platform", [*sorted(STATUS_FIELD), "pdd"])
def test_an_undocumented_status_is_refused(platform: str) -> None:
    payload = load(BASE[platform])
    field = STATUS_FIELD.get(platform, "order_status")
    payload[field] = 99 if platform == "pdd" else "SOMETHING_NEW"
    with pytest.raises(MappingError) as caught:
        adapter(platform).to_order(payload)
    assert caught.value.field == field


# --- Shopify: three fields -------------------------------------------------------------


@pytest.mark.parametrize(
    ("financial", "fulfillment", "cancelled", "state"),
    [
        ("paid", "fulfilled", None, S.SHIPPED),
        ("paid", "partial", None, S.SHIPPED),
        ("paid", "restocked", None, S.PAID),
        ("partially_refunded", "partial", None, S.SHIPPED),
        ("partially_refunded", None, None, S.REFUND_REQUESTED),
        ("refunded", "fulfilled", None, S.CANCELLED),
        ("paid", None, "2026-11-10T11:00:00-05:00", S.CANCELLED),
        ("pending", None, None, S.UNPAID),
    ],
)
def test_shopify_state_from_its_three_fields(
    financial: str, fulfillment: str | None, cancelled: str | None, state: PlatformState
) -> None:
    payload = {"financial_status": financial, "fulfillment_status": fulfillment}
    payload["cancelled_at"] = cancelled
    assert shopify.state(payload) is state
    assert shopify.FULFILLMENT_STATUS.keys() == {None, "partial", "fulfilled", "restocked"}


def test_shopify_unknown_fulfillment_status_is_refused() -> None:
    with pytest.raises(MappingError) as caught:
        shopify.state({"financial_status": "paid", "fulfillment_status": "lost"})
    assert caught.value.field == "fulfillment_status"


# --- Taobao: the trade's status and each sub-order's refund ------------------------------


@pytest.mark.parametrize("refund", sorted(taobao.REFUND_STATUS))
@pytest.mark.parametrize("status", ["WAIT_SELLER_SEND_GOODS", "WAIT_BUYER_CONFIRM_GOODS"])
def test_taobao_open_refund_turns_only_a_paid_trade_into_a_request(
    status: str, refund: str
) -> None:
    payload = load("taobao/paid_multi_line")
    payload["status"] = status
    payload["orders"]["order"][0]["refund_status"] = refund
    open_refund = refund in {
        "WAIT_SELLER_AGREE",
        "WAIT_BUYER_RETURN_GOODS",
        "WAIT_SELLER_CONFIRM_GOODS",
    }
    expected = taobao.STATUS[status]
    if status == "WAIT_SELLER_SEND_GOODS" and open_refund:
        expected = S.REFUND_REQUESTED
    assert taobao.state(payload) is expected
    assert set(taobao.REFUND_STATUS) == {
        "NO_REFUND",
        "WAIT_SELLER_AGREE",
        "WAIT_BUYER_RETURN_GOODS",
        "WAIT_SELLER_CONFIRM_GOODS",
        "SELLER_REFUSE_BUYER",
        "CLOSED",
        "SUCCESS",
    }


def test_taobao_unknown_refund_status_names_the_sub_order() -> None:
    payload = load("taobao/paid_multi_line")
    payload["orders"]["order"][1]["refund_status"] = "MAYBE"
    with pytest.raises(MappingError) as caught:
        taobao.state(payload)
    assert caught.value.field == "orders.order.1.refund_status"


# --- PDD: five fields, decided in a documented order -------------------------------------


def _pdd_expected(order: int, confirm: int, refund: int, group: int, risk: int) -> S:
    """The rules as the PDD module's docstring states them, written independently."""
    if confirm == 2 or group == 2 or refund == 4:
        return S.CANCELLED
    if confirm == 0:
        return S.UNPAID
    if refund in (2, 3) and order == 1:
        return S.REFUND_REQUESTED
    if risk == 1 or group == 0:
        return S.ON_HOLD
    return {1: S.PAID, 2: S.SHIPPED, 3: S.DELIVERED}[order]


PDD_COMBINATIONS = list(itertools.product((1, 2, 3), (0, 1, 2), (1, 2, 3, 4), (0, 1, 2), (0, 1)))


def test_pdd_tables_cover_every_documented_value() -> None:
    assert set(pdd.ORDER_STATUS) == {1, 2, 3}
    assert set(pdd.CONFIRM_STATUS) == {0, 1, 2}
    assert set(pdd.REFUND_STATUS) == {1, 2, 3, 4}
    assert set(pdd.GROUP_STATUS) == {0, 1, 2}
    assert set(pdd.RISK_CONTROL_STATUS) == {0, 1}
    assert pdd.STATUS["order_status=2"] is S.SHIPPED
    assert pdd.STATUS["group_status=2"] is S.CANCELLED


@pytest.mark.parametrize(("order", "confirm", "refund", "group", "risk"), PDD_COMBINATIONS)
def test_pdd_state_for_every_combination(
    order: int, confirm: int, refund: int, group: int, risk: int
) -> None:
    payload: dict[str, Any] = {
        "order_status": order,
        "confirm_status": confirm,
        "refund_status": refund,
        "group_status": group,
        "risk_control_status": risk,
    }
    assert pdd.state(payload) is _pdd_expected(order, confirm, refund, group, risk)


def test_pdd_absent_optional_fields_take_their_neutral_value() -> None:
    assert pdd.state({"order_status": 2}) is S.SHIPPED
    assert pdd.state({"order_status": "1", "confirm_status": "1"}) is S.PAID


@pytest.mark.parametrize("module", [amazon, jd, native, pdd, shopify, taobao, woocommerce])
def test_every_state_a_table_names_is_one_of_ours(module: Any) -> None:
    assert all(isinstance(state, PlatformState) for state in module.STATUS.values())
