"""The fake-order risk score's pure parts: facts, features, rule points and words, the
score, the model's storage, the generator, and the targets on a data set whose rings the
model did not see (trained on one seed, evaluated on another)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from oms.risk.evaluate import (
    average_precision,
    featurize,
    figures,
    is_fake,
    scores,
)
from oms.risk.facts import OrderFacts, from_view, looks_incomplete, looks_like_locker
from oms.risk.features import FEATURE_NAMES, features
from oms.risk.gather import gather
from oms.risk.generate import RING_KINDS, generate
from oms.risk.memory import MemorySource
from oms.risk.model import dumps, loads, train
from oms.risk.rules import rule_reasons
from oms.risk.score import NO_MODEL, risk_view
from oms.risk_cli import DEFAULT_THRESHOLD

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _view(
    n: int,
    customer: str,
    *,
    minutes: float = 0,
    line1: str = "Gartenweg 5",
    phone: str | None = None,
    device: str | None = None,
    price: str = "25.00",
    quantity: int = 1,
    created: datetime | None = None,
) -> dict[str, Any]:
    total = Decimal(price) * quantity
    customer_part: dict[str, Any] = {"id": customer, "email": "", "name": ""}
    if created is not None:
        customer_part["created_at"] = created.isoformat()
    view: dict[str, Any] = {
        "id": f"o-{n:03d}",
        "channel": "shop",
        "customer": customer_part,
        "shipping_address": {
            "name": "",
            "line1": line1,
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
            **({"phone": phone} if phone else {}),
        },
        "currency": "EUR",
        "lines": [{"sku": "SKU-1", "quantity": quantity, "unit_price": price}],
        "totals": {"subtotal": str(total), "total": str(total)},
        "created_at": (T0 + timedelta(minutes=minutes)).isoformat(),
    }
    if device:
        view["client"] = {"device_id": device, "ip": "192.0.2.1"}
    return view


def _features_of_last(views: list[dict[str, Any]]) -> dict[str, float]:
    facts = [from_view(v) for v in views]

    async def run() -> dict[str, float]:
        near = await gather(facts[-1], MemorySource(facts))
        return features(facts[-1], near)

    return asyncio.run(run())


def test_facts_read_the_view_and_treat_missing_fields_as_unknown() -> None:
    order = from_view(_view(1, "c-1"))
    assert order.customer_id == "c-1" and order.total == Decimal("25.00")
    assert order.phone is None and order.device is None and order.account_created is None
    assert order.address and not order.locker and not order.incomplete
    phoned = from_view(_view(2, "c-2", phone="+49 (151) 234-5678", device="dev-9"))
    assert phoned.phone == "491512345678" and phoned.device == "dev-9"


@pytest.mark.parametrize(
    "line",
    ["Packstation 123", "DHL PACKSTATION 7", "文一西路1号丰巢快递柜", "菜鸟驿站", "PO Box 17"],
)
def test_lockers_and_pickup_points_are_recognised(line: str) -> None:
    assert looks_like_locker(line)


def test_a_street_is_no_locker_and_a_bare_line_is_incomplete() -> None:
    assert not looks_like_locker("Lockenweg 3")  # a street whose name starts like one
    assert looks_incomplete("x", "Berlin", "10115")
    assert looks_incomplete("Gartenweg 5", "", "10115")
    assert not looks_incomplete("Gartenweg 5", "Berlin", "10115")


def test_five_buyers_at_one_address_trip_shared_address_in_words() -> None:
    views = [_view(n, f"c-{n}", minutes=10 * n) for n in range(5)]
    f = _features_of_last(views)
    assert set(f) == set(FEATURE_NAMES)
    assert f["buyers_at_address_7d"] == 5
    assert f["address_orders_1h"] == 5  # four before it within the hour, and itself
    reasons = {r.code: r for r in rule_reasons(f)}
    assert reasons["shared_address"].words == "5 buyers ordered to this address in 7 days"
    assert reasons["shared_address"].points == 20
    assert "new_account" not in reasons  # the account's age is unknown, not suspicious
    assert f["account_age_days"] == -1


def test_windows_count_only_orders_within_them() -> None:
    views = [
        _view(0, "c-1", minutes=-2 * 24 * 60),  # two days before
        _view(1, "c-1", minutes=-30),
        _view(2, "c-1"),
    ]
    f = _features_of_last(views)
    assert (f["buyer_orders_1h"], f["buyer_orders_24h"], f["buyer_orders_7d"]) == (2, 2, 3)


def test_later_orders_are_never_seen() -> None:
    views = [_view(0, "c-1"), _view(1, "c-2", minutes=5), _view(2, "c-3", minutes=10)]
    facts = [from_view(v) for v in views]

    async def run() -> dict[str, float]:
        return features(facts[0], await gather(facts[0], MemorySource(facts)))

    assert asyncio.run(run())["buyers_at_address_7d"] == 1


def test_the_component_follows_phones_and_devices_across_addresses() -> None:
    views = [
        _view(0, "c-a", line1="Rosenweg 1", phone="+49 151 1111111"),
        _view(1, "c-b", line1="Rosenweg 2", phone="+49 151 1111111", device="d-1", minutes=5),
        _view(2, "c-c", line1="Rosenweg 3", device="d-1", minutes=10),
    ]
    f = _features_of_last(views)
    assert f["component_buyers"] == 3
    assert f["buyers_of_device_7d"] == 2
    assert f["buyers_of_phone_7d"] == 0  # this order gave no phone


def test_a_locker_joins_no_one() -> None:
    views = [_view(n, f"c-{n}", minutes=n, line1="Packstation 101") for n in range(6)]
    f = _features_of_last(views)
    assert f["locker"] == 1 and f["buyers_at_address_7d"] == 6
    codes = {r.code for r in rule_reasons(f)}
    assert "shared_address" not in codes and "ring_component" not in codes
    assert "pickup_point" in codes


def test_tiny_repeated_amounts_from_new_accounts_score_high() -> None:
    views = [
        _view(n, f"c-{n}", minutes=n, price="0.50", created=T0 - timedelta(hours=3))
        for n in range(6)
    ]
    f = _features_of_last(views)
    view = risk_view(f)
    codes = [r.code for r in rule_reasons(f)]
    assert {"tiny_amount", "repeated_amount", "new_account", "shared_address"} <= set(codes)
    assert len(view.reasons) == 4 + 1  # the top four rules, and that there is no model
    assert view.score >= 70
    assert view.model_version is None and view.reasons[-1] == NO_MODEL
    assert view.score == min(100, sum(r.points for r in rule_reasons(f)))


def test_an_ordinary_order_scores_low() -> None:
    f = _features_of_last([_view(0, "c-1", created=T0 - timedelta(days=400))])
    view = risk_view(f)
    assert view.score == 0 and [r.code for r in view.reasons] == ["no_model"]


def test_the_generator_is_deterministic_and_labelled() -> None:
    a, again, other = generate(600, 5), generate(600, 5), generate(600, 6)
    assert a == again and a != other
    labels = {o["label"] for o in a}
    assert "genuine" in labels and any(lbl.startswith("ring:") for lbl in labels)
    assert [o["created_at"] for o in a] == sorted(o["created_at"] for o in a)
    only = {o["label"] for o in generate(600, 5, rings=("device",))}
    assert only == {"genuine", "ring:device"}
    with pytest.raises(ValueError, match="unknown ring kinds"):
        generate(100, 1, rings=("nope",))


def test_average_precision_matches_its_definition() -> None:
    assert average_precision([True, False, True, False], [0.9, 0.8, 0.7, 0.1]) == pytest.approx(
        (1.0 + 2 / 3) / 2
    )
    assert average_precision([False, False], [1.0, 0.0]) == 0.0


def test_trained_on_one_seed_the_score_meets_the_targets_on_another() -> None:
    """Recall of ring orders >= 0.9 with <= 1 % of genuine orders held at the default
    threshold, on orders and rings the model never saw (another seed; the training set
    has three ring kinds, the evaluation set all five)."""
    training = asyncio.run(featurize(generate(3000, 101, rings=RING_KINDS[:3])))
    model = train([r.features for r in training if not is_fake(r.label)], seed=0)
    model = loads(dumps(model))  # as a worker loads it
    rows = asyncio.run(featurize(generate(3000, 202)))
    found = figures(rows, scores(rows, model, "v-test"), DEFAULT_THRESHOLD)
    assert found.fake > 100
    assert found.recall >= 0.9, found.as_dict()
    assert found.genuine_held <= 0.01, found.as_dict()
    assert found.average_precision >= 0.85, found.as_dict()


def test_the_model_adds_points_named_in_words() -> None:
    training = asyncio.run(featurize(generate(1500, 7, rings=())))
    model = train([r.features for r in training], seed=0)
    f = _features_of_last(
        [_view(n, f"c-{n}", minutes=n, price="0.50", quantity=30, device="d-1") for n in range(8)]
    )
    view = risk_view(f, model, "v1")
    model_reasons = [r for r in view.reasons if r.code == "model_anomaly"]
    assert view.model_version == "v1" and model_reasons
    assert "more unusual than" in model_reasons[0].words and model_reasons[0].points > 0
    assert not any(isinstance(r, OrderFacts) for r in view.reasons)


def test_a_risk_hold_score_of_0_or_empty_turns_risk_holds_off() -> None:
    from pydantic import ValidationError

    from oms.settings import Settings

    assert Settings(risk_hold_score="").risk_hold_score == 0
    assert Settings().risk_hold_score == 65
    with pytest.raises(ValidationError):
        Settings(risk_hold_score=101)


class _Failing:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def score(self, order_id: str) -> Any:
        raise self.error


def test_a_fault_of_the_score_lets_the_order_go_on_and_the_database_down_is_retried() -> None:
    from sqlalchemy.exc import OperationalError

    from activities.holds import HoldActivities
    from oms.domain.holds import HoldPolicy

    def holds(error: Exception, score: int = 70) -> HoldActivities:
        return HoldActivities(None, HoldPolicy(), _Failing(error), score)  # type: ignore[arg-type]

    assert asyncio.run(holds(ValueError("bad model"))._score("o-1")) is None
    assert asyncio.run(holds(ValueError("never asked"), score=0)._score("o-1")) is None
    with pytest.raises(OperationalError):
        asyncio.run(holds(OperationalError("SELECT 1", {}, Exception("down")))._score("o-1"))


def test_an_unreadable_line_is_an_unknown_not_a_crash() -> None:
    view = _view(1, "c-1")
    view["lines"] = [{"sku": "A", "quantity": "many", "unit_price": "x"}, "junk"]
    view["totals"] = {"total": "NaN"}
    order = from_view(view)
    assert order.lines[0].quantity == 0 and order.total == 0
