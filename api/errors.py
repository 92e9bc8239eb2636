"""RFC 9457 problem details for every error the API returns."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from temporalio.client import RPCTimeoutOrCancelledError
from temporalio.service import RPCError

from api.schemas import price_errors
from oms.logging import get_logger

log = get_logger(__name__)
PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://oms.example/problems/"


class Problem(Exception):
    """Raise to answer with a problem document.

    Usage::

        raise Problem(409, "order is delivered; it can no longer be cancelled",
                      kind="invalid-state")
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.headers = headers
        self.status = status
        self.detail = detail
        self.kind = kind
        self.title = title or HTTPStatus(status).phrase
        self.extra = extra


def problem_response(
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    title: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + kind if kind else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or "body"


def _field_error(error: Any) -> dict[str, str]:
    if error.get("type") == "json_invalid":
        # Pydantic's location here is a character offset, not a field.
        reason = error.get("ctx", {}).get("error", "")
        return {"field": "body", "message": f"malformed JSON: {reason}".rstrip(": ")}
    return {"field": _field(error["loc"]), "message": error["msg"]}


def _sqlstate(exc: DBAPIError) -> str:
    for candidate in (exc.orig, getattr(exc.orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if code:
            return str(code)
    return ""


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, what it wraps (``orig``) and what caused it, without loops."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or any(current is s for s in seen) or len(seen) > 20:
            continue
        seen.append(current)
        todo += [current.__cause__, current.__context__, getattr(current, "orig", None)]
    return seen


def dependency_down(exc: BaseException) -> str | None:
    """Which dependency an unexpected error says is down: ``database``, ``temporal`` or
    None. A refused or dropped connection reaches us unwrapped (an OSError from asyncpg's
    connect) as often as wrapped in a DBAPIError, so the whole chain is looked at."""
    for err in _chain(exc):
        module = type(err).__module__
        if isinstance(err, RPCError | RPCTimeoutOrCancelledError):
            return "temporal"
        if isinstance(err, PoolTimeout) or module.startswith("asyncpg"):
            return "database"
        if isinstance(err, OSError | TimeoutError):
            return "database"
    return None


def unavailable(request: Request, dependency: str) -> JSONResponse:
    what = "the database" if dependency == "database" else "the workflow engine"
    return problem_response(
        503,
        f"{what} is not available; retry shortly",
        kind=f"{dependency}-unavailable" if dependency == "database" else "temporal-unavailable",
        instance=request.url.path,
        headers={"Retry-After": "5"},
        dependency=dependency,
    )


def allowed_methods(request: Request) -> str:
    """The methods of every route at the request's path, for the ``Allow`` header of a 405.

    Starlette names only the methods of the first route whose path matched, but a path
    often has several routes (``GET`` and ``POST /v1/warehouses``)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.detail,
            kind=exc.kind,
            title=exc.title,
            instance=request.url.path,
            headers=exc.headers,
            **exc.extra,
        )

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        # SQLSTATE class 22 is "data exception": a value the database cannot hold (a NUL
        # character, a number out of range). That is bad input, not a server fault.
        if _sqlstate(exc).startswith("22"):
            return problem_response(
                422,
                "a value is out of range or contains characters that cannot be stored",
                kind="validation-error",
                title="Request validation failed",
                instance=request.url.path,
                errors=[],
            )
        if _sqlstate(exc).startswith("23"):
            # An integrity constraint (say, a tracking number already on another
            # shipment): the request conflicts with what is stored.
            return problem_response(
                409,
                "the request conflicts with data already stored",
                kind="conflict",
                instance=request.url.path,
            )
        log.warning("database_error", path=request.url.path, error=type(exc.orig).__name__)
        return unavailable(request, "database")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_field_error(e) for e in exc.errors()]
        if request.method == "POST" and request.url.path == "/v1/orders":
            # Prices are checked against the currency after parsing; report them now too.
            raw = exc.body if isinstance(exc.body, dict) else {}
            seen = {e["field"] for e in errors}
            extra = price_errors(raw.get("currency"), raw.get("lines"))
            errors += [e for e in extra if e["field"] not in seen]
        fields = ", ".join(sorted({e["field"] for e in errors}))
        return problem_response(
            422,
            f"invalid request: {fields}",
            kind="validation-error",
            title="Request validation failed",
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            # FastAPI's answer to a JSON body that is not UTF-8 text: malformed JSON, as
            # any other (a 422 naming the body), not an undocumented 400.
            return problem_response(
                422,
                "invalid request: body",
                kind="validation-error",
                title="Request validation failed",
                instance=request.url.path,
                errors=[{"field": "body", "message": "malformed JSON: not UTF-8 text"}],
            )
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        return problem_response(
            exc.status_code,
            str(exc.detail),
            instance=request.url.path,
            headers=headers or None,
        )

    # Registered by type (not only under ``Exception``) so they are answered by the
    # exception middleware and never reach the server-error path.
    @app.exception_handler(OSError)
    @app.exception_handler(PoolTimeout)
    @app.exception_handler(RPCError)
    @app.exception_handler(RPCTimeoutOrCancelledError)
    async def _dependency(request: Request, exc: Exception) -> JSONResponse:
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        dependency = dependency_down(exc)
        if dependency is not None:
            log.warning(
                "dependency_unavailable",
                path=request.url.path,
                dependency=dependency,
                error=type(exc).__name__,
            )
            return unavailable(request, dependency)
        log.exception("unhandled_error", path=request.url.path)
        return problem_response(
            500, "unexpected error; it has been logged", instance=request.url.path
        )
