"""The console shows an order's risk: its score and reasons in words on the order's page
and, for an order held for its score, in the approvals queue; the buyer's phone, client and
account age only where the address is shown, to the roles that may see personal data.

The risk score itself is written by the hold check; here an order's view is given one in
the read model, as the check leaves it (``risk {score, reasons [{code, words, points}],
model_version}``, and the hold reason ``risk_score``)."""

from __future__ import annotations

import json
import re

import httpx
from sqlalchemy import text

from tests.integration.console_helpers import console_as
from tests.integration.helpers import order_body, stocked, submit, unique, wait_for_status

RISK = {
    "score": 87,
    "model_version": "v3",
    "reasons": [
        {"code": "tiny_amount", "words": "a total of 0.50 EUR, far below the shop's", "points": 12},
        {
            "code": "shared_address",
            "words": "6 buyers ordered to this address in 24 h",
            "points": 40,
        },
    ],
}


async def _held_for_risk(system, admin: httpx.AsyncClient, channel: str) -> str:
    """An order held (over the shared system's value limit) whose hold the risk score gave."""
    _, sku = await stocked(admin, 5)
    body = order_body([(sku, 1, "1500.00")], channel=channel, customer_id=unique("cust"))
    body["shipping_address"]["phone"] = "+49 30 5550 1234"
    body["customer"]["created_at"] = "2026-12-01T08:00:00Z"
    body["client"] = {"ip": "198.51.100.23", "device_id": "dev-risk-1"}
    order_id = str((await submit(admin, body))["id"])
    await wait_for_status(admin, order_id, {"on_hold"})
    async with system.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE orders SET view = jsonb_set(jsonb_set(view, '{risk}', "
                "CAST(:risk AS jsonb)), '{hold,reasons}', '[\"risk_score\"]') WHERE id = :id"
            ),
            {"risk": json.dumps(RISK), "id": order_id},
        )
    return order_id


def _part(html: str, pattern: str) -> str:
    found = re.search(pattern, html, re.S)
    assert found, f"nothing matches {pattern}"
    return found.group(0)


async def test_the_risk_is_told_on_the_order_and_in_the_queue(system, admin):
    channel = unique("risky").lower()
    order_id = await _held_for_risk(system, admin, channel)
    async with console_as(system, "operator") as console:
        page = (await console.http.get(f"/console/orders/{order_id}")).text
        risk = _part(page, r'<div id="order-risk".*?</div>')
        assert 'data-score="87"' in risk and "model v3" in risk
        # The reasons in words, the largest first, with their points.
        assert risk.index("6 buyers ordered") < risk.index("a total of 0.50 EUR")
        assert "(+40 points)" in risk
        people = _part(page, r'<section class="card" id="order-people">.*?</section>')
        assert "+49 30 5550 1234" in people and "198.51.100.23" in people
        assert "dev-risk-1" in people and "account since 2026-12-01 08:00 UTC" in people

        queue = (await console.http.get(f"/console/approvals?channel={channel}")).text
        row = _part(queue, rf'<tr id="hold-{order_id}".*?</tr>')
        assert 'data-rules="risk_score"' in row
        assert "High risk score" in row and "risk score 87 of 100" in row
        assert row.index("6 buyers ordered") < row.index("a total of 0.50 EUR")
        only = await console.http.get(f"/console/approvals?channel={channel}&rule=risk_score")
        assert f'data-order="{order_id}"' in only.text

        console.http.cookies.set("oms_lang", "zh-CN", path="/console")
        chinese = (await console.http.get(f"/console/orders/{order_id}")).text
        assert "风险" in _part(chinese, r'<div id="order-risk".*?</div>')
        queue_zh = (await console.http.get(f"/console/approvals?channel={channel}")).text
        assert "风险评分 87" in _part(queue_zh, rf'<tr id="hold-{order_id}".*?</tr>')


async def test_a_viewer_sees_the_risk_but_not_the_buyers_phone_or_client(system, admin):
    order_id = await _held_for_risk(system, admin, unique("risky").lower())
    async with console_as(system, "viewer") as viewer:
        page = (await viewer.http.get(f"/console/orders/{order_id}")).text
    assert 'data-score="87"' in page
    for personal in ("+49 30 5550 1234", "198.51.100.23", "dev-risk-1", "account since"):
        assert personal not in page, personal


async def test_an_order_without_a_risk_score_shows_none(system, admin):
    _, sku = await stocked(admin, 1)
    order = await submit(admin, order_body([(sku, 1)]))
    async with console_as(system, "operator") as console:
        page = (await console.http.get(f"/console/orders/{order['id']}")).text
    assert 'id="order-risk"' not in page and 'id="order-client"' not in page
