from itertools import pairwise

import pytest

from oms.domain.status import (
    CANCELLABLE,
    TERMINAL,
    OrderStatus,
    ShipmentStatus,
    can_transition,
    shipment_advances,
    status_from_shipments,
)

S = OrderStatus
SH = ShipmentStatus

MAIN_PATH = [
    S.RECEIVED,
    S.PAYMENT_AUTHORIZED,
    S.RESERVED,
    S.DISPATCHED,
    S.PARTIALLY_SHIPPED,
    S.SHIPPED,
    S.DELIVERED,
]


@pytest.mark.parametrize(("current", "new"), list(pairwise(MAIN_PATH)))
def test_each_step_of_the_main_path_is_allowed(current: OrderStatus, new: OrderStatus) -> None:
    assert can_transition(current, new)


@pytest.mark.parametrize(("current", "new"), [(b, a) for a, b in pairwise(MAIN_PATH)])
def test_the_main_path_cannot_be_walked_backwards(current: OrderStatus, new: OrderStatus) -> None:
    assert not can_transition(current, new)


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (S.RECEIVED, S.RESERVED),
        (S.RECEIVED, S.SHIPPED),
        (S.PAYMENT_AUTHORIZED, S.DISPATCHED),
        (S.RESERVED, S.DELIVERED),
        (S.DISPATCHED, S.DELIVERED),
        (S.PARTIALLY_SHIPPED, S.DELIVERED),
    ],
)
def test_skipping_required_steps_is_not_allowed(current: OrderStatus, new: OrderStatus) -> None:
    assert not can_transition(current, new)


@pytest.mark.parametrize("status", [s for s in S if s not in TERMINAL])
def test_an_order_cannot_transition_to_its_own_status(status: OrderStatus) -> None:
    assert not can_transition(status, status)


def test_the_terminal_statuses_are_delivered_cancelled_failed_and_shadowed() -> None:
    assert {S.DELIVERED, S.CANCELLED, S.FAILED, S.SHADOWED} == TERMINAL


def test_only_an_order_not_yet_reserved_can_end_shadowed() -> None:
    assert can_transition(S.RECEIVED, S.SHADOWED)
    assert can_transition(S.PAYMENT_AUTHORIZED, S.SHADOWED)
    assert not can_transition(S.RESERVED, S.SHADOWED)
    assert not can_transition(S.SHADOWED, S.CANCELLED)


@pytest.mark.parametrize("current", sorted(TERMINAL))
@pytest.mark.parametrize("new", list(S))
def test_terminal_statuses_allow_no_transition_at_all(
    current: OrderStatus, new: OrderStatus
) -> None:
    assert not can_transition(current, new)


EXPECTED_CANCELLABLE = {S.RECEIVED, S.PAYMENT_AUTHORIZED, S.ON_HOLD, S.BACKORDERED, S.RESERVED}


def test_cancellable_statuses_are_those_before_any_shipment_is_handed_over() -> None:
    assert EXPECTED_CANCELLABLE == CANCELLABLE


@pytest.mark.parametrize("current", sorted(EXPECTED_CANCELLABLE))
def test_cancel_is_allowed_from_every_cancellable_status(current: OrderStatus) -> None:
    assert can_transition(current, S.CANCELLED)


@pytest.mark.parametrize(
    "current", [S.DISPATCHED, S.PARTIALLY_SHIPPED, S.SHIPPED, S.DELIVERED, S.FAILED]
)
def test_cancel_is_refused_once_an_order_is_dispatched_or_later(current: OrderStatus) -> None:
    assert not can_transition(current, S.CANCELLED)


@pytest.mark.parametrize("current", [S.SHIPPED, S.PARTIALLY_SHIPPED])
def test_an_order_with_shipped_goods_cannot_fail(current: OrderStatus) -> None:
    assert not can_transition(current, S.FAILED)


@pytest.mark.parametrize(
    "current", [S.RECEIVED, S.PAYMENT_AUTHORIZED, S.ON_HOLD, S.BACKORDERED, S.RESERVED]
)
def test_an_order_that_has_not_shipped_can_fail(current: OrderStatus) -> None:
    assert can_transition(current, S.FAILED)


SHIPMENT_ORDER = [
    SH.PENDING,
    SH.DISPATCHED,
    SH.SHIPPED,
    SH.IN_TRANSIT,
    SH.OUT_FOR_DELIVERY,
    SH.DELIVERED,
]


@pytest.mark.parametrize("i", range(len(SHIPMENT_ORDER)))
@pytest.mark.parametrize("j", range(len(SHIPMENT_ORDER)))
def test_a_shipment_event_advances_only_to_a_later_status(i: int, j: int) -> None:
    assert shipment_advances(SHIPMENT_ORDER[i], SHIPMENT_ORDER[j]) is (j > i)


def test_shipment_advances_accepts_plain_strings() -> None:
    assert shipment_advances("in_transit", "delivered")
    assert not shipment_advances("delivered", "in_transit")


def test_shipment_advances_rejects_an_unknown_status() -> None:
    with pytest.raises(ValueError):
        shipment_advances("pending", "lost")


@pytest.mark.parametrize(
    ("shipments", "expected"),
    [
        ([], None),
        (["pending"], None),
        (["pending", "pending"], None),
        (["dispatched", "pending"], None),
        (["dispatched"], S.DISPATCHED),
        (["dispatched", "dispatched"], S.DISPATCHED),
        (["shipped", "dispatched"], S.PARTIALLY_SHIPPED),
        (["delivered", "pending"], S.PARTIALLY_SHIPPED),
        (["in_transit", "pending", "dispatched"], S.PARTIALLY_SHIPPED),
        (["shipped", "in_transit", "delivered"], S.SHIPPED),
        (["out_for_delivery", "shipped"], S.SHIPPED),
        (["delivered", "delivered"], S.SHIPPED),
    ],
)
def test_order_status_is_derived_from_its_shipments(
    shipments: list[str], expected: OrderStatus | None
) -> None:
    assert status_from_shipments(shipments) is expected


def test_status_from_shipments_never_derives_delivered() -> None:
    assert status_from_shipments(["delivered"]) is S.SHIPPED


def test_status_from_shipments_accepts_a_one_shot_generator() -> None:
    statuses = (s for s in ["shipped", "pending"])
    assert status_from_shipments(statuses) is S.PARTIALLY_SHIPPED


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (S.PAYMENT_AUTHORIZED, S.BACKORDERED),  # short of stock, the channel backorders
        (S.BACKORDERED, S.RESERVED),  # stock arrived
        (S.RESERVED, S.BACKORDERED),  # refused, and no warehouse can take the lines
        (S.BACKORDERED, S.CANCELLED),  # cancelled, or expired
    ],
)
def test_the_backorder_steps_are_allowed(current: OrderStatus, new: OrderStatus) -> None:
    assert can_transition(current, new)


def test_an_imported_order_already_on_its_way_goes_from_paid_to_shipped() -> None:
    # Its payment recorded as taken, then its parcel followed: nothing reserved between.
    assert can_transition(S.PAYMENT_AUTHORIZED, S.SHIPPED)
    assert not can_transition(S.RECEIVED, S.SHIPPED)
