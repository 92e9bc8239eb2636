"""The returns' KPIs on real rows (docs/kpis.md): units delivered (migration 0024's
facts, kept as orders are delivered) and returned per SKU and reason, a rejected return
left out, refunds with and without a return per currency and day, one channel apart from
the rest; the same figures on the console's reports page."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from devtools.ports import free_port
from tests.conftest import api_of
from tests.integration.console_helpers import console_as
from tests.integration.helpers import add_warehouse, set_stock, unique
from tests.integration.test_returns import (
    delivered_order,
    open_return,
    wait_for_refund,
    wait_for_return,
)


async def test_return_rates_per_sku_and_reason_and_refunds_with_and_without_a_return(system, admin):
    channel = f"rk{uuid.uuid4().hex[:8]}"
    settings = system.settings.model_copy(
        update={"api_port": free_port(), "return_windows": f"{channel}:0"}
    )
    wh = await add_warehouse(admin)
    shirt, mug = unique("SKU"), unique("SKU")
    await set_stock(admin, wh, shirt, 20)
    await set_stock(admin, wh, mug, 20)
    first = await delivered_order(admin, [(shirt, 4, "10.00"), (mug, 2, "5.00")], channel=channel)
    second = await delivered_order(admin, [(shirt, 1, "10.00")], channel=channel)
    async with api_of(system, settings) as manual:
        body = {"reason": "too small", "resolution": "refund"}
        small = await manual.post(
            f"/v1/orders/{first['id']}/returns",
            json={**body, "lines": [{"sku": shirt, "quantity": 2}]},
        )
        assert small.status_code == 201, small.text
        broken = await open_return(manual, first["id"], [(mug, 1)], resolution="none")
        refused = await manual.post(
            f"/v1/orders/{second['id']}/returns",
            json={**body, "lines": [{"sku": shirt, "quantity": 1}]},
        )
        assert refused.status_code == 201, refused.text
        for rid, decision in (
            (small.json()["id"], "approve"),
            (broken["id"], "approve"),
            (refused.json()["id"], "reject"),
        ):
            answer = await manual.post(f"/v1/returns/{rid}/{decision}", json={"note": "x"})
            assert answer.status_code == 202, answer.text
        goodwill = await manual.post(
            f"/v1/orders/{second['id']}/refunds",
            json={"amount": "1.50", "reason": "goodwill", "note": "late"},
        )
        assert goodwill.status_code == 202, goodwill.text
    closed = await wait_for_return(admin, small.json()["id"], {"closed"})
    await wait_for_return(admin, broken["id"], {"closed"})
    await wait_for_return(admin, refused.json()["id"], {"rejected"})
    await wait_for_refund(admin, first["id"], closed["refund_id"])
    await wait_for_refund(admin, second["id"], goodwill.json()["id"])

    today = datetime.now(UTC).date()
    params = {"from": today.isoformat(), "to": (today + timedelta(days=1)).isoformat()}
    answer = await admin.get("/v1/reports/returns", params={**params, "channel": channel})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["units"] == {"delivered": 7, "returned": 3, "rate": round(3 / 7, 6)}
    assert report["by_sku"] == [
        {"sku": mug, "delivered": 2, "returned": 1, "rate": 0.5},
        {"sku": shirt, "delivered": 5, "returned": 2, "rate": 0.4},
    ]
    assert report["by_reason"] == [
        {"reason": "too small", "returned": 2, "rate": round(2 / 7, 6)},
        {"reason": "does not fit", "returned": 1, "rate": round(1 / 7, 6)},
    ]
    [eur] = report["refunds"]
    assert eur["currency"] == "EUR" and eur["refunds"] == 2
    assert (eur["refunded"], eur["pending"], eur["failed"]) == ("21.50", "0.00", 0)
    assert eur["with_return"]["refunded"] == "20.00"
    assert eur["without_return"] == {
        "refunds": 1, "refunded": "1.50", "pending": "0.00", "failed": 0,
    }  # fmt: skip
    [day] = report["refund_days"]
    assert (day["day"], day["channel"], day["refunded"]) == (today.isoformat(), channel, "21.50")

    # Another channel sees none of it; a bad range is a problem.
    other = (await admin.get("/v1/reports/returns", params={**params, "channel": "nope"})).json()
    assert other["units"] == {"delivered": 0, "returned": 0, "rate": None}
    assert other["refunds"] == [] and other["by_sku"] == []
    bad = await admin.get("/v1/reports/returns", params={"from": "2026-02-30"})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")

    async with console_as(system, "viewer") as console:
        page = await console.http.get("/console/reports", params={**params, "channel": channel})
    assert page.status_code == 200, page.text
    assert 'data-delivered="7" data-returned="3"' in page.text
    assert f'<tr data-sku="{mug}">' in page.text and "50.0 %" in page.text
    assert 'data-reason="too small"' in page.text and "21.50" in page.text
