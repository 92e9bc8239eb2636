"""The words of the Approvals and Today pages: each hold reason told with its facts, in
English and Chinese, and the KPI tiles against their targets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from api.console import i18n
from api.console.hold_words import RULES, HeldOrder, reason_words, rule_name
from api.console.today_tiles import duration, holds_tile, percent, tiles_from
from oms.domain.holds import HoldPolicy

POLICY = HoldPolicy(
    high_value={"EUR": Decimal(1000)},
    new_customer_value={"EUR": Decimal(500)},
    velocity_count=3,
    velocity_window_s=86400,
    countries=frozenset({"KP"}),
)
ORDER = HeldOrder(total="1200.00", currency="eur", country="KP", customers_at_address=5)


def english(text: str) -> str:
    return text


def _words(reason: str, order: HeldOrder = ORDER, *, sees: bool = True) -> str:
    return reason_words(reason, order, POLICY, english, sees_personal_data=sees)


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("high_value", "order total 1,200.00 EUR over the 1,000.00 limit"),
        (
            "new_customer_high_value",
            "the customer's first order, total 1,200.00 EUR over the 500.00 limit for new "
            "customers",
        ),
        ("address_velocity", "5 customers at this address in 24 h"),
        ("restricted_country", "ships to KP, a country on the hold list"),
        ("manual", "held by an operator"),
        ("refund_requested", "the buyer asked the platform for a refund"),
        ("platform_hold", "the sales platform put the order on hold"),
        ("some_new_rule", "some_new_rule"),
    ],
)
def test_each_reason_is_told_with_its_facts(reason, expected):
    assert _words(reason) == expected


def test_the_words_follow_the_facts():
    at_limit = HeldOrder(total="1000", currency="EUR", country="DE")
    assert _words("high_value", at_limit) == "order total 1,000.00 EUR at the 1,000.00 limit"
    usd = HeldOrder(total="5000", currency="USD", country="DE")
    assert _words("high_value", usd).endswith("at or over the high-value limit")
    uncounted = HeldOrder(total="1", currency="EUR", country="DE")
    assert _words("address_velocity", uncounted) == "3 or more customers at this address in 24 h"
    manual = HeldOrder(total="1", currency="EUR", country="DE", held_by="alice", note="fraud?")
    assert _words("manual", manual) == "held by alice: fraud?"
    # A viewer is not told where the order ships.
    assert "KP" not in _words("restricted_country", sees=False)
    scored = HeldOrder(total="0.50", currency="EUR", country="DE", risk={"score": 85})
    assert _words("risk_score", scored) == "risk score 85 of 100"
    assert _words("risk_score") == "a risk score at or over the hold limit"


def test_every_reason_and_rule_has_its_chinese():
    chinese = i18n.translator("zh-CN")
    missing: list[str] = []

    def strict(text: str) -> str:
        if text not in i18n.ZH_CN:
            missing.append(text)
        return chinese(text)

    orders = [
        ORDER,
        HeldOrder(total="1000", currency="EUR", country="DE", held_by="bo", note="n"),
        HeldOrder(total="1", currency="USD", country="DE", held_by="bo"),
    ]
    orders.append(HeldOrder(total="1", currency="EUR", country="DE", risk={"score": 90}))
    for reason in RULES:
        rule_name(reason, strict)
        for order in orders:
            for sees in (True, False):
                reason_words(reason, order, POLICY, strict, sees_personal_data=sees)
    assert missing == []
    assert _zh("high_value") == "订单金额 1,200.00 EUR，超过 1,000.00 的限额"  # noqa: RUF001


def _zh(reason: str) -> str:
    return reason_words(reason, ORDER, POLICY, i18n.translator("zh-CN"), sees_personal_data=True)


@dataclass
class R:
    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


@dataclass
class D:
    orders: int
    p50: float | None
    p90: float | None


@dataclass
class F:
    orders_received: int
    processing_time: D
    processing_within_target: R
    order_accuracy: R
    on_time_dispatch: R
    fill_rate: R
    backorder_rate: R
    cancellation_rate: R


def test_tiles_are_green_or_red_against_their_targets():
    today = F(10, D(8, 600, 9000), R(7, 8), R(199, 200), R(9, 10), R(10, 10), R(0, 10), R(1, 10))
    empty = F(0, D(0, None, None), R(0, 0), R(0, 0), R(0, 0), R(0, 0), R(0, 0), R(0, 0))
    tiles = {t.name: t for t in tiles_from(today, empty, 7200, 0.995)}
    assert list(tiles) == [
        "orders_received",
        "processing_time",
        "order_accuracy",
        "on_time_dispatch",
        "fill_rate",
        "backorder_rate",
        "cancellation_rate",
    ]
    assert tiles["processing_time"].figures[0].text == "2 h 30 min"
    assert tiles["processing_time"].state == "bad"  # p90 over 2 h
    assert (
        tiles["order_accuracy"].state == "ok"
        and tiles["order_accuracy"].figures[0].text == "99.5 %"
    )
    assert tiles["on_time_dispatch"].state == "bad"  # 90 % under 95 %
    assert tiles["fill_rate"].state == "ok"
    assert tiles["backorder_rate"].state == "ok"
    assert tiles["cancellation_rate"].state == "bad"  # 10 % over 5 %
    assert tiles["orders_received"].state == "none"
    # No orders in the week: no colour, a dash.
    assert tiles["fill_rate"].figures[1].met is None and tiles["fill_rate"].figures[1].text == "—"


def test_the_holds_tile_turns_red_once_a_hold_waits_too_long():
    now = datetime(2026, 12, 4, 12, tzinfo=UTC)
    assert holds_tile(0, None, 3600, now).state == "ok"
    assert holds_tile(2, (now - timedelta(minutes=20)).isoformat(), 3600, now).state == "ok"
    old = holds_tile(2, (now - timedelta(hours=2)).isoformat(), 3600, now)
    assert old.state == "bad" and old.figures[0].detail == "2 h"
    assert duration(59) == "59 s" and duration(3660) == "1 h 1 min" and percent(0.995) == "99.5 %"
