"""Orders in Chromium: searching them, approving a held one, cancelling one, on a laptop and
a tablet. The orders are real: sent through the API and run by the session's worker."""

from __future__ import annotations

import time

from playwright.async_api import expect

from tests.browser.helpers import TABLET, OpenTab, Tab, sign_in
from tests.integration.helpers import (
    order_body,
    stocked,
    submit,
    unique,
    wait_for_status,
)

# Over the default high-value threshold (EUR 1000): the order waits for a person.
HELD_PRICE = "1500.00"


async def _held_orders(admin, count: int) -> tuple[str, list[str]]:
    """``count`` orders of a channel of their own, each on hold: (channel, ids)."""
    _, sku = await stocked(admin, 10 * count)
    channel = unique("shop")
    ids = []
    for _ in range(count):
        order = await submit(admin, order_body([(sku, 1, HELD_PRICE)], channel=channel))
        ids.append(order["id"])
    for order_id in ids:
        await wait_for_status(admin, order_id, {"on_hold"})
    return channel, ids


async def _reload_until(tab: Tab, status: str, within: float = 20) -> None:
    """Load the order's page again until it shows ``status`` (the workflow acts after the
    page has answered)."""
    deadline = time.monotonic() + within
    shown = tab.page.locator("#order-status")
    while (seen := await shown.get_attribute("data-status")) != status:
        assert time.monotonic() < deadline, f"the page stayed {seen!r}, wanted {status!r}"
        await tab.page.wait_for_timeout(250)
        await tab.page.reload()


async def test_orders_are_found_by_sku_and_by_external_id(tab: Tab, system, admin):
    _, sku = await stocked(admin, 10)
    _, other_sku = await stocked(admin, 10)
    first = await submit(admin, order_body([(sku, 1)]))
    second = await submit(admin, order_body([(sku, 2)]))
    other = await submit(admin, order_body([(other_sku, 1)]))
    for order in (first, second, other):
        await wait_for_status(admin, order["id"], {"delivered"})

    await sign_in(tab, system, "operator", next_path="/console/orders")
    page = tab.page
    await page.locator("#order-search input[name=sku]").fill(sku)
    await page.locator("#search-button").click()
    rows = page.locator("#results tr[data-order]")
    await expect(rows).to_have_count(2)
    found = {await row.get_attribute("data-order") for row in await rows.all()}
    assert found == {first["id"], second["id"]}
    # The search is the page's address: it can be bookmarked and sent.
    assert f"sku={sku}" in tab.path()
    assert await rows.first.get_attribute("data-status") == "delivered"

    await page.goto("/console/orders")
    await page.locator("#order-search input[name=order]").fill(first["external_id"])
    await page.locator("#search-button").click()
    await expect(rows).to_have_count(1)
    assert await rows.first.get_attribute("data-order") == first["id"]

    # Its row leads to the order's page.
    async with page.expect_navigation():
        await rows.first.locator(f"a[href='/console/orders/{first['id']}']").click()
    assert tab.path() == f"/console/orders/{first['id']}"
    await expect(page.locator("#order-status")).to_have_attribute("data-status", "delivered")


async def test_held_orders_are_approved_and_rejected_on_the_approvals_page(tab: Tab, system, admin):
    channel, (approved, rejected, untouched) = await _held_orders(admin, 3)
    await sign_in(tab, system, "operator", next_path=f"/console/approvals?channel={channel}")
    page = tab.page
    # The orders still waiting (one just decided may show, marked, until the read model
    # has it).
    rows = page.locator("#holds tr[data-order]:not([data-decided])")
    await expect(rows).to_have_count(3)

    await page.locator("input[name=note]").fill("checked the card with the bank")
    await page.locator(f"input[name=order_id][value='{approved}']").check()
    await page.locator("#bulk-approve").click()
    # What happened is said above the queue, swapped in place.
    await expect(
        page.locator(f"#results [data-result-order='{approved}'][data-outcome='accepted']")
    ).to_contain_text("Approved")
    await expect(rows).to_have_count(2)
    await wait_for_status(admin, approved, {"delivered"})

    await page.locator("input[name=note]").fill("the card was reported stolen")
    await page.locator(f"input[name=order_id][value='{rejected}']").check()
    await page.locator("#bulk-reject").click()
    await expect(
        page.locator(f"#results [data-result-order='{rejected}'][data-outcome='accepted']")
    ).to_contain_text("Rejected")
    await expect(rows).to_have_count(1)
    assert await rows.first.get_attribute("data-order") == untouched
    await wait_for_status(admin, rejected, {"cancelled"})
    assert (await admin.get(f"/v1/orders/{untouched}")).json()["status"] == "on_hold"


async def test_a_held_order_is_approved_on_its_page(tab: Tab, system, admin):
    _, (order_id,) = await _held_orders(admin, 1)
    await sign_in(tab, system, "operator", next_path=f"/console/orders/{order_id}")
    page = tab.page
    await expect(page.locator("#order-status")).to_have_attribute("data-status", "on_hold")
    form = page.locator("#action-approve")
    await form.locator("input[name=note]").fill("the customer confirmed by phone")
    await form.locator("button").click()
    await wait_for_status(admin, order_id, {"delivered"})
    await _reload_until(tab, "delivered")
    assert "the customer confirmed by phone" in await page.locator("#timeline").inner_text()


async def test_an_order_is_cancelled_on_its_page_with_a_note(tab: Tab, system, admin):
    _, (order_id,) = await _held_orders(admin, 1)
    user = await sign_in(tab, system, "operator", next_path=f"/console/orders/{order_id}")
    page = tab.page
    form = page.locator("#action-cancel")
    # The note is asked for: without it the browser sends nothing.
    await form.locator("button").click()
    assert await form.locator("input[name=note]").evaluate("e => !e.validity.valid")
    assert (await admin.get(f"/v1/orders/{order_id}")).json()["status"] == "on_hold"

    await form.locator("input[name=note]").fill("the customer asked to cancel")
    await form.locator("button").click()
    order = await wait_for_status(admin, order_id, {"cancelled"})
    await _reload_until(tab, "cancelled")
    assert user.name in await page.locator("#timeline").inner_text()
    assert order["status"] == "cancelled"
    # A cancelled order offers no cancel any more.
    assert await page.locator("#action-cancel").count() == 0


async def test_the_orders_and_an_order_fit_a_tablet(open_tab: OpenTab, system, admin):
    _, sku = await stocked(admin, 10)
    order = await submit(admin, order_body([(sku, 3)]))
    await wait_for_status(admin, order["id"], {"delivered"})
    tab = await open_tab(viewport=TABLET)
    await sign_in(tab, system, "operator", next_path="/console/orders")
    for path in ("/console/orders", f"/console/orders/{order['id']}"):
        answer = await tab.page.goto(path)
        assert answer is not None and answer.status == 200, path
        width, view = await tab.no_horizontal_scroll()
        assert width <= view, f"{path} is {width} px wide in a {view} px tablet screen"
