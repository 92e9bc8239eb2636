"""What every console page shares: the templates, the signed-in user, CSRF, rendering.

A page handler takes ``user: UserDep`` (signed in, or the browser is sent to the sign-in
page) and, for a form post, ``user: FormUserDep`` (also checks the form's CSRF token
against the session's). It answers with ``render(request, user, "page.html", **context)``.
htmx asks for parts of pages (``HX-Request``): the handler renders the part's template.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.ext.asyncio import AsyncEngine

from api.console import i18n
from api.console.sla import duration
from api.deps import Principal
from oms import users
from oms.store import users as user_store

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "oms_session"
LOGIN_CSRF_COOKIE = "oms_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
# The version of htmx kept in static/ (pinned, never from a CDN).
HTMX = "htmx-2.0.11.min.js"

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class ConsoleUser:
    name: str
    role: str
    csrf: str
    token_hash: str

    @property
    def sees_personal_data(self) -> bool:
        return self.role in users.SEES_PERSONAL_DATA

    @property
    def acts(self) -> bool:
        return self.role in users.ACTS

    @property
    def principal(self) -> Principal:
        """The caller the API's own functions see: actions are recorded under the
        person's name."""
        return Principal(self.name, "admin" if self.role == "admin" else "operator")


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class ConsoleRefusal(Exception):
    """A console request refused with a page (403 for CSRF or role)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message


def _engine(request: Request) -> AsyncEngine:
    return request.app.state.engine  # type: ignore[no-any-return]


def _next_of(request: Request) -> str:
    path = request.url.path
    if request.headers.get("hx-request"):
        # A part of a page asked for the sign-in: come back to the page, not the part.
        current = request.headers.get("hx-current-url", "")
        path = urlsplit(current).path or "/console/today"
        return path if path.startswith("/console") else "/console/today"
    if request.url.query:
        path += "?" + request.url.query
    return path


async def current_user(request: Request) -> ConsoleUser:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInRequired(_next_of(request))
    settings = request.app.state.settings
    hashed = users.token_hash(token)
    engine = _engine(request)
    row = await user_store.live_session(engine, hashed, settings.console_session_idle_s)
    if row is None:
        raise SignInRequired(_next_of(request))
    if user_store.session_is_stale(row.last_seen_at, datetime.now(UTC)):
        await user_store.touch_session(engine, hashed)
    user = ConsoleUser(row.name, row.role, row.csrf_token, hashed)
    request.state.console_user = user
    return user


async def _form_user(
    request: Request, user: Annotated[ConsoleUser, Depends(current_user)]
) -> ConsoleUser:
    await check_csrf(request, user.csrf)
    return user


async def check_csrf(request: Request, expected: str) -> None:
    """A form post must carry the session's token (the form's hidden field, or the header
    htmx sends); a browser also says where the post came from, and it must be here."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise ConsoleRefusal(
            403, "The form has expired or came from another page: reload the page and try again."
        )
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise ConsoleRefusal(
            403, "The form has expired or came from another page: reload the page and try again."
        )


async def _acting_user(user: Annotated[ConsoleUser, Depends(_form_user)]) -> ConsoleUser:
    if not user.acts:
        raise ConsoleRefusal(403, "You may not do this with your role.")
    return user


UserDep = Annotated[ConsoleUser, Depends(current_user)]
# A form post: signed in, with the session's CSRF token.
FormUserDep = Annotated[ConsoleUser, Depends(_form_user)]
# A form post that changes an order, a hold or an alert: also a role that acts.
ActorDep = Annotated[ConsoleUser, Depends(_acting_user)]


# Filters -------------------------------------------------------------------------------


def _parse(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def when(value: Any) -> str:
    """A moment as ``2026-12-03 14:05`` (UTC)."""
    moment = _parse(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else ""


def age(value: Any, now: datetime | None = None) -> str:
    """How long ago: ``45 s``, ``12 min``, ``3 h 10 min``, ``4 d 2 h``."""
    moment = _parse(value)
    if moment is None:
        return ""
    return duration((now or datetime.now(UTC)) - moment)


def span(seconds: Any) -> str:
    """A duration in the unit that reads best: ``42 s``, ``12.5 min``, ``3.25 h``."""
    if seconds is None or seconds == "":
        return "\u2013"  # an en dash: no figure
    value = float(seconds)
    if value < 60:
        return f"{value:.0f} s"
    if value < 3600:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.2f} h"


def money(value: Any, currency: str | None = None) -> str:
    if value is None or value == "":
        return ""
    amount = Decimal(str(value))
    text = f"{amount:,.2f}" if amount == amount.quantize(Decimal("0.01")) else f"{amount:,}"
    return f"{text} {currency}" if currency else text


templates.filters.update(
    when=when, age=age, money=money, span=span, urlquote=lambda v: quote(str(v), safe="")
)


# Rendering -----------------------------------------------------------------------------

_SECURITY_HEADERS = {
    # Scripts only from the console's own files (htmx): no inline script runs.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' "
    "'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    # Pages may carry personal data: never cached by the browser or a proxy.
    "Cache-Control": "no-store",
}


def render(
    request: Request,
    user: ConsoleUser | None,
    template: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    language = i18n.choose(request)
    html = templates.get_template(template).render(
        request=request,
        user=user,
        lang=language,
        languages=i18n.LANGUAGES,
        _=i18n.translator(language),
        csrf=user.csrf if user else "",
        csrf_field=CSRF_FIELD,
        htmx=HTMX,
        path=request.url.path,
        web_ui=request.app.state.settings.web_ui_url,
        **context,
    )
    return HTMLResponse(html, status_code, headers={**_SECURITY_HEADERS, **(headers or {})})


def translate(request: Request, text: str) -> str:
    return i18n.translator(i18n.choose(request))(text)


def flash(
    request: Request,
    message: str,
    status_code: int = 200,
    kind: str = "error",
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A message for the page's flash area (``#flash``), whatever part the request
    targeted: the answer of an htmx post that was refused or failed."""
    html = templates.get_template("_flash.html").render(
        kind=kind, message=translate(request, message)
    )
    return HTMLResponse(
        html,
        status_code,
        headers={
            **_SECURITY_HEADERS,
            "HX-Retarget": "#flash",
            "HX-Reswap": "innerHTML",
            **(headers or {}),
        },
    )


def refusal_page(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    if request.headers.get("hx-request"):
        return flash(request, message, status, headers=headers)
    user = getattr(request.state, "console_user", None)
    return render(
        request,
        user,
        "error.html",
        status_code=status,
        headers=headers,
        status=status,
        message=message,
    )


def set_cookie(
    response: Response, request: Request, name: str, value: str, max_age: int | None, **kw: Any
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/console",
        httponly=True,
        secure=request.app.state.settings.console_secure_cookie,
        samesite=kw.pop("samesite", "lax"),
        **kw,
    )
