"""The OpenAPI entries of a route's answers: a success answer, and the errors it can give
(RFC 9457 problems)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def answer(model: type[BaseModel] | type[Any], description: str) -> dict[str, Any]:
    """The OpenAPI entry of a success answer."""
    return {"model": model, "description": description}


# The OpenAPI schema of a problem, inline in each error answer: FastAPI would file a
# response model under application/json, and problems are application/problem+json.
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details, as every error of this API is answered. Some "
    "problems add members: ``skus`` (unknown-sku), ``order_id`` (idempotency-conflict), "
    "``order_status`` (invalid-state), ``dependency`` (503).",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


PROBLEM_DESCRIPTIONS = {
    401: "No API key, or an unknown or revoked one (``unauthenticated``).",
    403: "The key's role may not do this (``forbidden``).",
    404: "Not found (``not-found``).",
    409: "The request conflicts with the current state.",
    413: "The body is larger than the limit (``body-too-large``).",
    422: "The request is invalid (``validation-error``); ``errors`` names each field.",
    429: "Too many requests: the key's rate limit (``rate-limited``) or, for a new order, "
    "the system's backlog (``backlog-full``); retry after ``Retry-After`` seconds.",
    503: "The database or Temporal is not available (``dependency`` names it); nothing was "
    "done, retry after ``Retry-After`` seconds.",
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before retrying",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}


def problems(*codes: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers of a route: each code it can answer with, as
    ``application/problem+json``. ``descriptions`` (``_409="..."``) say what a code means
    for this route."""
    entries: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {
            "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}},
            "description": descriptions.get(f"_{code}", PROBLEM_DESCRIPTIONS.get(code, "")),
        }
        if code in (429, 503):
            entry["headers"] = RETRY_AFTER
        entries[code] = entry
    return entries
