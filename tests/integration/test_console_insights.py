"""The console's Insights page: the replenishment hints of a warehouse from the latest
forecast with the stock-out risk first, the hot products, the CSV, a bad filter said in
words, and the page in Chinese."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time
from datetime import UTC, datetime, timedelta

from oms.domain.routing import COMPARED
from oms.insights.messages import ForecastRun
from tests.integration.console_helpers import console_as
from tests.integration.helpers import order_body, set_stock, stocked, submit, unique
from tests.integration.insights_helpers import history, sold
from workflows.forecast import ForecastWorkflow


async def test_the_insights_page_shows_the_risks_first_the_hot_products_and_a_csv(system, admin):
    today = datetime.now(UTC).date()
    wh, short = await stocked(admin, 3)  # ~6 a day: runs out within the lead time
    plenty = unique("SKU")
    await set_stock(admin, wh, plenty, 5000)
    orders = []
    for back in range(1, 50):
        day = today - timedelta(days=back)
        orders.append(sold(short, wh, day, [5, 7, 6][back % 3]))
        orders.append(sold(plenty, wh, day, 20 if back <= 10 else 4))
    await history(system, orders)
    await system.client.execute_workflow(
        ForecastWorkflow.run,
        ForecastRun(run_date=today.isoformat()),
        id=unique("forecast"),
        task_queue=system.settings.task_queue,
    )
    async with console_as(system, "viewer") as console:
        page = await console.http.get(f"/console/insights?warehouse={wh}")
        assert page.status_code == 200, page.text
        html = page.text
        assert today.isoformat() in html
        rows = re.findall(
            r'<tr data-warehouse="([^"]+)" data-sku="([^"]+)" data-status="([^"]+)"', html
        )
        assert rows == [(wh, short, "stockout_risk"), (wh, plenty, "ok")]
        assert 'data-count="stockout_risk">stockout_risk: 1<' in html
        # The hot products (over every warehouse): the SKU now selling five times as much.
        hot = html[html.index('id="insights-hot"') :]
        assert f'data-sku="{plenty}"' in hot

        only_risks = await console.http.get(
            f"/console/insights?warehouse={wh}&status=stockout_risk"
        )
        assert f'data-sku="{plenty}" data-status' not in only_risks.text
        assert f'data-sku="{short}" data-status="stockout_risk"' in only_risks.text

        exported = await console.http.get(f"/console/insights.csv?warehouse={wh}")
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        listed = list(csv.DictReader(io.StringIO(exported.text)))
        assert [(r["sku"], r["status"]) for r in listed] == [
            (short, "stockout_risk"),
            (plenty, "ok"),
        ]
        assert int(listed[0]["order_quantity"]) > 0

        bad = await console.http.get("/console/insights?status=urgent")
        assert bad.status_code == 422
        assert "No such status." in bad.text
        bad_csv = await console.http.get("/console/insights.csv?warehouse=a%20b")
        assert bad_csv.status_code == 422
        chinese = await console.http.get(
            f"/console/insights?warehouse={wh}", headers={"Accept-Language": "zh-CN"}
        )
        assert "断货风险" in chinese.text and "补货建议" in chinese.text


async def test_the_insights_page_compares_the_routing_strategies_on_recent_orders(system, admin):
    _, sku = await stocked(admin, 10)
    placed = await submit(admin, order_body([(sku, 1)]))
    deadline = time.monotonic() + 30
    while (await admin.get(f"/v1/insights/routing/orders/{placed['id']}")).status_code != 200:
        assert time.monotonic() < deadline, "the order's allocation was never compared"
        await asyncio.sleep(0.2)
    report = (await admin.get("/v1/insights/routing")).json()
    async with console_as(system, "viewer") as console:
        html = (await console.http.get("/console/insights")).text
        table = html[html.index('id="insights-routing"') :]
        shown = dict(re.findall(r'<tr data-strategy="([a-z_]+)" data-orders="(\d+)"', table))
        # Every compared strategy has its row, each over the orders of the last 7 days.
        assert set(shown) >= set(COMPARED)
        assert all(int(n) >= 1 for n in shown.values())
        assert int(shown["fastest"]) >= 1
        assert f">{report['orders']} orders allocated in the last 7 days" in html.replace(
            'id="insights-routing-scope">', ">"
        )
        chinese = await console.http.get("/console/insights", headers={"Accept-Language": "zh-CN"})
        assert "路由策略对比" in chinese.text
