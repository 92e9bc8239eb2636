"""The signs of an empty parcel, read from a shipment's steps (oms.domain.empty_parcel)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from oms.domain.empty_parcel import NO_SCANS, TOO_FAST, Policy, Step, judge

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def steps(*timeline: tuple[str, float]) -> list[Step]:
    """Steps at so many hours after T0."""
    return [Step(status, T0 + timedelta(hours=h)) for status, h in timeline]


NORMAL = steps(
    ("dispatched", 0), ("shipped", 2), ("in_transit", 5), ("out_for_delivery", 30),
    ("delivered", 34),
)  # fmt: skip


def test_a_parcel_scanned_on_its_way_over_a_day_shows_nothing() -> None:
    verdict = judge(NORMAL, Policy())
    assert verdict.signs == ()
    assert verdict.delivered_in_s == 32 * 3600  # from the moment it left the warehouse


def test_a_delivery_with_no_scan_between_is_a_sign() -> None:
    verdict = judge(steps(("dispatched", 0), ("shipped", 1), ("delivered", 30)), Policy())
    assert verdict.signs == (NO_SCANS,)


def test_a_delivery_within_the_minimum_is_a_sign_and_both_signs_can_show() -> None:
    fast = steps(("dispatched", 0), ("shipped", 1), ("in_transit", 1.1), ("delivered", 1.5))
    assert judge(fast, Policy(min_delivery_s=3600)).signs == (TOO_FAST,)
    bare = steps(("shipped", 0), ("delivered", 0.2))
    assert judge(bare, Policy(min_delivery_s=3600)).signs == (NO_SCANS, TOO_FAST)


def test_each_sign_can_be_turned_off() -> None:
    bare = steps(("shipped", 0), ("delivered", 0.2))
    assert judge(bare, Policy(min_delivery_s=0, no_scans=False)).signs == ()
    assert not Policy(min_delivery_s=0, no_scans=False).active
    assert judge(bare, Policy(min_delivery_s=0)).signs == (NO_SCANS,)


def test_without_a_shipped_step_the_parcel_left_at_its_dispatch() -> None:
    verdict = judge(steps(("dispatched", 0), ("in_transit", 3), ("delivered", 4)), Policy())
    assert verdict.delivered_in_s == 4 * 3600 and verdict.signs == ()


def test_a_scan_recorded_after_the_delivery_does_not_count() -> None:
    late = steps(("shipped", 0), ("delivered", 20), ("in_transit", 21))
    assert judge(late, Policy()).signs == (NO_SCANS,)


def test_an_undelivered_shipment_shows_nothing_yet() -> None:
    verdict = judge(steps(("dispatched", 0), ("shipped", 0.01)), Policy(min_delivery_s=3600))
    assert verdict.signs == () and verdict.delivered_in_s is None


def test_an_imported_parcel_is_timed_from_when_the_previous_system_says_it_left() -> None:
    # The OMS recorded "shipped" when it took the order over, minutes before delivery.
    taken_over = steps(("shipped", 47), ("in_transit", 47.2), ("delivered", 47.5))
    policy = Policy(min_delivery_s=3600)
    assert judge(taken_over, policy).signs == (TOO_FAST,)
    assert judge(taken_over, policy, imported=True, left_at=T0).signs == ()
    unknown = judge(taken_over, policy, imported=True)
    assert unknown.signs == () and unknown.delivered_in_s is None
