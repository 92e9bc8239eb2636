"""``oms orders``: the operator's commands, through the HTTP API with an operator key.

    oms orders list [--status S] [--late] [--channel C] [--limit N] [--json]
    oms orders show ID [--json]          with its returns and refunds
    oms orders approve|reject|cancel ID --by NAME [--note TEXT | --reason TEXT] [--no-wait]
                                    [--json]

``OMS_API_URL`` (default ``http://127.0.0.1:8000``) and ``OMS_API_KEY`` (an operator or admin
key; under ``oms dev`` the admin key in ``.oms/secrets.json`` is used when it is unset).
Tables on a terminal, JSON with ``--json``. Exit 1 when the API refuses (the problem's
detail is printed), 2 when it cannot be reached.

An action says what was accepted and what follows, then waits up to ``WAIT_S`` seconds for
the outcome (the order reaching the status the action leads to, or, for an approve, leaving
``on_hold``) and says where the order got to; ``--no-wait`` answers at once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from oms.settings import Settings

# How long an action waits for its outcome, and how often it looks.
WAIT_S = 10.0
POLL_S = 0.5
TERMINAL = frozenset({"delivered", "cancelled", "failed"})


class CommandError(RuntimeError):
    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def _key(settings: Settings) -> str:
    key = os.environ.get("OMS_API_KEY") or settings.admin_api_key
    if not key:
        secrets = Path(settings.home) / "secrets.json"
        if secrets.exists():
            key = json.loads(secrets.read_text()).get("admin_api_key")
    if not key:
        raise CommandError("set OMS_API_KEY to an operator key", status=2)
    return str(key)


def _client(settings: Settings) -> httpx.Client:
    return httpx.Client(
        base_url=settings.api_base_url,
        headers={"Authorization": f"Bearer {_key(settings)}"},
        timeout=30,
    )


def _call(http: httpx.Client, method: str, path: str, **kw: Any) -> Any:
    try:
        response = http.request(method, path, **kw)
    except httpx.HTTPError as exc:
        raise CommandError(f"the API at {http.base_url} cannot be reached: {exc}", 2) from exc
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise CommandError(f"{response.status_code}: {detail}")
    return response.json()


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A plain aligned table, for a terminal."""
    cells = [[str(row.get(c) if row.get(c) is not None else "") for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def _summary(order: dict[str, Any]) -> dict[str, Any]:
    hold = order.get("hold") or {}
    return {
        "id": order["id"],
        "status": order["status"],
        "channel": order.get("channel"),
        "total": f"{order['totals']['total']} {order['currency']}",
        "hold": ",".join(hold.get("reasons", [])) if order["status"] == "on_hold" else "",
        "late": "late" if order.get("late") else "",
        "reason": order.get("failure_reason") or (order.get("cancellation") or {}).get("reason"),
        "created_at": order.get("created_at", "")[:19],
    }


def cmd_list(args: argparse.Namespace, http: httpx.Client) -> Any:
    params = {"limit": args.limit}
    for name in ("status", "channel"):
        if getattr(args, name):
            params[name] = getattr(args, name)
    if args.late:
        params["late"] = "true"
    page = _call(http, "GET", "/v1/orders", params=params)
    if args.json:
        return page
    rows = [_summary(o) for o in page["items"]]
    columns = ["id", "status", "channel", "total", "hold", "late", "reason", "created_at"]
    return table(rows, columns) if rows else "no orders"


def cmd_show(args: argparse.Namespace, http: httpx.Client) -> Any:
    order = _call(http, "GET", f"/v1/orders/{args.order_id}")
    events = _call(http, "GET", f"/v1/orders/{args.order_id}/events")["items"]
    returns = _call(http, "GET", f"/v1/orders/{args.order_id}/returns")["items"]
    refunds = _call(http, "GET", f"/v1/orders/{args.order_id}/refunds")["items"]
    if args.json:
        # ``returns`` in full (the order's view has each one's summary), and ``refunds``.
        return {**order, "events": events, "returns": returns, "refunds": refunds}
    head = _summary(order)
    lines = [f"{k:<11} {v}" for k, v in head.items() if v]
    if order.get("hold"):
        lines.append(f"{'hold':<11} {json.dumps(order['hold'])}")
    imported = order.get("imported")
    if imported:
        stage = f" stage {imported['stage']}" if imported.get("stage") else ""
        lines.append(
            f"{'imported':<11} from the previous system, its status "
            f"{imported.get('source_status')!r}{stage}, {str(imported.get('imported_at'))[:19]}"
        )
    for shipment in order.get("shipments", []):
        lines.append(
            f"{'shipment':<11} {shipment['id']} {shipment['status']} "
            f"{shipment.get('tracking_number') or ''}".rstrip()
        )
    from oms.returns_cli import REFUND_COLUMNS, RETURN_COLUMNS, refund_rows, return_rows

    if Decimal(order.get("refunded") or 0):
        lines.append(f"{'refunded':<11} {order['refunded']} {order['currency']}")
    after_sales = ""
    if returns:
        after_sales += "\nreturns\n" + table(return_rows(returns), RETURN_COLUMNS) + "\n"
    if refunds:
        after_sales += "\nrefunds\n" + table(refund_rows(refunds), REFUND_COLUMNS) + "\n"
    timeline = [
        {"seq": e["seq"], "at": e["created_at"][:19], "event": e["type"], "status": e["status"]}
        for e in events
    ]
    return (
        "\n".join(lines)
        + "\n"
        + after_sales
        + "\n"
        + table(timeline, ["seq", "at", "event", "status"])
    )


def cmd_act(args: argparse.Namespace, http: httpx.Client) -> Any:
    body: dict[str, Any] = {"by": args.by}
    if args.note:
        body["note"] = args.note
    if args.reason:
        body["reason"] = args.reason
    order = _call(http, "POST", f"/v1/orders/{args.order_id}/{args.action}", json=body)
    accepted = order.get("accepted_action")
    head = f"{args.action} {args.order_id}"
    if not accepted:  # no worker answered in time: sent as a signal (or an older API)
        if args.json:
            return order
        pending = order.get("pending_action")
        state = f"pending ({pending['detail']})" if pending else "accepted"
        return f"{head}: {state}; status {order['status']}"
    outcome = None if args.no_wait else wait_for_outcome(http, order, accepted)
    if args.json:
        return {**order, "wait": outcome} if outcome is not None else order
    lines = [f"{head}: accepted in status {accepted['at_status']}; next: {accepted['next']}"]
    if outcome is None:
        lines.append(
            f"not waiting: status {order['status']} for now "
            f"(follow: oms orders show {args.order_id})"
        )
    elif outcome["reached"]:
        lines.append(f"status now {outcome['status']}")
    else:
        lines.append(
            f"status still {outcome['status']} after {outcome['waited_s']:.0f} s; it moves "
            f"when the order's workflow gets to it (follow: oms orders show {args.order_id})"
        )
    return "\n".join(lines)


def wait_for_outcome(
    http: httpx.Client, order: dict[str, Any], accepted: dict[str, Any], wait_s: float = WAIT_S
) -> dict[str, Any]:
    """Poll the order until it reaches the action's outcome (any end counts too) or, for
    an action without one, leaves the status it was accepted in; at most ``wait_s``."""
    target, since = accepted.get("outcome"), accepted["at_status"]
    started = time.monotonic()
    status = order["status"]
    while True:
        if target is not None:
            reached = status == target or status in TERMINAL
        else:
            reached = status != since
        waited = time.monotonic() - started
        if reached or waited >= wait_s:
            return {"status": status, "reached": reached, "waited_s": round(waited, 1)}
        time.sleep(POLL_S)
        status = _call(http, "GET", f"/v1/orders/{order['id']}")["status"]


def add_parser(sub: Any) -> None:
    orders = sub.add_parser("orders", help="operators: list, show, approve, reject, cancel")
    actions = orders.add_subparsers(dest="orders_command", required=True)
    listing = actions.add_parser("list", help="orders, newest first")
    listing.add_argument("--status")
    listing.add_argument("--channel")
    listing.add_argument("--late", action="store_true", help="only orders flagged late")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(orders_fn=cmd_list)
    show = actions.add_parser("show", help="one order and its timeline")
    show.add_argument("order_id")
    show.set_defaults(orders_fn=cmd_show)
    for action in ("approve", "reject", "cancel"):
        act = actions.add_parser(action, help=f"{action} an order")
        act.add_argument("order_id")
        act.add_argument("--by", required=True, help="who decides (on the timeline)")
        act.add_argument("--note")
        act.add_argument("--reason")
        act.add_argument(
            "--no-wait",
            action="store_true",
            help=f"answer once accepted; do not wait (up to {WAIT_S:.0f} s) for the outcome",
        )
        act.set_defaults(orders_fn=cmd_act, action=action)
    for parser in actions.choices.values():
        parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        with _client(settings) as http:
            result = args.orders_fn(args, http)
    except CommandError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exc.status
    print(json.dumps(result, indent=2) if args.json else result)
    return 0
