"""The status lists in SQL come from the Python enums, in the enums' order."""

from __future__ import annotations

import re

from oms.domain.status import TERMINAL, ShipmentStatus, shipment_advances
from oms.store import sql_enums


def _values(array: str) -> list[str]:
    return re.findall(r"'([^']*)'", array)


def test_the_shipment_rank_in_sql_is_the_enum_order():
    ranked = _values(sql_enums.SHIPMENT_STATUS_RANK)
    assert ranked == [s.value for s in ShipmentStatus]
    # The SQL's "moves forward" (a later array position) is shipment_advances' rule.
    for i, current in enumerate(ranked):
        for j, new in enumerate(ranked):
            assert (j > i) == shipment_advances(current, new)


def test_terminal_statuses_in_sql_are_the_enum_set():
    assert set(_values(sql_enums.TERMINAL_STATUSES)) == {s.value for s in TERMINAL}


def test_literals_are_quoted():
    assert sql_enums.literal("it's") == "'it''s'"
    assert sql_enums.ON_HOLD == "'on_hold'"
    assert sql_enums.HELD == "'held'"
