"""Signing in to the console: accounts, sessions, CSRF, roles and the audit log."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from oms import users
from oms.store import users as user_store
from tests.conftest import ADMIN_KEY
from tests.integration.console_helpers import console_as, create_user, csrf_of, sign_in


async def test_a_page_needs_a_session_and_sends_the_browser_to_sign_in(system):
    async with httpx.AsyncClient(base_url=system.api_url) as http:
        page = await http.get("/console/alerts?status=all")
        assert page.status_code == 303
        assert page.headers["location"] == "/console/login?next=%2Fconsole%2Falerts%3Fstatus%3Dall"
        # An htmx part asks the page to go to the sign-in, not to swap it in.
        part = await http.get("/console/alerts", headers={"HX-Request": "true"})
        assert part.headers["HX-Redirect"].startswith("/console/login?next=")


async def test_an_api_key_is_not_a_console_session(system):
    # Neither the admin key nor any API key signs in: the console wants a person.
    async with httpx.AsyncClient(
        base_url=system.api_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as http:
        assert (await http.get("/console/alerts")).status_code == 303
        answer = await sign_in(http, "admin", ADMIN_KEY)
        assert answer.status_code == 401
        assert "The name or password is wrong." in answer.text


async def test_sign_in_goes_where_the_browser_was_going_and_sign_out_ends_the_session(system):
    user = await create_user(system.engine, "operator")
    async with httpx.AsyncClient(base_url=system.api_url) as http:
        login = await http.get("/console/login?next=%2Fconsole%2Falerts%3Fstatus%3Dall")
        answer = await http.post(
            "/console/login",
            data={
                "csrf_token": csrf_of(login.text),
                "name": user.name,
                "password": user.password,
                "next": "/console/alerts?status=all",
            },
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/alerts?status=all"
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
        page = await http.get("/console/alerts")
        assert page.status_code == 200 and user.name in page.text
        assert page.headers["cache-control"] == "no-store"
        assert "script-src 'self'" in page.headers["content-security-policy"]
        session_cookie = http.cookies.get("oms_session")
        out = await http.post("/console/logout", data={"csrf_token": csrf_of(page.text)})
        assert out.status_code == 303
        # The old cookie, kept by someone, no longer works.
        http.cookies.set("oms_session", session_cookie, path="/console")
        assert (await http.get("/console/alerts")).status_code == 303
    audit = await user_store.audit_recent(system.engine, 50)
    mine = [(r.action, r.outcome) for r in audit if r.user_name == user.name]
    assert ("sign_in", "ok") in mine and ("sign_out", "ok") in mine


async def test_a_sign_in_elsewhere_than_the_console_is_refused(system):
    user = await create_user(system.engine, "operator")
    async with httpx.AsyncClient(base_url=system.api_url) as http:
        login = await http.get("/console/login")
        answer = await http.post(
            "/console/login",
            data={
                "csrf_token": csrf_of(login.text),
                "name": user.name,
                "password": user.password,
                "next": "https://elsewhere.example/steal",
            },
        )
        assert answer.headers["location"] == "/console/today"


async def test_sign_in_without_its_form_token_is_refused(system):
    user = await create_user(system.engine, "operator")
    async with httpx.AsyncClient(base_url=system.api_url) as http:
        await http.get("/console/login")
        answer = await http.post(
            "/console/login",
            data={"csrf_token": "forged", "name": user.name, "password": user.password},
        )
        assert answer.status_code == 403
        assert "oms_session" not in http.cookies


async def test_wrong_passwords_lock_the_account_for_a_while(system):
    user = await create_user(system.engine, "operator")
    async with httpx.AsyncClient(base_url=system.api_url) as http:
        for _ in range(system.settings.console_login_attempts):
            assert (await sign_in(http, user.name, "wrong")).status_code == 401
        # Locked: the right password too is refused, and says why.
        answer = await sign_in(http, user.name, user.password)
        assert answer.status_code == 401
        assert "Too many refused sign-ins" in answer.text
    async with system.engine.begin() as conn:
        await conn.execute(
            text("UPDATE users SET locked_until = now() - interval '1 s' WHERE name = :n"),
            {"n": user.name},
        )
    async with httpx.AsyncClient(base_url=system.api_url) as http:
        assert (await sign_in(http, user.name, user.password)).status_code == 303


async def test_a_session_ends_when_idle_too_long_and_when_the_user_is_disabled(system):
    async with console_as(system, "operator") as console:
        async with system.engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE console_sessions SET last_seen_at = now() - make_interval(secs => :s) "
                    "WHERE user_id = (SELECT id FROM users WHERE name = :n)"
                ),
                {"s": system.settings.console_session_idle_s + 1, "n": console.name},
            )
        assert (await console.http.get("/console/alerts")).status_code == 303
    async with console_as(system, "operator") as console:
        await users.set_disabled(system.engine, console.name, True)
        assert (await console.http.get("/console/alerts")).status_code == 303
        assert (await sign_in(console.http, console.name, "x")).status_code == 401


async def test_a_form_post_without_the_session_token_is_refused_and_changes_nothing(system):
    alert_id = await _an_open_alert(system)
    async with console_as(system, "operator") as console:
        forged = await console.http.post(f"/console/alerts/{alert_id}/ack", data={"note": "forged"})
        assert forged.status_code == 403
        assert "The form has expired" in forged.text
        wrong = await console.http.post(
            f"/console/alerts/{alert_id}/ack", data={"note": "x", "csrf_token": "nope"}
        )
        assert wrong.status_code == 403
        other_site = await console.http.post(
            f"/console/alerts/{alert_id}/ack",
            data={"note": "x", "csrf_token": console.csrf},
            headers={"Origin": "https://evil.example"},
        )
        assert other_site.status_code == 403
    assert await _alert_status(system, alert_id) == "open"


async def test_an_operator_acknowledges_an_alert_with_a_note_and_it_is_recorded(system):
    alert_id = await _an_open_alert(system)
    async with console_as(system, "operator") as console:
        empty = await console.post(f"/console/alerts/{alert_id}/ack", {"note": "  "})
        assert empty.status_code == 422
        assert empty.headers["HX-Retarget"] == "#flash"
        assert await _alert_status(system, alert_id) == "open"
        row = await console.post(f"/console/alerts/{alert_id}/ack", {"note": "called the carrier"})
        assert row.status_code == 200
        assert f'id="alert-{alert_id}"' in row.text and console.name in row.text
    assert await _alert_status(system, alert_id) == "acknowledged"
    audit = await user_store.audit_for(system.engine, f"alert:{alert_id}")
    assert [(r.user_name, r.action, r.note) for r in audit] == [
        (console.name, "alert_ack", "called the carrier")
    ]


async def test_a_viewer_reads_but_does_not_act(system):
    alert_id = await _an_open_alert(system)
    async with console_as(system, "viewer") as console:
        page = await console.http.get("/console/alerts")
        assert page.status_code == 200
        assert f"/console/alerts/{alert_id}/ack" not in page.text
        refused = await console.post(f"/console/alerts/{alert_id}/ack", {"note": "x"})
        assert refused.status_code == 403
    assert await _alert_status(system, alert_id) == "open"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [("zh-CN,zh;q=0.9,en;q=0.8", "告警"), ("en-US,en;q=0.9,zh;q=0.5", "Alerts"), ("", "Alerts")],
)
async def test_the_language_follows_the_browser_and_the_switch(system, accept, expected):
    async with console_as(system, "operator") as console:
        page = await console.http.get("/console/alerts", headers={"Accept-Language": accept})
        assert f"<h1>{expected}</h1>" in page.text
        switched = await console.http.get("/console/lang/zh-CN?next=%2Fconsole%2Falerts")
        assert switched.headers["location"] == "/console/alerts"
        page = await console.http.get("/console/alerts", headers={"Accept-Language": accept})
        assert "<h1>告警</h1>" in page.text
        await console.http.get("/console/lang/en?next=%2Fconsole%2Falerts")
        page = await console.http.get("/console/alerts", headers={"Accept-Language": accept})
        assert "<h1>Alerts</h1>" in page.text


async def _an_open_alert(system) -> int:
    from tests.integration.helpers import unique

    async with system.engine.begin() as conn:
        return int(
            (
                await conn.execute(
                    text(
                        "INSERT INTO alerts (order_id, subject, kind, status, detail, created_at) "
                        "VALUES (:o, '', 'step_retrying', 'open', '{}'::jsonb, now()) RETURNING id"
                    ),
                    {"o": unique("ord")},
                )
            ).scalar_one()
        )


async def _alert_status(system, alert_id: int) -> str:
    async with system.engine.connect() as conn:
        return str(
            (
                await conn.execute(text("SELECT status FROM alerts WHERE id = :i"), {"i": alert_id})
            ).scalar_one()
        )
