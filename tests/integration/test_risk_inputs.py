"""The order's risk inputs over HTTP: the buyer's phone, account creation and client (IP,
device) are taken, kept on the order's view and in the read model, and shown back; a bad
one is a 422 naming the field that records nothing; a body without them hashes as before."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import text

from tests.integration.helpers import (
    TERMINAL,
    order_body,
    stocked,
    submit,
    unique,
    wait_for_status,
)


@pytest.fixture
async def sku(admin) -> str:
    _, stocked_sku = await stocked(admin, 20)
    return stocked_sku


def _with_inputs(body: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    body["shipping_address"]["phone"] = " +49 (0)30 1234-5678 "
    body["customer"]["created_at"] = "2024-05-01T09:30:00+02:00"
    body["client"] = {"ip": "2001:0db8:0000:0000:0000:0000:0000:0042", "device_id": "dev-77"}
    return body


async def _stored_view(system, order_id: str) -> dict[str, Any]:
    async with system.engine.connect() as conn:
        found = await conn.execute(text("SELECT view FROM orders WHERE id = :id"), {"id": order_id})
        return dict(found.scalar_one())


async def test_the_inputs_are_kept_on_the_order_and_shown_back(admin, system, sku):
    order = await submit(admin, _with_inputs(order_body([(sku, 1)])))

    # The answer, the read model and the order as the API shows it agree, normalised: the
    # phone without its padding, the moment in UTC, the address in its compressed form.
    assert order["shipping_address"]["phone"] == "+49 (0)30 1234-5678"
    assert order["customer"]["created_at"] == "2024-05-01T07:30:00+00:00"
    assert order["client"] == {"ip": "2001:db8::42", "device_id": "dev-77"}
    done = await wait_for_status(admin, order["id"], TERMINAL)
    assert done["status"] == "delivered"
    assert done["client"] == order["client"]
    assert done["customer"]["created_at"] == order["customer"]["created_at"]
    stored = await _stored_view(system, order["id"])
    assert stored["client"] == order["client"]
    assert stored["shipping_address"]["phone"] == "+49 (0)30 1234-5678"


async def test_an_order_without_them_has_none(admin, sku):
    order = await submit(admin, order_body([(sku, 1)]))
    assert order["client"] is None
    assert order["customer"]["created_at"] is None
    assert order["shipping_address"]["phone"] is None


BAD = [
    ("shipping_address.phone", lambda b: b["shipping_address"].update(phone="call me")),
    ("shipping_address.phone", lambda b: b["shipping_address"].update(phone="12345")),
    ("customer.created_at", lambda b: b["customer"].update(created_at="2999-01-01T00:00:00Z")),
    ("customer.created_at", lambda b: b["customer"].update(created_at="2024-02-30T10:00:00Z")),
    ("customer.created_at", lambda b: b["customer"].update(created_at="2024-01-01T10:00:00")),
    ("client.ip", lambda b: b.update(client={"ip": "300.1.2.3"})),
    ("client.ip", lambda b: b.update(client={"ip": "example.com"})),
    ("client.device_id", lambda b: b.update(client={"device_id": "x" * 129})),
    ("client.unknown", lambda b: b.update(client={"unknown": "1"})),
]


@pytest.mark.parametrize("case", range(len(BAD)))
async def test_a_bad_input_is_a_422_naming_the_field_and_records_nothing(admin, system, sku, case):
    field, change = BAD[case]
    body = order_body([(sku, 1)])
    change(body)

    response = await admin.post("/v1/orders", json=body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]
    async with system.engine.connect() as conn:
        found = await conn.execute(
            text("SELECT count(*) FROM orders WHERE external_id = :e"),
            {"e": body["external_id"]},
        )
        assert found.scalar_one() == 0


async def test_resending_with_the_inputs_absent_or_null_is_the_same_order(admin, sku):
    body = order_body([(sku, 1)], external_id=unique("same"))
    first = await submit(admin, body)
    spelled_out = copy.deepcopy(body)
    spelled_out["client"] = None
    spelled_out["customer"]["created_at"] = None
    spelled_out["shipping_address"]["phone"] = None

    again = await admin.post("/v1/orders", json=spelled_out)

    assert again.status_code == 202, again.text
    assert again.json()["id"] == first["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    # Adding an input is another body for the same reference.
    changed = await admin.post("/v1/orders", json=_with_inputs(body))
    assert changed.status_code == 409
