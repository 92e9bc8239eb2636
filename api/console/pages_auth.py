"""Signing in and out, the language switch, and ``/console`` itself."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.console import i18n
from api.console.web import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    ConsoleRefusal,
    FormUserDep,
    check_csrf,
    render,
    set_cookie,
)
from oms import users
from oms.store import users as user_store

router = APIRouter(prefix="/console", include_in_schema=False)
HOME = "/console/today"


def login_url(next_path: str) -> str:
    return f"/console/login?next={quote(next_path, safe='')}"


def safe_next(value: str | None) -> str:
    """Only a console path: a sign-in link cannot send the browser elsewhere."""
    if value and value.startswith("/console") and not value.startswith("//"):
        return value
    return HOME


@router.get("")
async def console_root() -> RedirectResponse:
    return RedirectResponse(HOME, status_code=303)


def _login_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        None,
        "login.html",
        status_code=status,
        login_csrf=token,
        error=error,
        next=safe_next(request.query_params.get("next")),
    )
    set_cookie(response, request, LOGIN_CSRF_COOKIE, token, max_age=3600, samesite="strict")
    return response


@router.get("/login")
async def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    engine = request.app.state.engine
    settings = request.app.state.settings
    form = await request.form()
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie:
        raise ConsoleRefusal(
            403, "The form has expired or came from another page: reload the page and try again."
        )
    await check_csrf(request, cookie)
    name = str(form.get("name") or "").strip()
    password = str(form.get("password") or "")
    outcome = await users.sign_in(engine, settings, name, password)
    if isinstance(outcome, users.Refused):
        await user_store.audit(engine, name[:64] or "-", "sign_in", None, outcome.reason)
        message = (
            "Too many refused sign-ins: wait a few minutes and try again."
            if outcome.reason == "locked"
            else "The name or password is wrong."
        )
        return _login_page(request, message, status=401)
    session = await users.open_session(engine, settings, outcome, request.headers.get("user-agent"))
    await user_store.audit(engine, outcome.name, "sign_in", None, "ok")
    response = RedirectResponse(safe_next(str(form.get("next") or "")), status_code=303)
    set_cookie(
        response,
        request,
        SESSION_COOKIE,
        session.token,
        max_age=int(settings.console_session_max_s),
        samesite="lax",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
    return response


@router.post("/logout")
async def logout(request: Request, user: FormUserDep) -> Response:
    engine = request.app.state.engine
    await user_store.end_session(engine, user.token_hash)
    await user_store.audit(engine, user.name, "sign_out", None, "ok")
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


@router.get("/lang/{language}")
async def switch_language(
    request: Request,
    language: str,
    next: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    if language in i18n.LANGUAGES:
        set_cookie(response, request, i18n.COOKIE, language, max_age=365 * 86400)
    return response


__all__ = ["CSRF_FIELD", "login_url", "router"]
