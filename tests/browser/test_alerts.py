"""The Alerts page in Chromium: acknowledging an alert with a note changes its row in place."""

from __future__ import annotations

from oms.store import users as user_store
from tests.browser.helpers import Tab, alert_status, open_alert, sign_in


async def test_an_alert_is_acknowledged_with_a_note_and_its_row_changes_in_place(tab: Tab, system):
    alert_id = await open_alert(system)
    user = await sign_in(tab, system, "operator", next_path="/console/alerts")
    page = tab.page
    row = page.locator(f"#alert-{alert_id}")
    assert "open" in await row.inner_text()
    # A mark on the page's window: a page load would wipe it, a swap in place does not.
    await page.evaluate("window.omsMark = 'still here'")

    # No note: the browser itself asks for one, nothing is sent.
    await row.locator("button[type=submit]").click()
    assert await row.locator("input[name=note]").evaluate("e => !e.validity.valid")
    assert await alert_status(system, alert_id) == "open"

    await row.locator("input[name=note]").fill("called the warehouse, they are on it")
    await row.locator("button[type=submit]").click()
    await row.get_by_text(user.name).wait_for()
    assert await row.locator("form").count() == 0
    assert "called the warehouse, they are on it" in await row.inner_text()
    assert await page.evaluate("window.omsMark") == "still here"
    assert tab.path() == "/console/alerts"
    assert await alert_status(system, alert_id) == "acknowledged"
    audit = await user_store.audit_for(system.engine, f"alert:{alert_id}")
    assert [(r.user_name, r.action, r.note) for r in audit] == [
        (user.name, "alert_ack", "called the warehouse, they are on it")
    ]
