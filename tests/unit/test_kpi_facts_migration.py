"""Migration 0015 writes its status and entry-type lists as literals (a migration never
imports code that may change after it): they must say what the code says."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from oms.db.migrate import SCRIPTS
from oms.domain.status import OrderStatus, ShipmentStatus
from oms.store import reports


def _migration() -> ModuleType:
    path = Path(SCRIPTS) / "versions" / "0015_kpi_facts.py"
    spec = importlib.util.spec_from_file_location("migration_0015", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _words(sql_list: str) -> list[str]:
    return [w.strip().strip("'") for w in sql_list.removeprefix("ARRAY[").rstrip("]").split(",")]


def test_the_shipped_statuses_are_those_from_shipped_on_but_failed():
    statuses = list(ShipmentStatus)
    shipped = statuses[
        statuses.index(ShipmentStatus.SHIPPED) : statuses.index(ShipmentStatus.FAILED)
    ]
    assert _words(_migration().SHIPPED_OR_BEYOND) == [str(s) for s in shipped]


def test_the_entry_types_and_statuses_are_the_codes():
    migration = _migration()
    assert _words(migration.FLAW_EVENTS) == [
        "shipment_failed",
        "shipment_rerouted",
        "reroute_failed",
        "payment_capture_failed",
        "address_changed",
    ]
    assert _words(migration.HOLD_ENDS) == ["hold_approved", "order_cancelled", "order_failed"]
    for status in (OrderStatus.CANCELLED, OrderStatus.SHADOWED):
        assert f"'{status}'" in migration._ORDER_TRIGGER + str(migration._TRIGGERS)
    assert set(reports.WHO) == {
        w
        for w in ("expiry", "customer", "operator", "rule", "platform")
        if f"'{w}'" in migration._CANCELLED_BY
    }
