"""What goes back to a platform names its own lines."""

from __future__ import annotations

from oms.channels.canonical import ShippedLine
from oms.channels.shipped import shipped_lines
from oms.domain.messages import SkuQuantity

ORDERED = [
    {"sku": "A", "quantity": 2, "line_id": "L1"},
    {"sku": "B", "quantity": 1, "line_id": "L2"},
    {"sku": "A", "quantity": 3, "line_id": "L3"},
]


def test_units_go_to_the_platforms_lines_of_their_sku_in_turn():
    shipped = [SkuQuantity("A", 4), SkuQuantity("B", 1)]
    assert shipped_lines(shipped, ORDERED) == [
        ShippedLine("A", 2, "L1"),
        ShippedLine("A", 2, "L3"),
        ShippedLine("B", 1, "L2"),
    ]


def test_an_order_of_our_own_has_no_line_ids_and_extra_units_keep_none():
    assert shipped_lines([SkuQuantity("A", 1)], [{"sku": "A", "quantity": 1}]) == [
        ShippedLine("A", 1, "")
    ]
    assert shipped_lines([SkuQuantity("C", 2)], ORDERED) == [ShippedLine("C", 2, "")]
