"""Signing in, a forged form, and the two languages, as a person sees them in Chromium."""

from __future__ import annotations

from oms.store import users as user_store
from tests.browser.helpers import OpenTab, Tab, alert_status, new_user, open_alert, sign_in

EXPIRED = "The form has expired or came from another page: reload the page and try again."


async def test_a_wrong_password_is_refused_and_the_right_one_lands_on_today(tab: Tab, system):
    user = await new_user(system, "operator")
    page = tab.page
    await page.goto("/console/login")
    assert await tab.h1() == "Sign in"
    await page.fill("input[name=name]", user.name)
    await page.fill("input[name=password]", "not-the-password")
    async with page.expect_navigation():
        await page.click("form[action='/console/login'] button[type=submit]")
    assert tab.path().startswith("/console/login")
    assert (await page.locator("[role=alert]").inner_text()) == "The name or password is wrong."
    assert not [c for c in await page.context.cookies() if c["name"] == "oms_session"]

    await page.fill("input[name=name]", user.name)
    await page.fill("input[name=password]", user.password)
    async with page.expect_navigation():
        await page.click("form[action='/console/login'] button[type=submit]")
    assert tab.path() == "/console/today"
    assert await tab.h1() == "Today"
    assert user.name in await page.locator("header .who").inner_text()


async def test_a_form_whose_token_was_changed_is_refused_and_changes_nothing(
    open_tab: OpenTab, system
):
    # The sign-in form itself: no session comes of it.
    stranger = await open_tab()
    user = await new_user(system, "operator")
    await stranger.page.goto("/console/login")
    await _forge(stranger)
    await stranger.page.fill("input[name=name]", user.name)
    await stranger.page.fill("input[name=password]", user.password)
    async with stranger.page.expect_navigation():
        await stranger.page.click("form[action='/console/login'] button[type=submit]")
    assert await stranger.h1() == "403"
    assert await stranger.page.locator("[role=alert]").inner_text() == EXPIRED
    assert not [c for c in await stranger.page.context.cookies() if c["name"] == "oms_session"]

    # A signed-in person's sign-out form: refused, and the session goes on.
    tab = await open_tab()
    await sign_in(tab, system, "operator", next_path="/console/alerts")
    await _forge(tab)
    async with tab.page.expect_navigation():
        await tab.page.click("form[action='/console/logout'] button")
    assert await tab.h1() == "403"
    assert await tab.page.locator("[role=alert]").inner_text() == EXPIRED
    await tab.page.goto("/console/alerts")
    assert await tab.h1() == "Alerts"

    # An alert's form, posted in place by htmx (the token also goes in a header, so both
    # are changed): the refusal shows in the page's flash area, the alert stays open.
    alert_id = await open_alert(system)
    await tab.page.goto("/console/alerts")
    await _forge(tab)
    row = tab.page.locator(f"#alert-{alert_id}")
    await row.locator("input[name=note]").fill("forged")
    await row.locator("button[type=submit]").click()
    await tab.page.locator("#flash").get_by_text(EXPIRED).wait_for()
    assert await row.locator("button[type=submit]").is_visible()
    assert await alert_status(system, alert_id) == "open"
    assert await user_store.audit_for(system.engine, f"alert:{alert_id}") == []


async def _forge(tab: Tab) -> None:
    """Change every form's CSRF token, and the one htmx sends in a header, in the DOM."""
    await tab.page.evaluate(
        """() => {
            for (const input of document.querySelectorAll('input[name=csrf_token]')) {
                input.value = 'forged-' + input.value.slice(7);
            }
            document.body.setAttribute('hx-headers', '{"X-CSRF-Token": "forged"}');
        }"""
    )


async def test_the_language_switch_sticks_across_pages(tab: Tab, system):
    await sign_in(tab, system, "operator", next_path="/console/alerts")
    page = tab.page
    assert await tab.h1() == "Alerts"
    assert await page.get_attribute("html", "lang") == "en"
    async with page.expect_navigation():
        await page.click("a[data-lang='zh-CN']")
    assert tab.path() == "/console/alerts"
    assert await tab.h1() == "告警"
    assert await page.get_attribute("html", "lang") == "zh-CN"
    assert await page.locator("header nav").get_by_text("订单").count() == 1

    # Another page, reached through the navigation: still Chinese.
    async with page.expect_navigation():
        await page.locator("header nav a[href='/console/today']").click()
    assert await tab.h1() == "今日"
    async with page.expect_navigation():
        await page.locator("header nav a[href='/console/alerts']").click()
    async with page.expect_navigation():
        await page.locator("nav.tabs").get_by_text("全部").click()
    assert tab.path() == "/console/alerts?status=all"
    assert await tab.h1() == "告警"

    # And back to English.
    async with page.expect_navigation():
        await page.click("a[data-lang='en']")
    assert tab.path() == "/console/alerts?status=all"
    assert await tab.h1() == "Alerts"


async def test_a_browser_set_to_chinese_starts_in_chinese(open_tab: OpenTab, system):
    tab = await open_tab(locale="zh-CN")
    await tab.page.goto("/console/login")
    assert await tab.h1() == "登录"
    assert await tab.page.get_attribute("html", "lang") == "zh-CN"
    await sign_in(tab, system, "operator")
    assert await tab.h1() == "今日"
    assert "退出登录" in await tab.page.locator("header").inner_text()
