"""Order intake: replays, conflicts, and every kind of bad input (which changes nothing)."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import text

from tests.integration.helpers import (
    has_workflow,
    order_body,
    recorded_without_workflow,
    stocked,
    submit,
    unique,
)


@pytest.fixture
async def stocked_sku(admin):
    _wh, sku = await stocked(admin, 50)
    return sku


async def _order_count(system, external_id: str) -> int:
    async with system.engine.connect() as conn:
        return (
            await conn.execute(
                text("SELECT count(*) FROM orders WHERE external_id = :e"), {"e": external_id}
            )
        ).scalar_one()


async def test_resubmitting_the_same_order_returns_the_same_order(admin, stocked_sku, system):
    body = order_body([(stocked_sku, 1)])
    first = await admin.post("/v1/orders", json=body)
    second = await admin.post("/v1/orders", json=body)

    assert first.status_code == second.status_code == 202
    assert second.json()["id"] == first.json()["id"]
    assert second.headers.get("idempotent-replayed") == "true"
    assert await _order_count(system, body["external_id"]) == 1


async def test_resubmitting_an_order_reference_with_a_different_body_is_409(admin, stocked_sku):
    body = order_body([(stocked_sku, 1)])
    await submit(admin, body)
    changed = copy.deepcopy(body)
    changed["lines"][0]["quantity"] = 2

    response = await admin.post("/v1/orders", json=changed)

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("idempotency-conflict")


async def test_an_idempotency_key_replay_returns_the_same_order(admin, stocked_sku):
    body = order_body([(stocked_sku, 1)])
    key = unique("idem")
    first = await admin.post("/v1/orders", json=body, headers={"Idempotency-Key": key})
    second = await admin.post("/v1/orders", json=body, headers={"Idempotency-Key": key})
    assert second.status_code == 202
    assert second.json()["id"] == first.json()["id"]


async def test_an_idempotency_key_reused_for_another_order_is_409(admin, stocked_sku, system):
    key = unique("idem")
    await submit(admin, order_body([(stocked_sku, 1)]), **{"Idempotency-Key": key})
    other = order_body([(stocked_sku, 1)])

    response = await admin.post("/v1/orders", json=other, headers={"Idempotency-Key": key})

    assert response.status_code == 409
    assert await _order_count(system, other["external_id"]) == 0


async def test_concurrent_identical_submissions_start_one_workflow(admin, stocked_sku, system):
    import asyncio

    body = order_body([(stocked_sku, 1)])
    responses = await asyncio.gather(*[admin.post("/v1/orders", json=body) for _ in range(8)])
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["id"] for r in responses}) == 1
    assert await _order_count(system, body["external_id"]) == 1


def _bad_bodies(sku: str):
    def with_(mutate):
        body = order_body([(sku, 1)])
        mutate(body)
        return body

    def line(**changes):
        return lambda b: b["lines"][0].update(changes)

    return [
        ("lines.0.quantity", with_(line(quantity=0))),
        ("lines.0.quantity", with_(line(quantity=-2))),
        ("lines.0.quantity", with_(line(quantity=1.5))),
        ("lines.0.quantity", with_(line(quantity="3"))),
        ("lines.0.unit_price", with_(line(unit_price=9.99))),
        ("lines.0.unit_price", with_(line(unit_price="9.999"))),
        ("lines.0.unit_price", with_(line(unit_price="-1.00"))),
        ("lines.0.unit_price", with_(line(unit_price="abc"))),
        ("currency", with_(lambda b: b.update(currency="EURO"))),
        ("currency", with_(lambda b: b.update(currency="eur"))),
        ("shipping_address.country", with_(lambda b: b["shipping_address"].update(country="XX"))),
        ("lines", with_(lambda b: b.update(lines=[]))),
        ("lines", with_(lambda b: b.update(lines=b["lines"] * 501))),
        ("customer.email", with_(lambda b: b["customer"].update(email="not-an-email"))),
        ("external_id", with_(lambda b: b.pop("external_id"))),
        ("payment", with_(lambda b: b.pop("payment"))),
        ("lines.0.sku", with_(line(sku="bad sku with spaces"))),
    ]


@pytest.mark.parametrize("case", range(17))
async def test_bad_input_is_a_422_naming_the_field_and_changes_nothing(
    admin, stocked_sku, system, case
):
    field, body = _bad_bodies(stocked_sku)[case]
    response = await admin.post("/v1/orders", json=body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert field in [e["field"] for e in problem["errors"]], problem
    if "external_id" in body:
        assert await _order_count(system, body["external_id"]) == 0


async def test_yen_prices_take_no_decimals(admin, stocked_sku):
    body = order_body([(stocked_sku, 2, "1500")], currency="JPY")
    order = await submit(admin, body)
    assert order["totals"]["total"] == "3000"
    bad = order_body([(stocked_sku, 1, "15.00")], currency="JPY")
    response = await admin.post("/v1/orders", json=bad)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "lines.0.unit_price"


async def test_unknown_skus_are_rejected_at_intake_by_name(admin, stocked_sku, system):
    ghost_a, ghost_b = unique("GHOST"), unique("GHOST")
    body = order_body([(stocked_sku, 1), (ghost_a, 1), (ghost_b, 2)])

    response = await admin.post("/v1/orders", json=body)

    assert response.status_code == 422
    problem = response.json()
    assert sorted(problem["skus"]) == sorted([ghost_a, ghost_b])
    assert ghost_a in problem["detail"] and ghost_b in problem["detail"]
    assert await _order_count(system, body["external_id"]) == 0


async def test_malformed_json_is_a_422_problem(admin):
    response = await admin.post(
        "/v1/orders", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_body_over_the_limit_is_413(admin, system):
    limit = system.settings.max_body_bytes
    response = await admin.post(
        "/v1/orders", content=b"x" * (limit + 1), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_streamed_body_over_the_limit_is_413(admin, system):
    limit = system.settings.max_body_bytes

    async def chunks():
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    response = await admin.post(
        "/v1/orders", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


async def test_control_characters_are_422_and_never_reach_the_database(admin, stocked_sku):
    body = order_body([(stocked_sku, 1)])
    body["customer"]["name"] = "Ada\u0000Lovelace"
    response = await admin.post("/v1/orders", json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "customer.name"
    odd = await admin.get("/v1/orders", params={"customer_id": "a\x00b"})
    assert odd.status_code == 422
    assert odd.headers["content-type"] == "application/problem+json"
    assert (await admin.get("/v1/orders/%00")).status_code == 404


async def test_an_order_total_beyond_what_money_columns_hold_is_422(admin, stocked_sku):
    body = order_body([(stocked_sku, 1000, "999999999999999")])
    response = await admin.post("/v1/orders", json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "lines"


async def test_a_replay_completes_a_submission_whose_workflow_never_started(
    admin, stocked_sku, system
):
    from tests.integration.helpers import wait_for_status

    body = order_body([(stocked_sku, 1)])
    order_id = await recorded_without_workflow(system, body, "received", 0)
    assert not await has_workflow(system, order_id)

    replay = await admin.post("/v1/orders", json=body)

    assert replay.status_code == 202
    done = await wait_for_status(admin, order_id, {"delivered", "failed", "cancelled"})
    assert done["status"] == "delivered"


async def test_a_replay_never_restarts_a_finished_order(admin, stocked_sku, system):
    import asyncio

    body = order_body([(stocked_sku, 1)])
    order_id = await recorded_without_workflow(system, body, "failed", 4)

    replay = await admin.post("/v1/orders", json=body)

    assert replay.status_code == 202
    assert replay.json()["status"] == "failed"
    await asyncio.sleep(0.5)
    assert not await has_workflow(system, order_id)


async def test_every_fault_of_a_body_is_reported_in_one_answer(admin, stocked_sku):
    body = order_body([(stocked_sku, 1)])
    body["lines"][0].update(quantity=0, unit_price="5.001")
    body["shipping_address"]["country"] = "UK"

    response = await admin.post("/v1/orders", json=body)

    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"lines.0.quantity", "lines.0.unit_price", "shipping_address.country"}


async def test_malformed_json_is_reported_against_the_body(admin):
    response = await admin.post(
        "/v1/orders",
        content=b'{"channel": "webshop", ',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "body"
    assert error["message"].startswith("malformed JSON")
