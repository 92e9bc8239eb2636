"""The KPI report (docs/kpis.md) on orders whose answer is known by hand, then on real
orders driven through the API; the CSV, bad ranges, and who may read it."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.integration.helpers import order_body, stocked, submit, unique, wait_for_status
from tests.integration.test_partner_keys import _client, _partner

D1 = datetime(2020, 3, 1, tzinfo=UTC)
D2 = datetime(2020, 3, 2, tzinfo=UTC)
H = 3600
DAY = 86400


def at(day: datetime, seconds: float) -> datetime:
    return day + timedelta(seconds=seconds)


async def put_order(
    engine: Any,
    channel: str,
    name: str,
    received: datetime,
    status: str,
    events: list[tuple[str, float, dict[str, Any]]] = (),  # type: ignore[assignment]
    shipments: list[tuple[str, float]] = (),  # type: ignore[assignment]
    payments: list[tuple[str, str, float]] = (),  # type: ignore[assignment]
    view: dict[str, Any] | None = None,
) -> str:
    """An order row received at ``received``, with its timeline (type, seconds after
    receipt, data), shipments (status, seconds) and ledger (kind, status, seconds)."""
    oid = unique(name)[:20]
    # A view with what every reader of the shared database expects of one (the operator's
    # list shows its total and customer): these rows share the session's database.
    body = {
        "id": oid,
        "channel": channel,
        "status": status,
        "external_id": oid,
        "currency": "EUR",
        "customer": {"id": "c", "email": "kpi@example.com", "name": "KPI Customer"},
        "lines": [{"sku": "KPI-SKU", "quantity": 1, "unit_price": "10.00", "line_id": ""}],
        "totals": {"subtotal": "10.00", "total": "10.00"},
        "shipping_address": {
            "name": "KPI Customer",
            "line1": "Invalidenstrasse 1",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
        },
        "payment": {
            "method": "card",
            "status": "captured",
            "authorized": "10.00",
            "captured": "10.00",
        },
        "created_at": received.isoformat(),
        "updated_at": received.isoformat(),
        "shipments": [],
        **(view or {}),
    }
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO orders (id, channel, external_id, request_hash, customer_id, "
                "status, last_seq, view, created_at, updated_at) VALUES (:id, :ch, :id, 'h', "
                "'c', :status, :seq, CAST(:view AS jsonb), :at, :at)"
            ),
            {
                "id": oid,
                "ch": channel,
                "status": status,
                "seq": len(events),
                "view": json.dumps(body),
                "at": received,
            },
        )
        rows = [("order_received", 0.0, {}), *events]
        for seq, (kind, after, data) in enumerate(rows):
            await conn.execute(
                text(
                    "INSERT INTO order_events (order_id, seq, type, status, data, created_at) "
                    "VALUES (:id, :seq, :type, 'x', CAST(:data AS jsonb), :at)"
                ),
                {
                    "id": oid,
                    "seq": seq,
                    "type": kind,
                    "data": json.dumps(data),
                    "at": at(received, after),
                },
            )
        for n, (ship_status, after) in enumerate(shipments, start=1):
            await conn.execute(
                text(
                    "INSERT INTO shipments (id, order_id, warehouse_id, status, created_at, "
                    "updated_at) VALUES (:sid, :id, 'wh', :status, :at, :at)"
                ),
                {"sid": f"{oid}-{n}", "id": oid, "status": ship_status, "at": at(received, after)},
            )
        for n, (kind, pay_status, after) in enumerate(payments):
            await conn.execute(
                text(
                    "INSERT INTO payments (order_id, kind, status, amount, currency, "
                    "idempotency_key, created_at) VALUES (:id, :kind, :status, 10, 'EUR', "
                    ":key, :at)"
                ),
                {
                    "id": oid,
                    "kind": kind,
                    "status": pay_status,
                    "key": f"{oid}-{kind}-{n}",
                    "at": at(received, after),
                },
            )
    return oid


def dispatched(after: float, shipment: int = 1) -> tuple[str, float, dict[str, Any]]:
    return ("shipment_dispatched", after, {"shipment_id": f"s-{shipment}"})


def delivered(after: float) -> tuple[str, float, dict[str, Any]]:
    return ("order_delivered", after, {})


def late(stage: str = "dispatch") -> tuple[str, float, dict[str, Any]]:
    return ("order_late", 2 * H, {"stage": stage})


def held(*reasons: str) -> tuple[str, float, dict[str, Any]]:
    return ("order_held", 60, {"reasons": list(reasons)})


def cancelled(code: str, by: str, after: float = 600, reasons: tuple[str, ...] = ()) -> Any:
    hold = {"hold": {"reasons": list(reasons)}} if reasons else {}
    return ("order_cancelled", after, {"by": by}), {
        "cancellation": {"by": by, "reason": code, "code": code},
        **hold,
    }


async def constructed(engine: Any, channel: str) -> None:
    """The orders of the table in ``test_each_kpi_on_orders_known_by_hand``."""
    o = engine, channel
    await put_order(
        *o,
        "A",
        D1,
        "delivered",
        [dispatched(1800), late("delivery"), delivered(1800 + 2 * DAY)],
        [("delivered", 1800)],
        [("capture", "succeeded", 1900)],
    )
    await put_order(
        *o,
        "B",
        D1,
        "delivered",
        [late(), dispatched(3 * H), delivered(3 * H + DAY)],
        [("delivered", 3 * H)],
    )
    await put_order(
        *o,
        "C",
        D1,
        "delivered",
        [dispatched(H), dispatched(H + 60, 2), delivered(H + 3 * DAY)],
        [("delivered", H), ("delivered", H + 60)],
    )
    await put_order(
        *o,
        "D",
        D1,
        "delivered",
        [("address_changed", 600, {"by": "cs"}), dispatched(1200), delivered(1200 + DAY)],
        [("delivered", 1200)],
    )
    await put_order(
        *o,
        "E",
        D1,
        "delivered",
        [dispatched(2400), ("payment_capture_failed", 2500, {}), delivered(2400 + 2 * DAY)],
        [("delivered", 2400)],
        [("capture", "declined", 2500)],
    )
    event, view = cancelled("cancelled", "ops (key admin)")
    await put_order(*o, "F", D1, "cancelled", [event], view=view)
    event, view = cancelled("cancelled", f"channel:{channel}")
    await put_order(*o, "G", D1, "cancelled", [event], view=view)
    event, view = cancelled("rejected", "ops (key admin)", reasons=("high_value",))
    await put_order(*o, "H", D1, "cancelled", [held("high_value"), event], view=view)
    event, view = cancelled("rejected", "cs (key admin)", reasons=("refund_requested",))
    await put_order(*o, "I", D1, "cancelled", [held("refund_requested"), event], view=view)
    event, view = cancelled("hold_expired", "system", DAY, reasons=("high_value",))
    await put_order(*o, "J", D1, "cancelled", [held("high_value"), late(), event], view=view)
    await put_order(
        *o,
        "K",
        D1,
        "shipped",
        [held("manual"), ("hold_approved", 2 * H, {}), late(), dispatched(2.5 * H)],
        [("shipped", 2.5 * H)],
    )
    await put_order(*o, "L", D1, "backordered", [("order_backordered", 60, {})])
    await put_order(*o, "M", D1, "shadowed", [("order_shadowed", 1, {}), dispatched(60)])
    await put_order(
        *o,
        "N",
        D2,
        "delivered",
        [
            ("shipment_failed", 600, {}),
            ("shipment_rerouted", 601, {}),
            dispatched(1200, 2),
            delivered(1200 + DAY),
        ],
        [("failed", 500), ("delivered", 1200)],
    )
    await put_order(*o, "O", D2, "failed", [("order_failed", 2, {})])
    await put_order(*o, "P", D2, "on_hold", [held("high_value")])
    await put_order(engine, unique("other"), "Q", D1, "delivered", [dispatched(60), delivered(DAY)])


def ratio(figure: dict[str, Any]) -> tuple[int, int]:
    return figure["numerator"], figure["denominator"]


async def test_each_kpi_on_orders_known_by_hand(admin, system):
    """Sixteen orders of one channel over two UTC days (and one of another channel, left
    out by the channel filter). Seconds after receipt:

    | order | day | end | first dispatch | delivered after it | faults, holds, cancel |
    |---|---|---|---|---|---|
    | A | 1 | delivered | 1800 | 172800 | late for delivery only |
    | B | 1 | delivered | 10800 | 86400 | late for dispatch |
    | C | 1 | delivered | 3600 | 259200 | two parcels |
    | D | 1 | delivered | 1200 | 86400 | address changed |
    | E | 1 | delivered | 2400 | 172800 | capture declined |
    | F | 1 | cancelled | - | - | by an operator |
    | G | 1 | cancelled | - | - | by the platform |
    | H | 1 | cancelled | - | - | high_value hold rejected (rule) |
    | I | 1 | cancelled | - | - | refund_requested hold rejected (customer) |
    | J | 1 | cancelled | - | - | high_value hold expired, late for dispatch |
    | K | 1 | shipped | 9000 | - | manual hold approved, late for dispatch |
    | L | 1 | backordered | - | - | waiting |
    | M | 1 | shadowed | 60 | - | left out of everything |
    | N | 2 | delivered | 1200 | 86400 | refused, re-routed, two parcels |
    | O | 2 | failed | - | - | declined |
    | P | 2 | on_hold | - | - | high_value hold waiting |

    | figure | expected |
    |---|---|
    | received | 15 (day 1: 12, day 2: 3) |
    | processing p50 / p90 / p99 | 2400 / 9720 / 10692 over 7 dispatched |
    | within 7200 s | 5 / 7 |
    | accuracy | 3 / 6 (A, B, C of the delivered A-E, N); day 1: 3 / 5, day 2: 0 / 1 |
    | on-time dispatch | 5 / 8 (due: the 7 dispatched and J) |
    | fill rate | 5 / 7 (A, B, D, E, K of the shipped A-E, K, N) |
    | backorder rate | 1 / 15 |
    | cancellations | 5 / 15: 1 each by customer, operator, rule, expiry, platform |
    | holds | high_value: 1 rejected, 1 expired, 1 waiting; refund_requested: 1 rejected; manual: 1 approved |
    | delivery p50 / p90 | 129600 / 216000 over 6 |
    """  # noqa: E501
    channel = unique("kpi")
    await constructed(system.engine, channel)
    response = await admin.get(
        "/v1/reports/kpis", params={"from": "2020-03-01", "to": "2020-03-03", "channel": channel}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["from"], report["to"], report["channel"]) == (
        "2020-03-01",
        "2020-03-03",
        channel,
    )
    t = report["totals"]
    assert t["orders_received"]["value"] == 15
    assert [d["orders_received"]["value"] for d in report["days"]] == [12, 3]
    p = t["processing_time"]
    assert (p["orders"], p["p50_s"], p["p90_s"]) == (7, 2400, pytest.approx(9720))
    assert p["p99_s"] == pytest.approx(10692)
    assert p["target"] == {"value": 7200.0, "direction": "at_most"} and p["met"] is True
    assert ratio(t["processing_within_target"]) == (5, 7)
    assert ratio(t["order_accuracy"]) == (3, 6)
    assert t["order_accuracy"]["value"] == 0.5 and t["order_accuracy"]["met"] is False
    assert t["order_accuracy"]["target"] == {"value": 0.995, "direction": "at_least"}
    assert [ratio(d["order_accuracy"]) for d in report["days"]] == [(3, 5), (0, 1)]
    assert ratio(t["on_time_dispatch"]) == (5, 8)
    assert ratio(t["fill_rate"]) == (5, 7)
    assert ratio(t["backorder_rate"]) == (1, 15)
    assert ratio(t["cancellation_rate"]) == (5, 15)
    assert {w: r["numerator"] for w, r in t["cancellation_rate"]["by"].items()} == {
        "customer": 1,
        "operator": 1,
        "rule": 1,
        "expiry": 1,
        "platform": 1,
    }
    zero = {"approved": 0, "rejected": 0, "expired": 0, "cancelled": 0, "waiting": 0}
    assert t["holds"] == {
        "high_value": {**zero, "rejected": 1, "expired": 1, "waiting": 1, "total": 3},
        "manual": {**zero, "approved": 1, "total": 1},
        "refund_requested": {**zero, "rejected": 1, "total": 1},
    }
    d = t["delivery_time"]
    assert (d["orders"], d["p50_s"], d["p90_s"]) == (6, 129600, pytest.approx(216000))
    [only] = report["channels"]
    assert only["channel"] == channel and only["totals"] == t

    csv_response = await admin.get(
        "/v1/reports/kpis.csv",
        params={"from": "2020-03-01", "to": "2020-03-03", "channel": channel},
    )
    assert csv_response.status_code == 200
    assert csv_response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(csv_response.text)))
    assert [(r["day"], r["channel"]) for r in rows] == [
        ("2020-03-01", channel),
        ("2020-03-02", channel),
        ("total", channel),
        ("total", channel),
    ]
    total = rows[-1]
    assert (total["orders_received"], total["order_accuracy"], total["fill_rate"]) == (
        "15",
        "0.5",
        "0.7143",
    )
    assert (total["cancelled_by_customer"], total["holds"], total["holds_waiting"]) == (
        "1",
        "5",
        "1",
    )
    assert (total["processing_p50_s"], total["delivery_p90_s"]) == ("2400", "216000")


async def test_real_orders_through_the_api_are_counted(admin, system):
    _wh, sku = await stocked(admin, 10)
    channel = unique("kpishop")
    good = await submit(admin, order_body([(sku, 1, "10.00")], channel=channel))
    bad = await submit(
        admin, order_body([(sku, 1, "10.00")], channel=channel, token="tok_declined")
    )
    await wait_for_status(admin, good["id"], {"delivered"})
    await wait_for_status(admin, bad["id"], {"failed"})
    response = await admin.get("/v1/reports/kpis", params={"channel": channel})
    assert response.status_code == 200, response.text
    report = response.json()
    today = datetime.now(UTC).date()
    assert report["to"] == (today + timedelta(days=1)).isoformat()
    assert report["from"] == (today - timedelta(days=6)).isoformat()
    assert len(report["days"]) == 7 and report["timezone"] == "UTC"
    t = report["totals"]
    assert t["orders_received"]["value"] == 2
    assert report["days"][-1]["orders_received"]["value"] == 2
    assert t["processing_time"]["orders"] == 1 and t["processing_time"]["p50_s"] > 0
    assert ratio(t["order_accuracy"]) == (1, 1)
    assert ratio(t["fill_rate"]) == (1, 1)
    assert ratio(t["on_time_dispatch"]) == (1, 1)
    assert ratio(t["cancellation_rate"]) == (0, 2)
    assert t["delivery_time"]["orders"] == 1


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2020-03-02", "to": "2020-03-01"},
        {"from": "2020-03-01", "to": "2020-03-01"},
        {"from": "2020-01-01", "to": "2021-01-03"},
        {"from": "2020-02-30"},
        {"to": "yesterday"},
    ],
)
async def test_a_bad_range_is_a_422_problem(admin, params: dict[str, str]):
    for path in ("/v1/reports/kpis", "/v1/reports/kpis.csv"):
        response = await admin.get(path, params=params)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 422


async def test_operators_and_partners_with_reports_read_may_read_it(admin, system):
    reader = await _partner(admin, "reports:read")
    other = await _partner(admin, "orders:read")
    channel_key = (
        await admin.post("/v1/keys", json={"name": unique("shop"), "role": "channel"})
    ).json()
    operator = (
        await admin.post("/v1/keys", json={"name": unique("op"), "role": "operator"})
    ).json()
    expected = {
        reader["key"]: 200,
        operator["key"]: 200,
        other["key"]: 403,
        channel_key["key"]: 403,
    }
    for key, status in expected.items():
        async with _client(system, key) as http:
            for path in ("/v1/reports/kpis", "/v1/reports/kpis.csv"):
                assert (await http.get(path)).status_code == status, (path, status)
    async with httpx.AsyncClient(base_url=system.api_url) as anonymous:
        assert (await anonymous.get("/v1/reports/kpis")).status_code == 401
