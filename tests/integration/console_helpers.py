"""Signing in to the console from a test: a user of a role, and an HTTP client holding
their session cookie and CSRF token (read from the page, as a browser would)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from oms import users
from tests.integration.helpers import unique

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


@dataclass
class Console:
    http: httpx.AsyncClient
    name: str
    role: str
    csrf: str

    async def post(
        self, path: str, data: dict[str, Any] | None = None, htmx: bool = True
    ) -> httpx.Response:
        """A form post with the session's token, as the page's form (or htmx) sends it."""
        headers = {"HX-Request": "true"} if htmx else {}
        return await self.http.post(
            path, data={"csrf_token": self.csrf, **(data or {})}, headers=headers
        )


async def create_user(engine: Any, role: str, name: str | None = None) -> users.NewUser:
    return await users.create_user(engine, name or unique(role), role, by="test")


async def sign_in(http: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    page = await http.get("/console/login")
    return await http.post(
        "/console/login",
        data={"csrf_token": csrf_of(page.text), "name": name, "password": password, "next": ""},
    )


@asynccontextmanager
async def console_as(system: Any, role: str = "operator") -> AsyncIterator[Console]:
    user = await create_user(system.engine, role)
    async with httpx.AsyncClient(base_url=system.api_url, timeout=30) as http:
        answer = await sign_in(http, user.name, user.password)
        assert answer.status_code == 303, answer.text
        page = await http.get("/console/alerts")
        assert page.status_code == 200, page.text
        yield Console(http, user.name, role, csrf_of(page.text))
