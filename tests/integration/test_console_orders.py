"""The console's Orders search and Customer page: each criterion finds the right orders
and no others, paging, personal data hidden from viewers, bad input as a message, and a
customer's figures checked against numbers worked out by hand."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from tests.integration.console_helpers import console_as
from tests.integration.helpers import order_body, stocked, submit, unique, wait_for_status

_ROW = re.compile(r'<tr id="order-([0-9a-f]{20})"')


def listed(html: str) -> list[str]:
    return _ROW.findall(html)


def new_id() -> str:
    return uuid.uuid4().hex[:20]


async def put_order(
    engine: Any,
    *,
    customer_id: str,
    status: str = "delivered",
    created_at: datetime | None = None,
    total: str = "10.00",
    currency: str = "EUR",
    channel: str = "webshop",
    skus: tuple[str, ...] = ("DIRECT-SKU",),
    email: str = "direct@example.com",
    name: str = "Direct Customer",
    phone: str | None = None,
    late: bool = False,
    hold: dict[str, Any] | None = None,
    cancellation: dict[str, str] | None = None,
    address_line1: str = "1 Analytical St",
) -> str:
    """An order row as the workflow would have left it (a view of the fields the console
    reads), without a workflow."""
    order_id = new_id()
    created = created_at or datetime.now(UTC)
    view = {
        "id": order_id,
        "channel": channel,
        "external_id": unique("x"),
        "status": status,
        "customer": {"id": customer_id, "email": email, "name": name},
        "shipping_address": {
            "name": name,
            "line1": address_line1,
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
            "phone": phone,
        },
        "currency": currency,
        "lines": [{"sku": s, "quantity": 1, "unit_price": total, "line_id": ""} for s in skus],
        "totals": {"subtotal": total, "total": total},
        "payment": {"method": "card", "status": "captured"},
        "created_at": created.isoformat(),
        "updated_at": created.isoformat(),
        "shipments": [],
        "hold": hold,
        "cancellation": cancellation,
        "late": late,
        "after_sales": [],
    }
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO orders (id, channel, external_id, request_hash, customer_id, "
                "status, last_seq, view, created_at, updated_at) VALUES (:id, :channel, :ext, "
                "'h', :customer, :status, 5, CAST(:view AS jsonb), :at, :at)"
            ),
            {
                "id": order_id,
                "channel": channel,
                "ext": view["external_id"],
                "customer": customer_id,
                "status": status,
                "view": json.dumps(view),
                "at": created,
            },
        )
    return order_id


async def test_each_criterion_finds_its_orders_and_no_others(system, admin):
    _, sku = await stocked(admin, 20)
    customer = unique("cust")
    channel = unique("chan")
    email = f"{unique('Ada')}@Example.com"
    body = order_body([(sku, 1, "12.50")], customer_id=customer, channel=channel)
    body["customer"] = {"id": customer, "email": email, "name": f"Zora {customer}"}
    delivered = await submit(admin, body)
    declined_body = order_body([(sku, 1, "12.50")], customer_id=unique("other"), channel=channel)
    declined_body["payment"]["token"] = "tok_declined"
    declined = await submit(admin, declined_body)
    await wait_for_status(admin, delivered["id"], {"delivered"})
    await wait_for_status(admin, declined["id"], {"failed"})
    late = await put_order(
        system.engine, customer_id=unique("late"), channel=channel, status="shipped", late=True
    )
    old = await put_order(
        system.engine,
        customer_id=unique("old"),
        channel=channel,
        created_at=datetime(2021, 3, 4, 12, tzinfo=UTC),
    )
    # Phones come with channel orders (the API's own intake takes none): a row of one.
    digits = str(uuid.uuid4().int)[:8]
    phoned = await put_order(
        system.engine, customer_id=unique("tel"), channel=channel, phone=f"+49 (30) {digits}"
    )
    mine = {delivered["id"], declined["id"], late, old, phoned}

    async with console_as(system, "operator") as console:

        async def found(**params: Any) -> list[str]:
            page = await console.http.get("/console/orders", params=params)
            assert page.status_code == 200, page.text
            return listed(page.text)

        assert await found(order=delivered["id"]) == [delivered["id"]]
        assert await found(order=body["external_id"]) == [delivered["id"]]
        assert await found(customer=customer) == [delivered["id"]]
        # The start of the name, in any case.
        assert await found(customer=f"zora {customer[:8]}") == [delivered["id"]]
        assert await found(email=email.upper()) == [delivered["id"]]
        assert await found(email=email.split("@")[0].lower()) == [delivered["id"]]
        assert await found(phone=f"4930 {digits}") == [phoned]
        assert await found(phone=f"+49 30 {digits[:4]}") == [phoned]
        by_sku = await found(sku=sku)
        assert set(by_sku) == {delivered["id"], declined["id"]}
        assert await found(sku=sku.lower()) == []
        assert set(await found(channel=channel)) == mine
        # Newest first.
        assert (await found(channel=channel))[-1] == old
        assert await found(channel=channel, status="failed") == [declined["id"]]
        both = await found(channel=channel, status=["failed", "delivered"])
        assert set(both) == mine - {late}
        assert await found(channel=channel, status=["failed", "shipped"]) == [late, declined["id"]]
        assert await found(channel=channel, late="1") == [late]
        assert await found(channel=channel, **{"from": "2021-03-04", "to": "2021-03-04"}) == [old]
        assert await found(channel=channel, to="2021-03-03") == []
        # All criteria hold together.
        assert await found(channel=channel, sku=sku, status="delivered") == [delivered["id"]]
        assert await found(customer=customer, status="failed") == []

        page = await console.http.get("/console/orders", params={"order": delivered["id"]})
        row = re.search(rf'<tr id="order-{delivered["id"]}".*?</tr>', page.text, re.S)
        assert row is not None
        assert 'data-status="delivered"' in row.group(0)
        assert 'data-sla="on_time"' in row.group(0)
        assert "12.50 EUR" in row.group(0) and f"Zora {customer}" in row.group(0)
        assert f'href="/console/orders/{delivered["id"]}"' in row.group(0)
        assert f'href="/console/customers/{customer}"' in row.group(0)
        # The form is a GET form: the search is in the URL, and echoed back into the form.
        assert 'method="get"' in page.text and f'value="{delivered["id"]}"' in page.text


async def test_sla_states_of_open_orders(system):
    customer = unique("sla")
    now = datetime.now(UTC)
    due = await put_order(system.engine, customer_id=customer, status="reserved", created_at=now)
    overdue = await put_order(
        system.engine,
        customer_id=customer,
        status="reserved",
        created_at=now - timedelta(seconds=system.settings.sla_dispatch_s + 60),
    )
    flagged = await put_order(
        system.engine, customer_id=customer, status="shipped", created_at=now, late=True
    )
    failed = await put_order(system.engine, customer_id=customer, status="failed")
    async with console_as(system, "viewer") as console:
        page = await console.http.get("/console/orders", params={"customer": customer})
    states = dict(re.findall(r'<tr id="order-([0-9a-f]{20})".*?data-sla="(\w+)"', page.text))
    assert states == {due: "due", overdue: "late", flagged: "late", failed: "none"}
    assert "due in 1 h 59 min" in page.text or "due in 2 h" in page.text


async def test_paging_is_newest_first_without_gaps_or_repeats(system):
    customer = unique("pages")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    made = []
    for n in range(53):
        # Two orders share each moment: the id breaks the tie.
        made.append(
            await put_order(
                system.engine, customer_id=customer, created_at=start + timedelta(minutes=n // 2)
            )
        )
    async with console_as(system, "operator") as console:
        first = await console.http.get("/console/orders", params={"customer": customer})
        ids = listed(first.text)
        assert len(ids) == 50
        link = re.search(r'id="next-page" href="([^"]+)"', first.text)
        assert link is not None
        second = await console.http.get(link.group(1).replace("&amp;", "&"))
        rest = listed(second.text)
        assert 'id="next-page"' not in second.text
        # The customer page pages the same way.
        page = await console.http.get(f"/console/customers/{customer}")
        assert listed(page.text) == ids
        more = re.search(r'id="next-page" href="([^"]+)"', page.text)
        assert more is not None
        assert listed((await console.http.get(more.group(1).replace("&amp;", "&"))).text) == rest
    assert len(rest) == 3 and not set(ids) & set(rest)
    assert set(ids) | set(rest) == set(made)
    async with system.engine.connect() as conn:
        expected = [
            r.id
            for r in await conn.execute(
                text(
                    "SELECT id FROM orders WHERE customer_id = :c ORDER BY created_at DESC, id DESC"
                ),
                {"c": customer},
            )
        ]
    assert ids + rest == expected


async def test_htmx_refreshes_only_the_results(system):
    customer = unique("htmx")
    order = await put_order(system.engine, customer_id=customer)
    async with console_as(system, "operator") as console:
        part = await console.http.get(
            "/console/orders",
            params={"customer": customer},
            headers={"HX-Request": "true", "HX-Target": "results"},
        )
    assert part.status_code == 200
    assert listed(part.text) == [order]
    assert "<html" not in part.text and 'id="order-search"' not in part.text


async def test_viewers_see_no_personal_data_and_cannot_search_by_it(system):
    customer = unique("pii")
    await put_order(
        system.engine,
        customer_id=customer,
        email="secret.person@example.com",
        name="Secret Person",
        phone="+49 30 864213579",
        address_line1="7 Hidden Lane",
    )
    async with console_as(system, "viewer") as viewer:
        page = await viewer.http.get("/console/orders", params={"customer": customer})
        assert page.status_code == 200 and len(listed(page.text)) == 1
        assert "Secret Person" not in page.text
        assert 'name="email"' not in page.text and 'name="phone"' not in page.text
        for field in ("email", "phone"):
            refused = await viewer.http.get(
                "/console/orders", params={field: "secret" if field == "email" else "4930864213579"}
            )
            assert refused.status_code == 403
            assert "Your role may not search by email or phone." in refused.text
            assert listed(refused.text) == []
        profile = await viewer.http.get(f"/console/customers/{customer}")
        assert profile.status_code == 200
        for secret in ("Secret Person", "secret.person", "Hidden Lane", "864213579"):
            assert secret not in profile.text
        assert 'id="customer-contact"' not in profile.text
    async with console_as(system, "operator") as operator:
        page = await operator.http.get("/console/orders", params={"email": "SECRET.person@"})
        assert len(listed(page.text)) >= 1 and "Secret Person" in page.text
        profile = await operator.http.get(f"/console/customers/{customer}")
        assert "7 Hidden Lane" in profile.text and "secret.person@example.com" in profile.text


async def test_bad_input_is_a_message_in_the_page(system):
    async with console_as(system, "operator") as console:
        for params, message in (
            ({"from": "2024-13-45"}, "Not a date (YYYY-MM-DD):"),
            ({"status": "lost"}, "Unknown status:"),
            ({"from": "2024-02-02", "to": "2024-02-01"}, "The first day is after the last."),
            ({"phone": "ab"}, "A phone number needs at least 3 digits."),
            ({"after": "not-a-cursor"}, "That page link is not valid: search again."),
            ({"sku": "x" * 200}, "Too long or not text:"),
        ):
            page = await console.http.get("/console/orders", params=params)
            assert page.status_code == 422, (params, page.status_code)
            assert page.headers["content-type"].startswith("text/html")
            assert 'id="search-errors"' in page.text and message in page.text
            assert 'id="order-search"' in page.text
        # In Chinese too.
        page = await console.http.get(
            "/console/orders", params={"status": "lost"}, headers={"Accept-Language": "zh-CN"}
        )
        assert "未知状态" in page.text
        missing = await console.http.get(f"/console/customers/{unique('nobody')}")
        assert missing.status_code == 404
        assert "No orders for this customer." in missing.text


async def test_a_customer_page_counts_what_happened_to_their_orders(system, admin):
    customer = unique("crm")
    _, sku = await stocked(admin, 10)
    body = order_body([(sku, 2, "4.25")], customer_id=customer)  # 8.50 EUR, through the API
    driven = await submit(admin, body)
    await wait_for_status(admin, driven["id"], {"delivered"})
    at = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    engine = system.engine
    await put_order(engine, customer_id=customer, total="10.00", created_at=at)
    await put_order(engine, customer_id=customer, total="15.55", created_at=at + timedelta(days=1))
    await put_order(
        engine, customer_id=customer, total="7.00", currency="USD", address_line1="9 Other Rd"
    )
    decided = {"action": "approve", "by": "ops-anna", "at": at.isoformat()}
    await put_order(
        engine,
        customer_id=customer,
        total="100.00",
        hold={"reasons": ["high_value"], "since": at.isoformat(), "decision": decided},
    )
    await put_order(
        engine,
        customer_id=customer,
        status="on_hold",
        hold={"reasons": ["manual"], "since": at.isoformat()},
    )
    await put_order(
        engine,
        customer_id=customer,
        status="cancelled",
        hold={"reasons": ["high_value"], "since": at.isoformat()},
        cancellation={"by": "system", "reason": "hold_expired", "code": "hold_expired"},
    )
    for _ in range(2):
        await put_order(
            engine,
            customer_id=customer,
            status="cancelled",
            cancellation={"by": "ops-bob", "reason": "customer called", "code": "cancelled"},
        )
    async with console_as(system, "operator") as console:
        page = await console.http.get(f"/console/customers/{customer}")
    assert page.status_code == 200
    html = page.text

    def cell(element_id: str) -> str:
        found = re.search(rf'id="{element_id}">([^<]*)<', html)
        assert found, element_id
        return found.group(1).strip()

    assert cell("customer-orders") == "9"
    assert cell("customer-cancelled") == "3"
    assert cell("customer-held") == "3"
    assert cell("customer-returns") == "0"
    assert cell("customer-first") == "2024-05-01 09:30 UTC"
    # Delivered: 8.50 + 10.00 + 15.55 + 100.00 EUR, and 7.00 USD.
    spent = dict(re.findall(r'<tr data-currency="(\w+)">.*?class="num spent">([^<]+)<', html))
    assert spent == {"EUR": "134.05 EUR", "USD": "7.00 USD"}
    cancels = re.findall(r'<tr data-code="(\w+)" data-by="([^"]*)">.*?"num">(\d+)<', html)
    assert sorted(cancels) == [("cancelled", "ops-bob", "2"), ("hold_expired", "system", "1")]
    holds = dict(re.findall(r'<tr data-outcome="(\w+)">.*?"num">(\d+)<', html))
    assert holds == {"approve": "1", "waiting": "1", "expired": "1"}
    assert "9 Other Rd" in html and "1 Analytical St" in html
    assert f'href="/console/orders/{driven["id"]}"' in html
    assert len(listed(html)) == 9


async def test_a_skus_orders_page_newest_first_and_follow_a_change_of_lines(system):
    sku, other = unique("PAGED-SKU"), unique("NEW-SKU")
    start = datetime(2024, 2, 1, tzinfo=UTC)
    made = [
        await put_order(
            system.engine,
            customer_id=unique("c"),
            skus=(sku, unique("X")),
            created_at=start + timedelta(minutes=n // 2),
        )
        for n in range(53)
    ]
    async with system.engine.connect() as conn:
        expected = [
            r.id
            for r in await conn.execute(
                text(
                    "SELECT id FROM orders WHERE id = ANY(:ids) ORDER BY created_at DESC, id DESC"
                ),
                {"ids": made},
            )
        ]
    async with console_as(system, "operator") as console:
        first = await console.http.get("/console/orders", params={"sku": sku})
        link = re.search(r'id="next-page" href="([^"]+)"', first.text)
        assert link is not None
        second = await console.http.get(link.group(1).replace("&amp;", "&"))
        assert listed(first.text) + listed(second.text) == expected
        # An order whose lines change (an edit) is found by its new SKU, not its old one.
        changed = made[0]
        async with system.engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE orders SET view = jsonb_set(view, '{lines}', "
                    "CAST(:lines AS jsonb)) WHERE id = :id"
                ),
                {"id": changed, "lines": json.dumps([{"sku": other, "quantity": 1}])},
            )
        now_new = await console.http.get("/console/orders", params={"sku": other})
        assert listed(now_new.text) == [changed]
        old = await console.http.get("/console/orders", params={"sku": sku, "to": "2024-02-01"})
        assert changed not in listed(old.text)
        dated = await console.http.get(
            "/console/orders", params={"sku": sku, "from": "2024-02-01", "to": "2024-02-01"}
        )
        assert listed(dated.text) == [i for i in expected if i != changed][:50]
