"""The Stock page in Chromium: a CSV file chosen in the browser is imported, its progress
shown in place, and the report names the bad line."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.async_api import expect

from tests.browser.helpers import Tab, sign_in
from tests.integration.helpers import stocked, unique


async def test_a_csv_chosen_in_the_browser_is_imported_with_its_report(tab: Tab, system, admin):
    warehouse, kept = await stocked(admin, 7)
    sku = unique("IMP")
    now = datetime.now(UTC).isoformat()
    content = "\n".join(
        [
            "warehouse_id,sku,on_hand,as_of",
            f"{warehouse},{sku},12,{now}",
            f"{warehouse},{sku}-2,lots,{now}",
            f"{warehouse},{kept},5,{now}",
        ]
    )
    await sign_in(tab, system, "operator", next_path="/console/stock")
    page = tab.page
    form = page.locator("#stock-import")
    await form.locator("input[type=file]").set_input_files(
        files=[{"name": "levels.csv", "mimeType": "text/csv", "buffer": content.encode()}]
    )
    await form.locator("input[name=skip_invalid]").check()
    await form.locator("input[name=note]").fill("stock take, aisle 4")
    await page.evaluate("window.omsMark = 'still here'")
    await form.locator("button[type=submit]").click()

    progress = page.locator("#import-progress")
    await expect(progress).to_have_attribute("data-status", "done", timeout=20_000)
    report = page.locator("#import-report")
    await expect(report).to_have_attribute("data-applied", "2")
    await expect(report).to_have_attribute("data-rejected", "1")
    assert "not a whole number" in await report.locator("tr[data-line='3']").inner_text()
    assert await page.evaluate("window.omsMark") == "still here"

    # The levels are the ones the page now shows.
    await page.goto(f"/console/stock?sku={sku}")
    row = page.locator(f"#stock tr[data-warehouse='{warehouse}'][data-sku='{sku}']")
    await expect(row).to_have_attribute("data-on-hand", "12")
    on_hand = (await admin.get(f"/v1/stock/{kept}")).json()
    assert any(level["on_hand"] == 5 for level in on_hand["warehouses"]), on_hand
