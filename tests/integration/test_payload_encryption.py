"""Personal data stays out of Temporal's history: payloads are sealed, and operators read
them through the API's codec endpoint."""

from __future__ import annotations

from typing import Any

import httpx
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.client import Client

from tests.conftest import ADMIN_KEY
from tests.integration.helpers import TERMINAL, order_body, stocked, submit, unique, wait_for_status


def _personal(body: dict[str, Any]) -> list[str]:
    return [
        body["customer"]["email"],
        body["customer"]["name"],
        body["shipping_address"]["line1"],
        body["shipping_address"]["phone"],
        body["client"]["ip"],
        body["client"]["device_id"],
        body["payment"]["token"],
    ]


async def _order_with_personal_data(admin: httpx.AsyncClient) -> tuple[dict[str, Any], str]:
    _, sku = await stocked(admin, 1)
    body = order_body([(sku, 1)])
    marker = unique("pii")
    body["customer"] = {"id": "c-pii", "email": f"{marker}@example.com", "name": f"Name {marker}"}
    body["shipping_address"]["line1"] = f"{marker} Secret Street 1"
    # The risk inputs: a phone number, an IP address and a device id made for this order.
    digits = f"{int(marker.rsplit('-', 1)[1], 16) % 10**8:08d}"
    body["shipping_address"]["phone"] = f"+49 30 {digits}"
    body["client"] = {"ip": f"2001:db8::{digits[-4:]}:{digits[:4]}", "device_id": f"dev-{marker}"}
    order = await submit(admin, body)
    await wait_for_status(admin, order["id"], TERMINAL)
    return body, order["id"]


async def test_the_history_holds_no_personal_data_in_clear(admin, system):
    body, order_id = await _order_with_personal_data(admin)
    # Read as anyone with access to the server would: no key, raw bytes.
    raw = await Client.connect(system.settings.temporal_target)
    history = await raw.get_workflow_handle(f"order-{order_id}").fetch_history()
    text = history.to_json()
    for value in _personal(body):
        assert value not in text, value
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.input.payloads[0].metadata["encoding"] == b"binary/encrypted"


async def test_operators_read_the_order_in_clear_through_the_codec_endpoint(admin, system):
    body, order_id = await _order_with_personal_data(admin)
    raw = await Client.connect(system.settings.temporal_target)
    history = await raw.get_workflow_handle(f"order-{order_id}").fetch_history()
    sealed = history.events[0].workflow_execution_started_event_attributes.input
    request = json_format.MessageToJson(sealed)

    answer = await admin.post(
        "/codec/decode", content=request, headers={"Content-Type": "application/json"}
    )

    assert answer.status_code == 200, answer.text
    opened = json_format.Parse(answer.content, Payloads())
    clear = opened.payloads[0].data.decode()
    assert body["customer"]["email"] in clear
    assert body["shipping_address"]["line1"] in clear
    assert body["shipping_address"]["phone"] in clear
    assert body["client"]["device_id"] in clear


async def test_the_codec_endpoint_answers_the_web_ui_across_origins(system):
    async with httpx.AsyncClient(base_url=system.api_url) as browser:
        preflight = await browser.options(
            "/codec/decode",
            headers={
                "Origin": "http://127.0.0.1:8233",
                "Access-Control-Request-Method": "POST",
            },
        )
        stranger = await browser.options("/codec/decode", headers={"Origin": "http://evil.example"})
    assert preflight.headers["access-control-allow-origin"] == "http://127.0.0.1:8233"
    assert "x-namespace" in preflight.headers["access-control-allow-headers"]
    assert "access-control-allow-origin" not in stranger.headers


async def test_off_this_machine_the_codec_endpoint_needs_an_operator_key(system):
    from api.app import create_app

    app = create_app(system.settings, system.engine, system.client)
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 40000))
    empty = '{"payloads": []}'
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://api",
        headers={"Content-Type": "application/json"},
    ) as remote:
        anonymous = await remote.post("/codec/decode", content=empty)
        operator = await remote.post(
            "/codec/decode", content=empty, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        )
        garbage = await remote.post(
            "/codec/decode", content="{not json", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        )
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert operator.status_code == 200
    assert garbage.status_code == 422


async def test_a_database_error_never_quotes_the_values_it_was_given(system):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from oms.db.engine import make_engine

    engine = make_engine(system.settings, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO orders (id) VALUES (:id)"), {"id": "tok_secret_4242"}
            )
    except DBAPIError as exc:
        message = str(exc)
    finally:
        await engine.dispose()
    assert "orders" in message  # the statement is named...
    assert "tok_secret_4242" not in message  # ...the values are not


async def test_the_web_ui_reads_payloads_with_the_consoles_sign_in(admin, system):
    """Under /console/codec the session cookie of a signed-in operator opens payloads (the
    Web UI sends it with TEMPORAL_CODEC_INCLUDE_CREDENTIALS); a viewer or nobody gets a JSON
    problem, and the answer allows the Web UI's origin with credentials."""
    from tests.integration.console_helpers import console_as

    body, order_id = await _order_with_personal_data(admin)
    raw = await Client.connect(system.settings.temporal_target)
    history = await raw.get_workflow_handle(f"order-{order_id}").fetch_history()
    sealed = json_format.MessageToJson(
        history.events[0].workflow_execution_started_event_attributes.input
    )
    web_ui = {"Content-Type": "application/json", "Origin": "http://127.0.0.1:8233"}

    async with console_as(system, "operator") as operator:
        opened = await operator.http.post("/console/codec/decode", content=sealed, headers=web_ui)
    async with console_as(system, "viewer") as viewer:
        refused = await viewer.http.post("/console/codec/decode", content=sealed, headers=web_ui)
    async with httpx.AsyncClient(base_url=system.api_url) as stranger:
        anonymous = await stranger.post("/console/codec/decode", content=sealed, headers=web_ui)
        preflight = await stranger.options(
            "/console/codec/decode",
            headers={"Origin": "http://127.0.0.1:8233", "Access-Control-Request-Method": "POST"},
        )

    assert opened.status_code == 200, opened.text
    clear = json_format.Parse(opened.content, Payloads()).payloads[0].data.decode()
    assert body["customer"]["email"] in clear
    assert opened.headers["access-control-allow-credentials"] == "true"
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert body["customer"]["email"] not in anonymous.text
    assert preflight.headers["access-control-allow-origin"] == "http://127.0.0.1:8233"
    assert preflight.headers["access-control-allow-credentials"] == "true"
