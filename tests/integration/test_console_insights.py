"""The console's Insights page: the replenishment hints of a warehouse from the latest
forecast with the stock-out risk first, the hot products, the CSV, a bad filter said in
words, and the page in Chinese."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

from oms.insights.messages import ForecastRun
from tests.integration.console_helpers import console_as
from tests.integration.helpers import set_stock, stocked, unique
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
