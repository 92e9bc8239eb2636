"""The order's risk inputs at the door: the phone, the account's creation and the client
(IP, device) in the request schema, the channels' lenient reading of them, the request hash
of bodies that do not carry them, and the risk score's words on the console."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from api.console.hold_words import (
    RISK_SCORE,
    HeldOrder,
    reason_words,
    risk_words,
    rule_name,
)
from api.intake import build_view, request_hash
from api.schemas import OrderCreate
from oms.domain.buyer import account_created_at, client_ip, device_id, optional_created_at
from oms.domain.holds import HoldPolicy
from tests.unit.test_order_schema import VALID

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def body(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(VALID)
    for path, value in changes.items():
        part, _, name = path.rpartition("__")
        (data[part] if part else data)[name] = value
    return data


def refused(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        OrderCreate.model_validate(data)
    return [".".join(str(p) for p in e["loc"]) for e in caught.value.errors()]


@pytest.mark.parametrize(
    "phone",
    ["+1 212-555-0100", "+49 (0)30 1234567", "030/1234567", "13812345678", "+86 138 1234 5678"],
)
def test_phone_numbers_as_people_write_them_are_taken(phone: str) -> None:
    order = OrderCreate.model_validate(body(shipping_address__phone=f" {phone} "))
    assert order.shipping_address.phone == phone


@pytest.mark.parametrize(
    "phone", ["12345", "call me", "138****1234", "+1 212 555 0100 1234 5678", "++49 30 123456"]
)
def test_what_is_no_phone_number_is_refused(phone: str) -> None:
    assert refused(body(shipping_address__phone=phone)) == ["shipping_address.phone"]


def test_the_account_creation_is_kept_in_utc_and_never_in_the_future() -> None:
    assert account_created_at("2024-05-01T09:30:00+02:00", NOW) == "2024-05-01T07:30:00+00:00"
    assert account_created_at("2026-12-04T12:04:00Z", NOW)  # within the clock skew
    for bad in ("2026-12-04T12:06:00Z", "2024-02-30T00:00:00Z", "2024-01-01T00:00:00", "x"):
        with pytest.raises(ValueError):
            account_created_at(bad, NOW)
    assert optional_created_at("2999-01-01T00:00:00Z", NOW) is None
    assert optional_created_at(None, NOW) is None
    assert refused(body(customer__created_at="2999-01-01T00:00:00Z")) == ["customer.created_at"]
    assert refused(body(customer__created_at="01/05/2024")) == ["customer.created_at"]


def test_the_client_is_an_ip_address_and_a_bounded_device_id() -> None:
    order = OrderCreate.model_validate(body(client={"ip": "2001:DB8:0:0:0:0:0:1"}))
    assert order.client is not None and order.client.ip == "2001:db8::1"
    assert refused(body(client={"ip": "256.1.1.1"})) == ["client.ip"]
    assert refused(body(client={"ip": " 10.0.0.1"})) == ["client.ip"]  # taken as sent
    assert refused(body(client={"device_id": "d" * 129})) == ["client.device_id"]
    assert refused(body(client={"mac": "x"})) == ["client.mac"]
    # A channel's values are read leniently: what is unusable is dropped, never refused.
    assert client_ip(" 203.0.113.7 ") == "203.0.113.7"
    assert client_ip("203.0.113") is None and client_ip(None) is None
    assert device_id("  abc ") == "abc" and device_id("") is None
    assert device_id("d" * 129) is None and device_id("a\x00b") is None


def test_the_view_carries_them() -> None:
    data = body(client={"ip": "192.0.2.1", "device_id": "dev-1"})
    data["customer"]["created_at"] = "2024-05-01T00:00:00Z"
    data["shipping_address"]["phone"] = "+49 30 1234567"
    view = build_view(OrderCreate.model_validate(data), "0" * 20, NOW)
    assert view.client is not None and (view.client.ip, view.client.device_id) == (
        "192.0.2.1",
        "dev-1",
    )
    assert view.customer.created_at == "2024-05-01T00:00:00+00:00"
    assert view.shipping_address.phone == "+49 30 1234567"
    empty = build_view(OrderCreate.model_validate(body(client={})), "0" * 20, NOW)
    assert empty.client is None


def test_a_body_without_the_inputs_hashes_as_it_did_before_they_existed() -> None:
    order = OrderCreate.model_validate(body())
    before = order.model_dump(mode="json")
    for part, name in ((before, "client"), (before["customer"], "created_at")):
        part.pop(name)
    before["shipping_address"].pop("phone")
    canonical = json.dumps(before, sort_keys=True, separators=(",", ":"))
    assert request_hash(order) == hashlib.sha256(canonical.encode()).hexdigest()
    with_phone = OrderCreate.model_validate(body(shipping_address__phone="+49 30 1234567"))
    assert request_hash(with_phone) != request_hash(order)


POLICY = HoldPolicy(high_value={}, new_customer_value={}, velocity_count=3, velocity_window_s=86400)
RISK = {
    "score": 82,
    "model_version": None,
    "reasons": [
        {"code": "tiny_amount", "words": "a total of 0.50 EUR", "points": 10},
        {"code": "shared_address", "words": "5 buyers to this address in 24 h", "points": 35},
        "not a reason",
    ],
}


def test_the_risk_score_is_told_with_its_reasons_the_largest_first() -> None:
    scored = risk_words(RISK)
    assert scored is not None and scored.score == 82 and scored.model_version is None
    assert [r["code"] for r in scored.reasons] == ["shared_address", "tiny_amount"]
    held = HeldOrder(total="0.50", currency="EUR", country="DE", risk=RISK)
    said = reason_words(RISK_SCORE, held, POLICY, lambda t: t, sees_personal_data=False)
    assert said == "risk score 82 of 100"
    assert rule_name(RISK_SCORE, lambda t: t) == "High risk score"


def test_a_view_without_a_risk_score_is_told_without_one() -> None:
    for absent in (None, {}, {"score": "high"}, {"score": True}, "82"):
        assert risk_words(absent) is None
    held = HeldOrder(total="1", currency="EUR", country="DE")
    said = reason_words(RISK_SCORE, held, POLICY, lambda t: t, sees_personal_data=True)
    assert said == "a risk score at or over the hold limit"
