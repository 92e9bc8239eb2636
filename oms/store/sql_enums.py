"""SQL fragments generated from the Python enums, so that no status list is written twice.

A status a statement tests (``status = 'on_hold'``) or a rank it compares (the order in
which a shipment's statuses are reached) comes from ``oms.domain.status``; a new member
there reaches the SQL without an edit here.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from oms.domain.status import TERMINAL, OrderStatus, ReservationStatus, ShipmentStatus


def literal(value: StrEnum | str) -> str:
    """A quoted SQL string literal (the enums' values are plain words; quotes doubled
    anyway)."""
    text = str(value).replace("'", "''")
    return f"'{text}'"


def array(values: Iterable[StrEnum | str]) -> str:
    """``ARRAY['a', 'b', ...]`` of the values, in the order given."""
    return "ARRAY[" + ", ".join(literal(v) for v in values) + "]"


# Shipment statuses in the order they are reached (the enum's order: see
# ``oms.domain.status.shipment_advances``), for ``array_position`` comparisons.
SHIPMENT_STATUS_RANK = array(ShipmentStatus)
# The order statuses in which an order has ended, sorted so the text is stable.
TERMINAL_STATUSES = array(sorted(TERMINAL))
ON_HOLD = literal(OrderStatus.ON_HOLD)
RECEIVED = literal(OrderStatus.RECEIVED)
SHIPMENT_PENDING = literal(ShipmentStatus.PENDING)
SHIPMENT_SHIPPED = literal(ShipmentStatus.SHIPPED)
HELD = literal(ReservationStatus.HELD)
