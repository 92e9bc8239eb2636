"""The side-by-side report: the export's new columns, every bad line reported, the OMS's
cancel and ship time derived from what it recorded, and the pilot's mode per country."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from oms.channels.cutover import mode_for, parse_countries
from oms.channels.shadow import BadExport, read_current
from oms.channels.shadow_report import OmsOrder, build, oms_decision, percentile

T0 = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)


def shadow_order(ext: str, **kw) -> OmsOrder:  # type: ignore[no-untyped-def]
    shadow = {
        "hold_reasons": kw.pop("reasons", []),
        "shipments": [{"warehouse_id": w} for w in kw.pop("warehouses", ["wh-1"])],
        "short": kw.pop("short", []),
    }
    defaults = {
        "mode": "shadow",
        "status": "shadowed",
        "created_at": T0,
        "shadow": shadow,
        "decided_at": T0,
        "backorder": False,
        "release_delay_s": 3600.0,
    }
    return OmsOrder(ext, f"id-{ext}", **{**defaults, **kw})


def test_the_export_reads_cancelled_split_and_the_earliest_shipment():
    current = read_current(
        "external_id,cancelled,split,warehouses,shipped_at\n"
        "A,no,,wh-1,2026-11-10T12:00:00+08:00\n"
        "A,no,,wh-2,2026-11-10T02:00:00Z\n"
        "B,yes,no,,\n"
    )
    a, b = current["A"], current["B"]
    assert a.shipped_at == datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
    assert a.split is True  # from two warehouses: the column said nothing
    assert b.cancelled is True and b.split is False and b.shipped_at is None


def test_every_bad_line_is_reported_with_its_number():
    with pytest.raises(BadExport) as caught:
        read_current(
            "external_id,held,shipped_at\n"
            "A,maybe,\n"
            ",no,\n"
            "C,no,2026-11-10T10:00:00\n"
            "D,no,2026-11-10T10:00:00Z\n"
            "E,no,not a date\n"
        )
    lines = [n for n, _ in caught.value.errors]
    assert lines == [2, 3, 4, 6]
    assert "offset" in dict(caught.value.errors)[4]
    assert str(caught.value).startswith("line 2: held must be yes or no")


def test_short_stock_is_a_cancel_only_where_the_order_would_not_wait():
    failing = shadow_order("A", short=[{"sku": "S", "quantity": 2}], backorder=False)
    waiting = shadow_order("B", short=[{"sku": "S", "quantity": 2}], backorder=True)
    unknown = shadow_order("C", short=[{"sku": "S", "quantity": 2}], backorder=None)
    assert oms_decision(failing, fail_on_shortage=False)[0].cancelled is True
    assert oms_decision(waiting, fail_on_shortage=True)[0].cancelled is False
    assert oms_decision(unknown, fail_on_shortage=True)[0].cancelled is True
    assert oms_decision(unknown, fail_on_shortage=False)[0].cancelled is False
    # A backordered order is not released now: no ship time.
    assert oms_decision(waiting, fail_on_shortage=True)[1] is None
    cancelled = OmsOrder("D", "id-D", "shadow", "cancelled", T0)
    assert oms_decision(cancelled, fail_on_shortage=True)[0].cancelled is True


def test_ship_time_is_the_current_shipment_against_the_omss_release_in_hours():
    orders = [shadow_order(f"O{i}") for i in range(10)]
    orders.append(shadow_order("HELD", reasons=["high_value"]))
    rows = "".join(
        f"O{i},no,wh-1,{(T0 + timedelta(hours=1 + i * 3)).isoformat()}\n" for i in range(10)
    )
    rows += f"HELD,yes,wh-1,{(T0 + timedelta(hours=90)).isoformat()}\n"
    current = read_current("external_id,held,warehouses,shipped_at\n" + rows)

    report = build(orders, current, tolerance_h=10)
    ship = report.summary()["ship_time"]
    # Released at T0 + 1 h (the decision plus an hour's window): differences 0, 3, ... 27 h.
    assert ship["compared"] == 10  # the held order is not compared on ship time
    assert ship["p50_h"] == pytest.approx(13.5)
    assert ship["p90_h"] == pytest.approx(24.3)
    assert ship["agreed"] == 4 and ship["min_h"] == 0 and ship["max_h"] == 27
    late = [d for d in report.differences if d.decision == "ship_time"]
    assert [d.external_id for d in late] == ["O4", "O5", "O6", "O7", "O8", "O9"]
    assert report.agreement["held"] == (11, 11)


def test_orders_on_one_side_only_and_orders_the_oms_handled_live():
    orders = [shadow_order("A"), shadow_order("B"), shadow_order("L", mode="live")]
    old = shadow_order("OLD", created_at=T0 - timedelta(days=3))
    current = read_current("external_id,held\nA,no\nL,no\nX,no\nOLD,no\n")
    report = build([*orders, old], current, since=T0 - timedelta(days=1))
    assert report.oms_orders == 2 and report.both == 1
    assert report.only_oms == ["B"] and report.only_current == ["X"]
    assert report.live_in_oms == ["L"]


def test_differences_carry_the_omss_evidence():
    order = shadow_order("A", reasons=["new_customer"], warehouses=["wh-1", "wh-2"])
    current = read_current("external_id,held,warehouses\nA,no,wh-1\n")
    report = build([order], current)
    by = {d.decision: d for d in report.differences}
    assert set(by) == {"held", "warehouses", "split"}
    assert by["held"].hold_reasons == ["new_customer"]
    assert (by["warehouses"].oms, by["warehouses"].current) == ("wh-1;wh-2", "wh-1")


def test_percentiles_interpolate():
    assert percentile([], 50) is None
    assert percentile([1.0], 90) == 1.0
    assert percentile([0.0, 10.0], 90) == pytest.approx(9.0)


def test_a_pilot_sends_its_countries_live_and_live_sends_everything():
    assert mode_for("shadow", ("AT", "DE"), "de") == "live"
    assert mode_for("shadow", ("AT", "DE"), "FR") == "shadow"
    assert mode_for("shadow", (), "DE") == "shadow"
    assert mode_for("live", (), "FR") == "live"
    assert parse_countries("de, AT,de") == ("AT", "DE")
    assert parse_countries("") == ()
    with pytest.raises(ValueError, match="XX"):
        parse_countries("DE,XX")
