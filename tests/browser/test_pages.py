"""Every page of the console, opened in Chromium, in English and Chinese on a laptop and in
English on a tablet: it answers, shows its heading, fits the window's width, and the
browser reports nothing wrong (no Content Security Policy violation, no script error, no
file that failed to load: the ``open_tab`` fixture checks that at the end)."""

from __future__ import annotations

from tests.browser.helpers import LAPTOP, TABLET, OpenTab, sign_in
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
        "/console/returns": "Returns",
        "/console/alerts": "Alerts",
        "/console/stock": "Stock",
        "/console/channels": "Channels and webhooks",
        "/console/reports": "Reports",
        "/console/insights": "Insights",
    }
    wrong: list[str] = []
    for language, viewport in (("en-US", LAPTOP), ("zh-CN", LAPTOP), ("en-US", TABLET)):
        tab = await open_tab(locale=language, viewport=viewport)
        await sign_in(tab, system, "operator")
        for path, heading in pages.items():
            where = f"{path} ({language}, {viewport['width']} px)"
            answer = await tab.page.goto(path)
            if answer is None or answer.status != 200:
                wrong.append(f"{where} answered {answer and answer.status}")
                continue
            await tab.page.wait_for_load_state("networkidle")
            shown = await tab.h1()
            if not shown or (heading and language == "en-US" and shown != heading):
                wrong.append(f"{where} is headed {shown!r}")
            if await tab.page.get_attribute("html", "lang") != LANG[language]:
                wrong.append(f"{where} is not in {LANG[language]}")
            width, view = await tab.no_horizontal_scroll()
            if width > view:
                wrong.append(f"{where} is {width} px wide in a {view} px window")
    assert not wrong, "\n".join(wrong)


async def test_the_watch_on_the_browser_catches_a_blocked_script_and_a_missing_file(
    open_tab: OpenTab, system
):
    # What the round above relies on: an inline script (refused by the Content Security
    # Policy) and a script that is not there are both recorded as problems.
    tab = await open_tab()
    await tab.page.goto("/console/login")
    assert tab.problems == []
    await tab.page.evaluate(
        """() => {
            const inline = document.createElement('script');
            inline.textContent = 'window.ran = true';
            document.body.appendChild(inline);
            const missing = document.createElement('script');
            missing.src = '/console/static/not-there.js';
            document.body.appendChild(missing);
        }"""
    )
    await tab.page.wait_for_load_state("networkidle")
    assert await tab.page.evaluate("window.ran === undefined")
    assert any("Content Security Policy" in p for p in tab.problems), tab.problems
    assert any("not-there.js answered 404" in p for p in tab.problems), tab.problems
    tab.problems.clear()
