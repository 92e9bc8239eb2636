"""The Today page: the KPI tiles and the orders waiting for a person, the longest waiting
first, each part refreshing itself; Temporal down hides only the steps it would tell."""

from __future__ import annotations

import asyncio
import re
import time

from sqlalchemy import text

from tests.conftest import System, custom_stack
from tests.integration.console_helpers import console_as
from tests.integration.helpers import order_body, stocked, submit, unique, wait_for_status
from tests.integration.test_console_approvals import _console_without_temporal


async def _open_alert(system: System, order_id: str, kind: str) -> int:
    async with system.engine.begin() as conn:
        found = await conn.execute(
            text(
                "INSERT INTO alerts (order_id, subject, kind, status, detail, created_at) "
                "VALUES (:o, '', :k, 'open', '{}'::jsonb, now()) RETURNING id"
            ),
            {"o": order_id, "k": kind},
        )
        return int(found.scalar_one())


def _rows(html: str) -> list[tuple[str, str]]:
    """(kind, order id) of each line of the waiting list, in the page's order."""
    table = re.search(r'<table class="list" id="waiting">.*?</table>', html, re.S)
    assert table, "no waiting list"
    return re.findall(r'<tr data-kind="([a-z]+)" data-order="([0-9a-z-]+)"', table.group(0))


async def test_the_waiting_list_has_holds_late_orders_and_alerts_oldest_first(system, admin):
    channel = unique("today").lower()
    _, sku = await stocked(admin, 10)
    held = await submit(admin, order_body([(sku, 1, "1900.00")], channel=channel))
    await wait_for_status(admin, held["id"], {"on_hold"})
    # Late: not dispatched within its 1 s SLA, waiting out a long cancel window.
    async with custom_stack(
        system, "today-late", {}, sla_dispatch_s=1.0, release_delay_s=120.0
    ) as slow:
        late = await submit(slow, order_body([(sku, 1, "10.00")], channel=channel))
        deadline = time.monotonic() + 30
        while not (await slow.get(f"/v1/orders/{late['id']}")).json().get("late"):
            assert time.monotonic() < deadline, "the order was never flagged late"
            await asyncio.sleep(0.1)
        # The order's own alert (order_late) is told on its line, not as a second one.
        alert_id = await _open_alert(system, held["id"], "shipment_silent")
        async with console_as(system, "operator") as console:
            page = await console.http.get(f"/console/today?channel={channel}")
            assert page.status_code == 200
            assert _rows(page.text) == [
                ("hold", held["id"]),
                ("late", late["id"]),
                ("alert", held["id"]),
            ]
            # The page itself never asks Temporal; its list part does, and refreshes.
            assert 'id="stuck-loading"' in page.text
            assert 'hx-trigger="load, every 10s"' in page.text
            assert 'hx-trigger="every 10s"' in page.text
            part = await console.http.get(
                f"/console/today/waiting?channel={channel}", headers={"HX-Request": "true"}
            )
            assert part.status_code == 200 and "<html" not in part.text
            assert _rows(part.text)[:3] == _rows(page.text)
            assert 'id="stuck-' not in part.text
            assert "(alert open)" in part.text
            assert f'href="/console/orders/{late["id"]}"' in part.text
            assert (
                'href="/console/approvals"' in part.text and 'href="/console/alerts"' in part.text
            )
        assert (await slow.post(f"/v1/orders/{late['id']}/cancel", json={})).status_code == 202
    assert (await admin.post(f"/v1/orders/{held['id']}/reject", json={})).status_code == 202
    async with system.engine.begin() as conn:
        await conn.execute(
            text("UPDATE alerts SET status = 'acknowledged' WHERE id = :i"), {"i": alert_id}
        )


async def test_temporal_down_the_page_still_shows_and_says_so(system, admin):
    channel = unique("today").lower()
    _, sku = await stocked(admin, 10)
    held = await submit(admin, order_body([(sku, 1, "2100.00")], channel=channel))
    await wait_for_status(admin, held["id"], {"on_hold"})
    async with _console_without_temporal(system, "viewer") as (http, _, _):
        page = await http.get(f"/console/today?channel={channel}")
        assert page.status_code == 200
        assert _rows(page.text) == [("hold", held["id"])]
        part = await http.get(
            f"/console/today/waiting?channel={channel}", headers={"HX-Request": "true"}
        )
        assert part.status_code == 200
        assert 'id="stuck-unavailable"' in part.text
        assert _rows(part.text) == [("hold", held["id"])]
        assert 'data-kpi="holds_waiting"' in page.text
    assert (await admin.post(f"/v1/orders/{held['id']}/reject", json={})).status_code == 202


def _tile(html: str, name: str) -> str:
    found = re.search(rf'<div class="tile [a-z]+" data-kpi="{name}".*?</div>\s*</div>', html, re.S)
    assert found, f"no tile {name}"
    return found.group(0)


def _figure(tile: str, period: str) -> tuple[str, str]:
    """(data-value, data-met) of the tile's figure for ``period`` (today | 7d | now)."""
    found = re.search(rf'data-period="{period}" data-value="([^"]*)" data-met="([a-z]*)"', tile)
    assert found, f"no {period} figure in {tile}"
    return found.group(1), found.group(2)


async def test_the_tiles_count_the_orders_of_today_against_their_targets(system, admin):
    channel = unique("tiles").lower()
    _, sku = await stocked(admin, 10)
    shipped = [await submit(admin, order_body([(sku, 1, "20.00")], channel=channel)) for _ in "ab"]
    held = await submit(admin, order_body([(sku, 1, "2500.00")], channel=channel))
    await wait_for_status(admin, held["id"], {"on_hold"})
    assert (await admin.post(f"/v1/orders/{held['id']}/reject", json={})).status_code == 202
    for order in [*shipped, held]:
        await wait_for_status(admin, order["id"], {"delivered", "cancelled"})
    async with console_as(system, "viewer") as console:
        part = await console.http.get(
            f"/console/today/tiles?channel={channel}", headers={"HX-Request": "true"}
        )
        assert part.status_code == 200 and "<html" not in part.text
    html = part.text
    for period in ("today", "7d"):
        assert _figure(_tile(html, "orders_received"), period) == ("3", "")
        # One of three cancelled (the rejected hold): over the 5 % mark.
        value, met = _figure(_tile(html, "cancellation_rate"), period)
        assert abs(float(value) - 1 / 3) < 1e-9 and met == "false"
        # Both others shipped complete, dispatched within seconds and delivered whole.
        assert _figure(_tile(html, "fill_rate"), period) == ("1.0", "true")
        assert _figure(_tile(html, "order_accuracy"), period) == ("1.0", "true")
        assert _figure(_tile(html, "backorder_rate"), period) == ("0.0", "true")
        processing, met = _figure(_tile(html, "processing_time"), period)
        assert float(processing) < 60 and met == "true"
    assert 'class="tile bad" data-kpi="cancellation_rate"' in html
    assert 'class="tile ok" data-kpi="fill_rate"' in html
    assert "33.3 %" in _tile(html, "cancellation_rate") and "1 / 3" in _tile(
        html, "cancellation_rate"
    )
