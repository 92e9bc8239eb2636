"""What the browser tests share: a tab that records what went wrong in it, signing in
through the login form, and the facts a test sets up or checks in the database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from playwright.async_api import ConsoleMessage, Page, Request, Response, ViewportSize
from sqlalchemy import text

from oms import users
from tests.integration.helpers import unique

LAPTOP = ViewportSize(width=1280, height=800)
TABLET = ViewportSize(width=820, height=1180)

# A page the server refused (401, 403, 404, 409, 422) is something a test may want; the
# console says so as "Failed to load resource". What loads with it is watched by response.
_REFUSED_RESOURCE = "Failed to load resource: the server responded with a status of"
_SUBRESOURCES = {"script", "stylesheet", "image", "font"}


@dataclass
class Tab:
    """A page in a context of its own, and what went wrong in it."""

    page: Page
    problems: list[str] = field(default_factory=list)

    def watch(self) -> None:
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("response", self._response)
        self.page.on("requestfailed", self._failed)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith(_REFUSED_RESOURCE):
            self.problems.append(f"console error on {self.page.url}: {message.text}")

    def _response(self, response: Response) -> None:
        if response.request.resource_type in _SUBRESOURCES and response.status >= 400:
            self.problems.append(f"{response.url} answered {response.status}")

    def _failed(self, request: Request) -> None:
        if request.resource_type in _SUBRESOURCES:
            self.problems.append(f"{request.url} failed: {request.failure}")

    async def h1(self) -> str:
        """The page's heading, without what follows it in small print."""
        text = await self.page.evaluate(
            "document.querySelector('h1') && document.querySelector('h1').firstChild"
            " ? document.querySelector('h1').firstChild.textContent : ''"
        )
        return str(text).strip()

    def path(self) -> str:
        """The page's path and query: ``/console/alerts?status=all``."""
        parts = urlsplit(self.page.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    async def no_horizontal_scroll(self) -> tuple[int, int]:
        """(the page's scroll width, the viewport's width)."""
        width = await self.page.evaluate("document.documentElement.scrollWidth")
        view = await self.page.evaluate("document.documentElement.clientWidth")
        return int(width), int(view)


OpenTab = Callable[..., Awaitable[Tab]]


async def new_user(system: Any, role: str = "operator") -> users.NewUser:
    return await users.create_user(system.engine, unique(role), role, by="test")


async def sign_in(
    tab: Tab, system: Any, role: str = "operator", next_path: str | None = None
) -> users.NewUser:
    """A new user of ``role`` signs in through the login form, as a person would; the
    browser then shows ``next_path`` (the console's home page, Today, by default)."""
    user = await new_user(system, role)
    login = "/console/login" + (f"?next={quote(next_path, safe='')}" if next_path else "")
    await tab.page.goto(login)
    await tab.page.fill("input[name=name]", user.name)
    await tab.page.fill("input[name=password]", user.password)
    async with tab.page.expect_navigation():
        await tab.page.click("form[action='/console/login'] button[type=submit]")
    assert "/console/login" not in tab.page.url, await tab.page.content()
    return user


async def open_alert(system: Any, order_id: str | None = None) -> int:
    """An open alert (a step that keeps failing) about ``order_id``: its id."""
    async with system.engine.begin() as conn:
        return int(
            (
                await conn.execute(
                    text(
                        "INSERT INTO alerts (order_id, subject, kind, status, detail, created_at) "
                        "VALUES (:o, '', 'step_retrying', 'open', "
                        '\'{"activity": "dispatch_to_wms", "attempt": 4}\'::jsonb, now()) '
                        "RETURNING id"
                    ),
                    {"o": order_id or unique("ord")},
                )
            ).scalar_one()
        )


async def alert_status(system: Any, alert_id: int) -> str:
    async with system.engine.connect() as conn:
        return str(
            (
                await conn.execute(text("SELECT status FROM alerts WHERE id = :i"), {"i": alert_id})
            ).scalar_one()
        )
