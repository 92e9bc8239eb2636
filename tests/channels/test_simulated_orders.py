"""The adapters against the marketplace simulator's orders: whatever happened to an order
on a simulated platform, its rendering maps, adds up to the platform's own total, and
lands in the state the simulator says it is in."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from oms.channels.canonical import PlatformState
from oms.channels.intake import validate
from oms.channels.registry import adapter
from simulators.marketplace.generator import (
    MARKET_PLATFORMS,
    State,
    TransitionRefused,
    generate,
    transition,
)
from simulators.marketplace.shapes import render

NOW = datetime(2026, 11, 10, 16, 0, 5, tzinfo=UTC)
# The simulator's states in ours. A refund the platform granted closes the trade; Shopify
# and WooCommerce show a requested refund as refunded (they have no request step).
EXPECTED = {
    State.UNPAID: {PlatformState.UNPAID},
    State.PAID: {PlatformState.PAID},
    State.REFUND_REQUESTED: {PlatformState.REFUND_REQUESTED, PlatformState.CANCELLED},
    State.SHIPPED: {PlatformState.SHIPPED},
    State.CLOSED: {PlatformState.CANCELLED},
    State.CANCELLED: {PlatformState.CANCELLED},
}


@settings(max_examples=300, deadline=None)
@given(
    platform=st.sampled_from(sorted(MARKET_PLATFORMS)),
    seed=st.integers(0, 10**6),
    actions=st.lists(st.sampled_from(["pay", "refund", "ship", "close", "cancel"]), max_size=4),
)
def test_every_simulated_order_maps_adds_up_and_keeps_its_state(
    platform: str, seed: int, actions: list[str]
) -> None:
    rng = random.Random(seed)
    order = generate(platform, rng, NOW, paid=rng.random() < 0.5)
    when = NOW
    for action in actions:
        when += timedelta(seconds=1)
        try:
            transition(order, action, when)
        except TransitionRefused:
            pass

    if platform in ("jd", "pdd") and not order.ever_paid:
        return  # listed once paid, never before: nothing to map
    mapped = adapter(platform).to_order(render(order))

    assert mapped.external_id == str(order.id)
    if platform == "native":  # our own order JSON: lines only, no discounts or shipping
        total = sum((line.unit_price * line.quantity for line in order.lines), Decimal(0))
        assert Decimal(mapped.total) == total
    else:
        assert Decimal(mapped.total) == order.total
    assert validate(mapped) == []
    assert mapped.state in EXPECTED[order.state], (order.state, mapped.platform_status)
    assert {line.sku for line in mapped.lines} == {line.sku for line in order.lines}
