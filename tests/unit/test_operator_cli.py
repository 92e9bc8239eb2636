"""``oms orders approve|reject|cancel``: what the command says about an accepted action, and
how it waits for the outcome, against a stand-in API."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from oms import operator_cli
from oms.operator_cli import cmd_act, wait_for_outcome

ORDER_ID = "0123456789abcdef0123"


def _accepted(action: str, at_status: str, outcome: str | None) -> dict[str, Any]:
    return {
        "action": action,
        "by": "alice (key ops)",
        "at_status": at_status,
        "outcome": outcome,
        "next": f"what follows a {action}",
    }


def _api(answer: dict[str, Any], statuses: list[str]) -> tuple[httpx.Client, list[str]]:
    """The 202 ``answer`` to the action, then each GET of the order answers the next of
    ``statuses`` (the last one from then on)."""
    seen: list[str] = []
    later: Iterator[str] = iter(statuses)
    last = {"status": answer["status"]}

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.method == "POST":
            return httpx.Response(202, json=answer)
        last["status"] = next(later, last["status"])
        return httpx.Response(200, json={"id": ORDER_ID, "status": last["status"]})

    client = httpx.Client(base_url="http://api", transport=httpx.MockTransport(handle))
    return client, seen


def _args(action: str, **flags: Any) -> argparse.Namespace:
    base = {
        "action": action,
        "order_id": ORDER_ID,
        "by": "alice",
        "note": None,
        "reason": None,
        "no_wait": False,
        "json": False,
    }
    return argparse.Namespace(**{**base, **flags})


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(operator_cli, "POLL_S", 0.01)


def test_a_cancel_says_what_follows_and_waits_until_the_order_is_cancelled():
    answer = {
        "id": ORDER_ID,
        "status": "reserved",
        "accepted_action": _accepted("cancel", "reserved", "cancelled"),
    }
    http, seen = _api(answer, ["reserved", "reserved", "cancelled"])
    out = cmd_act(_args("cancel"), http)
    assert out.splitlines() == [
        f"cancel {ORDER_ID}: accepted in status reserved; next: what follows a cancel",
        "status now cancelled",
    ]
    assert seen.count(f"GET /v1/orders/{ORDER_ID}") == 3


def test_no_wait_answers_at_once_with_the_status_as_it_was():
    answer = {
        "id": ORDER_ID,
        "status": "reserved",
        "accepted_action": _accepted("cancel", "reserved", "cancelled"),
    }
    http, seen = _api(answer, ["cancelled"])
    out = cmd_act(_args("cancel", no_wait=True), http)
    assert "next: what follows a cancel" in out
    assert f"not waiting: status reserved for now (follow: oms orders show {ORDER_ID})" in out
    assert seen == [f"POST /v1/orders/{ORDER_ID}/cancel"]


def test_an_approve_waits_until_the_order_leaves_the_status_it_was_accepted_in():
    answer = {
        "id": ORDER_ID,
        "status": "on_hold",
        "accepted_action": _accepted("approve", "on_hold", None),
    }
    http, _ = _api(answer, ["on_hold", "payment_authorized", "reserved"])
    out = cmd_act(_args("approve"), http)
    assert out.splitlines()[-1] == "status now payment_authorized"


def test_an_order_that_ends_otherwise_ends_the_wait_too():
    accepted = _accepted("reject", "on_hold", "cancelled")
    http, _ = _api({"id": ORDER_ID, "status": "on_hold"}, ["failed"])
    outcome = wait_for_outcome(http, {"id": ORDER_ID, "status": "on_hold"}, accepted, 5)
    assert outcome["status"] == "failed" and outcome["reached"]


def test_the_wait_is_bounded_and_says_so():
    answer = {
        "id": ORDER_ID,
        "status": "reserved",
        "accepted_action": _accepted("cancel", "reserved", "cancelled"),
    }
    http, _ = _api(answer, ["reserved"])
    outcome = wait_for_outcome(http, answer, answer["accepted_action"], wait_s=0.05)
    assert outcome["status"] == "reserved" and not outcome["reached"]


def test_json_carries_the_answer_and_what_the_wait_saw():
    answer = {
        "id": ORDER_ID,
        "status": "reserved",
        "accepted_action": _accepted("cancel", "reserved", "cancelled"),
    }
    http, _ = _api(answer, ["cancelled"])
    out = cmd_act(_args("cancel", json=True), http)
    assert out["accepted_action"]["outcome"] == "cancelled"
    assert out["wait"]["status"] == "cancelled" and out["wait"]["reached"]
    json.dumps(out)


def test_an_action_not_yet_taken_by_the_workflow_says_it_is_pending():
    answer = {
        "id": ORDER_ID,
        "status": "reserved",
        "pending_action": {"action": "cancel", "by": "alice", "detail": "not yet"},
    }
    http, seen = _api(answer, ["cancelled"])
    out = cmd_act(_args("cancel"), http)
    assert out == f"cancel {ORDER_ID}: pending (not yet); status reserved"
    assert len(seen) == 1
