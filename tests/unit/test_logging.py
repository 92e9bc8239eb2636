"""The log's two formats: JSON for production logs, one readable line per event on the
console; a retried partner failure is one line in either, an unexpected one keeps its
traceback."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from oms.logging import configure_logging, dev_log_format, get_logger, uses_json

ORDER_ID = "0123456789abcdef0123"
DETAILS = {
    "activity_id": "3",
    "activity_type": "authorize_payment",
    "attempt": 2,
    "namespace": "default",
    "task_queue": "oms-orders",
    "workflow_id": f"order-{ORDER_ID}",
    "workflow_run_id": "r",
    "workflow_type": "order.batched",
}


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    config = structlog.get_config()
    yield
    root.handlers = handlers
    root.setLevel(level)
    structlog.configure(**config)


def _failed_attempt(error: BaseException) -> None:
    """What the Temporal SDK's activity worker logs when an attempt raises ``error``."""
    try:
        raise error
    except BaseException:
        activity.logger.logger.warning(
            f"Completing activity as failed ({DETAILS})",
            exc_info=True,
            extra={"temporal_activity": DETAILS, "__temporal_error_identifier": "x"},
        )


def _lines(out: io.StringIO) -> list[str]:
    return out.getvalue().splitlines()


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_a_retried_partner_failure_is_one_line_without_a_traceback(fmt):
    out = io.StringIO()
    configure_logging(fmt, "info", stream=out)
    _failed_attempt(ApplicationError("gateway answered 503", type="GatewayUnavailable"))
    (line,) = _lines(out)
    assert "Traceback" not in line
    if fmt == "json":
        event = json.loads(line)
        assert event["event"] == "activity_attempt_failed"
        assert event["activity"] == "authorize_payment"
        assert event["attempt"] == 2
        assert event["error"] == "GatewayUnavailable: gateway answered 503"
        assert event["order_id"] == ORDER_ID
        assert event["level"] == "warning"
        assert "exception" not in event
    else:
        assert "activity_attempt_failed" in line
        assert "activity=authorize_payment" in line and "attempt=2" in line
        assert "GatewayUnavailable: gateway answered 503" in line


@pytest.mark.parametrize(
    "error",
    [
        KeyError("a bug"),
        ApplicationError("unknown bookkeeping step 'x'", non_retryable=True),
    ],
)
def test_an_unexpected_failure_keeps_its_traceback(error):
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    _failed_attempt(error)
    (line,) = _lines(out)
    event = json.loads(line)
    assert event["event"].startswith("Completing activity as failed")
    assert "Traceback" in event["exception"]


def test_other_warnings_of_the_sdk_pass_unchanged():
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    try:
        raise ApplicationError("down", type="GatewayUnavailable")
    except ApplicationError:
        logging.getLogger("temporalio.worker").warning("Something else", exc_info=True)
    event = json.loads(_lines(out)[0])
    assert event["event"] == "Something else" and "Traceback" in event["exception"]


def test_the_console_access_line_is_short():
    out = io.StringIO()
    configure_logging("console", "info", stream=out)
    get_logger("api.request").info(
        "request", method="POST", path="/v1/orders", status=202, ms=12.3, request_id="f" * 16
    )
    (line,) = _lines(out)
    assert "POST /v1/orders -> 202 in 12.3 ms" in line
    assert "request_id" not in line and "{" not in line
    assert len(line) < 80


def test_json_keeps_the_access_line_whole():
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    get_logger("api.request").info(
        "request", method="POST", path="/v1/orders", status=202, ms=12.3, request_id="f" * 16
    )
    event = json.loads(_lines(out)[0])
    assert event["event"] == "request" and event["request_id"] == "f" * 16
    assert event["timestamp"].endswith("Z")


def test_auto_is_the_console_on_a_terminal_and_json_elsewhere():
    assert not uses_json("auto", Terminal())
    assert uses_json("auto", io.StringIO())
    assert uses_json("json", Terminal())
    assert not uses_json("console", io.StringIO())
    out = Terminal()
    configure_logging("auto", "info", stream=out)
    get_logger("x").info("order_started", order_id=ORDER_ID)
    assert not _lines(out)[0].startswith("{")


def test_oms_dev_runs_its_processes_with_the_console_format_unless_told_otherwise():
    assert dev_log_format("auto") == "console"
    assert dev_log_format("json") == "json"
    assert dev_log_format("console") == "console"
