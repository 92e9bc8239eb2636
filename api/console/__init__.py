"""The operator console (``/console``): server-rendered pages (Jinja2, with htmx for the
parts that refresh or post in place) for the people who work the orders, in English and
Chinese. ``install(app)`` adds it to the API's app: its routes, its static files (htmx,
pinned, and the style sheet) and the answers for a browser (sign-in redirects and error
pages instead of JSON problems).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.console import (
    pages_alerts,
    pages_approvals,
    pages_auth,
    pages_channels,
    pages_insights,
    pages_order,
    pages_orders,
    pages_reports,
    pages_returns,
    pages_stock,
    pages_today,
)
from api.console.web import HERE, ConsoleRefusal, SignInRequired, refusal_page

# Each page's module has a ``router``; a new page adds its module here.
PAGES = (
    pages_auth,
    pages_today,
    pages_orders,
    pages_order,
    pages_approvals,
    pages_returns,
    pages_alerts,
    pages_stock,
    pages_channels,
    pages_reports,
    pages_insights,
)
# The one console path allowed a body above OMS_MAX_BODY_BYTES: the stock CSV import
# (OMS_CONSOLE_IMPORT_MAX_BYTES).
IMPORT_PATH = pages_stock.IMPORT_PATH


def install(app: FastAPI) -> None:
    for module in PAGES:
        app.include_router(module.router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        target = pages_auth.login_url(exc.next_path)
        if request.headers.get("hx-request"):
            # htmx follows this header with a full page load, not a swap into the page.
            return Response(status_code=200, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(ConsoleRefusal)
    async def _refused(request: Request, exc: ConsoleRefusal) -> Response:
        return refusal_page(request, exc.status, exc.message)

    app.add_middleware(ProblemPages)


# What a JSON problem (a dependency down, a 404 of a route) says on a console page.
_MESSAGES = {
    503: "The system is busy or a part of it is down: try again in a few seconds.",
    404: "Not found",
    413: "The file is too large.",
}


CODEC = "/console/codec/"


class ProblemPages:
    """Under ``/console``, an RFC 9457 problem (JSON) made by the API's error handlers
    becomes an error page with the same status and headers (``Retry-After`` kept)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The Web UI's codec under /console answers JSON problems, as the Web UI expects.
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/console") or path.startswith(CODEC):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                if headers.get(b"content-type", b"").startswith(b"application/problem+json"):
                    start = message
                    return
                await send(message)
            elif start is not None:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await self._page(scope, receive, send, start, b"".join(chunks))
            else:
                await send(message)

        await self.app(scope, receive, capture)

    async def _page(
        self, scope: Scope, receive: Receive, send: Send, start: Message, body: bytes
    ) -> None:
        status = int(start["status"])
        try:
            problem: dict[str, Any] = json.loads(body)
        except ValueError:
            problem = {}
        message = _MESSAGES.get(status, str(problem.get("detail") or "Something went wrong"))
        keep = {
            k.decode().lower(): v.decode()
            for k, v in start.get("headers") or []
            if k.lower() in (b"retry-after",)
        }
        response = refusal_page(Request(scope, receive), status, message, headers=keep)
        await response(scope, receive, send)
