"""Today in Chromium: the tiles, and the list of what waits for a person, which refreshes
itself without the page being loaded again."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.helpers import Tab, sign_in
from tests.browser.test_orders import HELD_PRICE
from tests.integration.helpers import order_body, stocked, submit, unique, wait_for_status


async def test_a_new_hold_shows_on_today_without_a_reload(tab: Tab, system, admin):
    _, sku = await stocked(admin, 5)
    channel = unique("shop")
    await sign_in(tab, system, "operator", next_path=f"/console/today?channel={channel}")
    page = tab.page
    assert await tab.h1() == "Today"
    await expect(page.locator("#tiles [data-kpi]").first).to_be_visible()
    assert await page.locator("#waiting tr[data-order]").count() == 0
    await page.evaluate("window.omsMark = 'still here'")

    order = await submit(admin, order_body([(sku, 1, HELD_PRICE)], channel=channel))
    await wait_for_status(admin, order["id"], {"on_hold"})
    # The list asks the server again every 10 s: two rounds at most.
    row = page.locator(f"#waiting tr[data-order='{order['id']}']")
    await expect(row).to_have_attribute("data-kind", "hold", timeout=25_000)
    assert await page.evaluate("window.omsMark") == "still here"
    async with page.expect_navigation():
        await row.get_by_role("link", name="Approvals").click()
    assert tab.path() == "/console/approvals"
