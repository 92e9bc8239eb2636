"""Every page of the console, opened in Chromium: it answers, shows its heading, and the
browser reports nothing wrong (no Content Security Policy violation, no script error, no
file that failed to load: the ``open_tab`` fixture checks that at the end)."""

from __future__ import annotations

from tests.browser.helpers import OpenTab, sign_in
from tests.integration.helpers import order_body, stocked, submit, wait_for_status

# The browser's language, and the page's own.
LANG = {"en-US": "en", "zh-CN": "zh-CN"}


async def test_every_page_opens_without_a_browser_error(open_tab: OpenTab, system, admin):
    _, sku = await stocked(admin, 10)
    order = await submit(admin, order_body([(sku, 2)], customer_id="cust-pages"))
    await wait_for_status(admin, order["id"], {"delivered"})
    pages = {
        "/console/today": "Today",
        "/console/orders": "Orders",
        f"/console/orders/{order['id']}": None,
        "/console/customers/cust-pages": None,
        "/console/approvals": "Approvals",
        "/console/alerts": "Alerts",
        "/console/stock": "Stock",
        "/console/channels": "Channels",
        "/console/reports": "Reports",
    }
    for language in ("en-US", "zh-CN"):
        tab = await open_tab(locale=language)
        await tab.page.goto("/console/login")
        await sign_in(tab, system, "operator")
        for path, heading in pages.items():
            answer = await tab.page.goto(path)
            assert answer is not None and answer.status == 200, (
                f"{path}: {answer and answer.status}"
            )
            await tab.page.wait_for_load_state("networkidle")
            shown = await tab.h1()
            assert shown, f"{path} has no heading"
            if heading and language == "en-US":
                assert shown == heading, f"{path} is headed {shown!r}"
            assert await tab.page.get_attribute("html", "lang") == LANG[language]
