"""``oms returns`` and ``oms refunds``: returns and refunds, through the HTTP API with an
operator key (as ``oms orders``; docs/returns.md).

    oms returns list [--status S] [--limit N] [--json]     requested: waiting for a decision
    oms returns show RETURN [--json]
    oms returns approve|reject RETURN --by NAME [--note TEXT] [--json]
    oms refunds give ORDER (--amount A | --lines SKU:N[,SKU:N...]) --reason TEXT --note TEXT
                     --by NAME [--json]

Exit 1 when the API refuses (the problem's detail is printed), 2 when it cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import httpx

from oms.operator_cli import CommandError, _call, _client, table
from oms.settings import Settings

STATUSES = ("requested", "approved", "rejected", "received", "closed")


def return_lines(found: dict[str, Any]) -> str:
    """A return's lines, ``SKU x N`` and what the warehouse counted once it did."""
    parts = []
    for line in found.get("lines") or []:
        text = f"{line['sku']} x{line['quantity']}"
        if line.get("received_at"):
            text += (
                f" (restockable {line.get('restockable') or 0}, damaged "
                f"{line.get('damaged') or 0}, missing {line.get('missing') or 0})"
            )
        parts.append(text)
    return ", ".join(parts)


def return_rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": r["id"],
            "status": r["status"],
            "resolution": r["resolution"],
            "reason": r["reason"],
            "lines": return_lines(r),
            "refund": r.get("refund_id") or r.get("exchange_order_id") or "",
            "created_at": str(r.get("created_at", ""))[:19],
        }
        for r in items
    ]


RETURN_COLUMNS = ["id", "status", "resolution", "reason", "lines", "refund", "created_at"]


def refund_rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": r["id"],
            "status": r["status"],
            "amount": f"{r['amount']} {r['currency']}",
            "refunded": r["refunded"],
            "reason": r["reason"],
            "return": r.get("return_id") or "",
            "error": (r.get("error") or "")[:60],
        }
        for r in items
    ]


REFUND_COLUMNS = ["id", "status", "amount", "refunded", "reason", "return", "error"]


def cmd_list(args: argparse.Namespace, http: httpx.Client) -> Any:
    params: dict[str, Any] = {"limit": args.limit}
    if args.status:
        params["status"] = args.status
    page = _call(http, "GET", "/v1/returns", params=params)
    if args.json:
        return page
    rows = return_rows(page["items"])
    return table(rows, ["id", "status", *RETURN_COLUMNS[2:]]) if rows else "no returns"


def cmd_show(args: argparse.Namespace, http: httpx.Client) -> Any:
    found = _call(http, "GET", f"/v1/returns/{args.return_id}")
    if args.json:
        return found
    fields = (
        "id",
        "order_id",
        "status",
        "resolution",
        "reason",
        "note",
        "requested_by",
        "decided_by",
        "decision_note",
        "warehouse_id",
        "tracking_number",
        "refund_id",
        "exchange_order_id",
    )
    lines = [f"{k:<17} {found[k]}" for k in fields if found.get(k)]
    rows = [
        {
            "sku": x["sku"],
            "asked": x["quantity"],
            "restockable": x.get("restockable"),
            "damaged": x.get("damaged"),
            "missing": x.get("missing"),
            "received_at": str(x.get("received_at") or "")[:19],
        }
        for x in found["lines"]
    ]
    columns = ["sku", "asked", "restockable", "damaged", "missing", "received_at"]
    return "\n".join(lines) + "\n\n" + table(rows, columns)


def cmd_decide(args: argparse.Namespace, http: httpx.Client) -> Any:
    body: dict[str, Any] = {"by": args.by}
    if args.note:
        body["note"] = args.note
    path = f"/v1/returns/{args.return_id}/{args.decision}"
    found = _call(http, "POST", path, json=body)
    if args.json:
        return found
    return f"{args.decision} {args.return_id}: accepted; status {found['status']} for now"


def parse_lines(text: str) -> list[dict[str, Any]]:
    """``SKU:N,SKU:N`` -> the API's lines; CommandError for anything else."""
    lines = []
    for item in (i.strip() for i in text.split(",") if i.strip()):
        sku, sep, quantity = item.rpartition(":")
        if not sep or not sku or not quantity.isdigit() or int(quantity) <= 0:
            raise CommandError(f"--lines: expected SKU:N, got {item!r}")
        lines.append({"sku": sku, "quantity": int(quantity)})
    if not lines:
        raise CommandError("--lines: expected SKU:N[,SKU:N...]")
    return lines


def cmd_give(args: argparse.Namespace, http: httpx.Client) -> Any:
    if (args.amount is None) == (args.lines is None):
        raise CommandError("give either --amount or --lines")
    body: dict[str, Any] = {"reason": args.reason, "note": args.note, "by": args.by}
    if args.amount is not None:
        body["amount"] = args.amount
    else:
        body["lines"] = parse_lines(args.lines)
    refund = _call(http, "POST", f"/v1/orders/{args.order_id}/refunds", json=body)
    if args.json:
        return refund
    return (
        f"refund {refund['id']}: {refund['amount']} {refund['currency']} {refund['status']} "
        f"(follow: oms orders show {args.order_id})"
    )


def add_parsers(sub: Any) -> None:
    returns = sub.add_parser("returns", help="operators: list, show, approve, reject returns")
    actions = returns.add_subparsers(dest="returns_command", required=True)
    listing = actions.add_parser("list", help="returns, oldest first")
    listing.add_argument("--status", choices=STATUSES, help="requested: waiting for a decision")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(cli_fn=cmd_list)
    show = actions.add_parser("show", help="one return with its lines and their counts")
    show.add_argument("return_id")
    show.set_defaults(cli_fn=cmd_show)
    for decision in ("approve", "reject"):
        decide = actions.add_parser(decision, help=f"{decision} a return waiting for a decision")
        decide.add_argument("return_id")
        decide.add_argument("--by", required=True, help="who decides (on the timeline)")
        decide.add_argument("--note")
        decide.set_defaults(cli_fn=cmd_decide, decision=decision)
    refunds = sub.add_parser("refunds", help="operators: give a refund without a return")
    refund_actions = refunds.add_subparsers(dest="refunds_command", required=True)
    give = refund_actions.add_parser("give", help="money back for goodwill or a price change")
    give.add_argument("order_id")
    give.add_argument("--amount", help="in the order's currency, e.g. 5.00")
    give.add_argument("--lines", help="SKU:N[,SKU:N...]: their value is refunded")
    give.add_argument("--reason", required=True)
    give.add_argument("--note", required=True)
    give.add_argument("--by", required=True, help="who gives it (on the timeline)")
    give.set_defaults(cli_fn=cmd_give)
    for parser in (*actions.choices.values(), *refund_actions.choices.values()):
        parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        with _client(settings) as http:
            result = args.cli_fn(args, http)
    except CommandError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exc.status
    print(json.dumps(result, indent=2) if args.json else result)
    return 0
