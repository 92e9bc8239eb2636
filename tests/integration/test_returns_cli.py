"""`oms returns`, `oms refunds` and the returns and refunds in `oms orders show`, against
the running API as a shell user runs them."""

from __future__ import annotations

import json

from devtools.ports import free_port
from tests.conftest import api_of
from tests.integration.helpers import stocked
from tests.integration.test_operator_cli import _oms
from tests.integration.test_returns import (
    delivered_order,
    open_return,
    wait_for_refund,
    wait_for_return,
)


async def test_an_operator_decides_returns_gives_refunds_and_sees_them_on_the_order(system, admin):
    settings = system.settings.model_copy(
        update={"api_port": free_port(), "return_windows": "rma-cli:0"}
    )
    _wh, sku = await stocked(admin, 10)
    order = await delivered_order(admin, [(sku, 3, "10.00")], channel="rma-cli")
    async with api_of(system, settings) as manual:
        api = str(manual.base_url).rstrip("/")
        waiting = await open_return(manual, order["id"], [(sku, 1)])
        refused = await open_return(manual, order["id"], [(sku, 1)], resolution="none")

        queue = await _oms(api, "returns", "list", "--status", "requested", "--json")
        assert queue.returncode == 0, queue.stderr
        assert {waiting["id"], refused["id"]} <= {
            r["id"] for r in json.loads(queue.stdout)["items"]
        }
        listed = await _oms(api, "returns", "list", "--status", "requested")
        assert waiting["id"] in listed.stdout and f"{sku} x1" in listed.stdout

        approved = await _oms(
            api, "returns", "approve", waiting["id"], "--by", "ann", "--note", "ok"
        )
        assert approved.returncode == 0, approved.stderr
        assert approved.stdout.startswith(f"approve {waiting['id']}: accepted")
        rejected = await _oms(api, "returns", "reject", refused["id"], "--by", "ann")
        assert rejected.returncode == 0, rejected.stderr
        twice = await _oms(api, "returns", "reject", waiting["id"], "--by", "ann")
        assert twice.returncode == 1 and "409" in twice.stderr, twice

        closed = await wait_for_return(admin, waiting["id"], {"closed"})
        shown = await _oms(api, "returns", "show", waiting["id"])
        assert shown.returncode == 0, shown.stderr
        assert "decided_by" in shown.stdout and "ann" in shown.stdout
        assert closed["refund_id"] in shown.stdout

        given = await _oms(
            api, "refunds", "give", order["id"], "--amount", "2.50", "--reason", "goodwill",
            "--note", "late parcel", "--by", "ann",
        )  # fmt: skip
        assert given.returncode == 0, given.stderr
        refund_id = given.stdout.split()[1].rstrip(":")
        assert given.stdout.startswith(f"refund {order['id']}-f1: 2.50 EUR pending")
        by_lines = await _oms(
            api, "refunds", "give", order["id"], "--lines", f"{sku}:1", "--reason", "price",
            "--note", "promised", "--by", "ann", "--json",
        )  # fmt: skip
        assert by_lines.returncode == 0, by_lines.stderr
        assert json.loads(by_lines.stdout)["amount"] == "10.00"
        too_much = await _oms(
            api, "refunds", "give", order["id"], "--amount", "100.00", "--reason", "x",
            "--note", "y", "--by", "ann",
        )  # fmt: skip
        assert too_much.returncode == 1 and "409" in too_much.stderr, too_much
        both = await _oms(
            api, "refunds", "give", order["id"], "--reason", "x", "--note", "y", "--by", "ann",
        )  # fmt: skip
        assert both.returncode == 1 and "either --amount or --lines" in both.stderr
        bad = await _oms(
            api, "refunds", "give", order["id"], "--lines", f"{sku}:x", "--reason", "x",
            "--note", "y", "--by", "ann",
        )  # fmt: skip
        assert bad.returncode == 1 and "expected SKU:N" in bad.stderr

        await wait_for_refund(admin, order["id"], refund_id)
        show = await _oms(api, "orders", "show", order["id"])
        assert show.returncode == 0, show.stderr
        text = show.stdout
        assert "returns" in text and waiting["id"] in text and refused["id"] in text
        assert "rejected" in text and "closed" in text
        assert "refunds" in text and refund_id in text and "2.50 EUR" in text
        assert "refunded" in text
        as_json = json.loads((await _oms(api, "orders", "show", order["id"], "--json")).stdout)
        assert {r["id"] for r in as_json["returns"]} == {waiting["id"], refused["id"]}
        assert refund_id in {r["id"] for r in as_json["refunds"]}
