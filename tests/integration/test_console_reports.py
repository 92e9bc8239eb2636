"""The console's Reports page: the KPIs of real orders of one channel, against their
targets, a chart per figure, the CSV, and a bad range said in words."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

from tests.integration.console_helpers import console_as
from tests.integration.helpers import order_body, stocked, submit, unique, wait_for_status


def _tile(html: str, kpi: str) -> str:
    found = re.search(rf'data-kpi="{kpi}">(.*?)</div>\s*</?div', html, re.S)
    assert found, kpi
    value = re.search(r'class="value">([^<]*)<', html[found.start() :])
    assert value
    return value.group(1).strip()


async def test_the_kpis_of_a_channels_orders_with_charts_and_csv(system, admin):
    channel = unique("rep").lower()
    _, sku = await stocked(admin, 10)
    delivered = []
    for _ in range(2):
        order = await submit(admin, order_body([(sku, 1)], channel=channel))
        delivered.append(await wait_for_status(admin, order["id"], {"delivered"}))
    declined = await submit(admin, order_body([(sku, 1)], channel=channel, token="tok_decline"))
    await wait_for_status(admin, declined["id"], {"failed", "cancelled"})
    today = datetime.now(UTC).date()
    query = f"from={today}&to={today + timedelta(days=1)}&channel={channel}"
    async with console_as(system, "viewer") as console:
        page = await console.http.get(f"/console/reports?{query}")
        assert page.status_code == 200, page.text
        html = page.text
        assert _tile(html, "orders_received") == "3"
        # Both delivered orders went out complete, without a correction: 2 of 2.
        assert _tile(html, "order_accuracy") == "100.0 %"
        assert "2 / 2" in html
        for chart in ("orders_received", "processing_p90", "order_accuracy", "fill_rate"):
            assert f'data-chart="{chart}"' in html
        assert html.count("<svg") >= 9
        exported = await console.http.get(f"/console/reports.csv?{query}")
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert any(r.get("orders_received") == "3" for r in rows), rows[:3]

        bad = await console.http.get("/console/reports?from=2026-12-05&to=2026-12-01")
        assert bad.status_code == 422
        assert "must be before" in bad.text
        chinese = await console.http.get(
            f"/console/reports?{query}", headers={"Accept-Language": "zh-CN"}
        )
        assert "订单准确率" in chinese.text
