"""Side by side: the OMS's shadow decisions against the current system's export."""

from __future__ import annotations

import pytest

from oms.channels.shadow import BadExport, compare, oms_decision, read_current

EXPORT = """external_id,held,warehouses
T1,no,wh-sh
T2,yes,wh-sh
T3,no,wh-bj;wh-sh
T3,no,wh-gz
T9,no,wh-sh
"""


def test_the_export_merges_rows_of_one_order_and_reads_yes_no():
    current = read_current(EXPORT)
    assert current["T3"].warehouses == frozenset({"wh-bj", "wh-sh", "wh-gz"})
    assert current["T2"].held is True and current["T1"].held is False


def test_agreement_per_aspect_and_the_differences_are_listed():
    oms = [
        oms_decision("T1", {"hold_reasons": [], "shipments": [{"warehouse_id": "wh-sh"}]}),
        oms_decision("T2", {"hold_reasons": [], "shipments": [{"warehouse_id": "wh-sh"}]}),
        oms_decision(
            "T3",
            {
                "hold_reasons": [],
                "shipments": [{"warehouse_id": "wh-bj"}, {"warehouse_id": "wh-sh"}],
            },
        ),
        oms_decision("T4", {"hold_reasons": ["high_value"], "shipments": []}),
    ]
    result = compare(oms, read_current(EXPORT))

    assert result.orders == 3
    assert result.only_oms == ["T4"] and result.only_current == ["T9"]
    assert result.agreement["held"] == (2, 3)
    assert result.agreement["warehouses"] == (2, 3)
    assert result.agreement["split"] == (3, 3)
    assert ("T2", "held", "no", "yes") in result.differences
    assert ("T3", "warehouses", "wh-bj;wh-sh", "wh-bj;wh-gz;wh-sh") in result.differences
    assert result.rate("held") == pytest.approx(2 / 3)


def test_an_export_without_external_ids_or_with_odd_held_values_is_refused_by_line():
    with pytest.raises(BadExport, match="external_id"):
        read_current("id,held\n1,no\n")
    with pytest.raises(BadExport, match="line 3"):
        read_current("external_id,held\nA,no\nB,maybe\n")


def test_columns_the_export_lacks_are_not_compared():
    current = read_current("external_id\nA\n")
    result = compare([oms_decision("A", {"hold_reasons": ["x"], "shipments": []})], current)
    assert result.orders == 1 and result.agreement == {}


def test_an_export_that_is_not_csv_is_refused_not_a_crash():
    with pytest.raises(BadExport, match="field larger"):
        read_current("external_id\n" + "x" * 200_000 + "\n")
    assert read_current("external_id,held\rA,no\r") == read_current("external_id,held\nA,no\n")
