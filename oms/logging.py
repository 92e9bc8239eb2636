"""structlog set-up: JSON lines for production logs, one readable line per event at a
terminal.

``OMS_LOG_FORMAT``: ``json``, ``console``, or ``auto`` (the default): the console format when
stderr is a terminal, JSON otherwise. ``oms dev`` runs its processes with the console format
unless the setting says otherwise (``dev_log_format``).

The standard library's loggers (the Temporal SDK's, uvicorn's) go through the same
renderer, so a log file holds one format; lines from a workflow or an activity get the
``workflow_id`` and, for orders and shipments, the ``order_id`` they are about.

Two kinds of line are shortened, because they come by the hundred in normal work:

- an activity attempt that failed with a retryable ``ApplicationError`` (a partner that is
  down or answers 5xx: ``GatewayUnavailable``, ``WmsUnavailable``; Temporal retries it) is
  one line, ``activity_attempt_failed`` with ``activity``, ``attempt`` and ``error``, instead
  of the SDK's warning with a traceback. Any other failure keeps its traceback;
- on the console, the API's access line is ``POST /v1/orders -> 202 in 12.3 ms``.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from temporalio.exceptions import ApplicationError

_WORKFLOW_ORDER = re.compile(r"^(?:order|shipment)-([0-9a-f]{20})(?:-\d+)?$")
# What the Temporal SDK's activity worker logs, with a traceback, for each failed attempt.
_ACTIVITY_FAILED = "Completing activity as failed"


def _temporal_context(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Lift the workflow id the Temporal SDK puts on its log records into fields."""
    record = event.get("_record")
    details = getattr(record, "temporal_workflow", None) or getattr(
        record, "temporal_activity", None
    )
    if isinstance(details, dict) and details.get("workflow_id"):
        workflow_id = str(details["workflow_id"])
        event.setdefault("workflow_id", workflow_id)
        match = _WORKFLOW_ORDER.match(workflow_id)
        if match:
            event.setdefault("order_id", match.group(1))
    return event


def is_transient(exc: BaseException | None) -> bool:
    """A failure the activity raised on purpose for Temporal to retry: a retryable
    ``ApplicationError`` (activities wrap a partner's outage in one). Anything else (a bug,
    a database error) is unexpected, and keeps its traceback."""
    return isinstance(exc, ApplicationError) and not exc.non_retryable


def retried_activity_failure(
    _: Any, __: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """The SDK's "Completing activity as failed" warning, for a transient failure: one line
    naming the activity, the attempt and the error, without the traceback."""
    record = event.get("_record")
    exc_info = event.get("exc_info")
    if record is None or not str(record.msg).startswith(_ACTIVITY_FAILED):
        return event
    exc = exc_info[1] if isinstance(exc_info, tuple) else None
    if not is_transient(exc):
        return event
    assert isinstance(exc, ApplicationError)
    details = getattr(record, "temporal_activity", None) or {}
    event.pop("exc_info", None)
    event["event"] = "activity_attempt_failed"
    event["activity"] = details.get("activity_type")
    event["attempt"] = details.get("attempt")
    event["error"] = f"{exc.type or type(exc).__name__}: {exc.message}"[:300]
    return event


def short_request(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The API's access line, for a person: ``POST /v1/orders -> 202 in 12.3 ms``; and no
    ``request_id`` on the console (it ties a production log's lines together)."""
    event.pop("request_id", None)
    if event.get("event") == "request" and {"method", "path", "status"} <= event.keys():
        ms = event.pop("ms", None)
        took = f" in {ms} ms" if ms is not None else ""
        event["event"] = f"{event.pop('method')} {event.pop('path')} -> {event.pop('status')}{took}"
    return event


def uses_json(fmt: str, stream: TextIO) -> bool:
    return fmt == "json" or (fmt not in ("console", "json") and not stream.isatty())


def dev_log_format(configured: str) -> str:
    """The format ``oms dev`` gives its processes: the console's, unless one was chosen."""
    return configured if configured in ("json", "console") else "console"


def configure_logging(fmt: str = "auto", level: str = "info", stream: TextIO | None = None) -> None:
    out = stream or sys.stderr
    use_json = uses_json(fmt, out)
    renderer: structlog.typing.Processor
    own: list[structlog.typing.Processor] = []
    if use_json:
        renderer = structlog.processors.JSONRenderer()
        stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=out.isatty())
        stamp = structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False)
        own = [short_request]
    numeric_level = logging.getLevelName(level.upper())
    if not isinstance(numeric_level, int):
        numeric_level = logging.INFO
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        stamp,
    ]
    structlog.configure(
        processors=[
            *shared,
            *own,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                *shared,
                structlog.stdlib.add_logger_name,
                _temporal_context,
                retried_activity_failure,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
