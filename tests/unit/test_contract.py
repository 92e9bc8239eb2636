"""The Temporal contract (oms/contract.py) is the one place Temporal names are written."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from temporalio import activity, workflow

from oms import contract
from workflows.legacy.order import LegacyOrderWorkflow
from workflows.legacy.order_lean import LeanOrderWorkflow
from workflows.order import OrderWorkflow

ROOT = Path(__file__).resolve().parents[2]


def _implementations() -> list[type]:
    from activities.alerts import AlertActivities
    from activities.bookkeeping import BookkeepingActivities
    from activities.carrier import CarrierActivities
    from activities.channel_feedback import ChannelFeedbackActivities
    from activities.channel_pull import ChannelPullActivities
    from activities.holds import HoldActivities
    from activities.insights import ForecastActivities
    from activities.inventory import InventoryActivities
    from activities.payments import PaymentActivities
    from activities.read_model import ReadModelActivities
    from activities.refunds import RefundActivities
    from activities.returns import ReturnActivities
    from activities.stock_sync import StockSyncActivities
    from activities.warehouse import WarehouseActivities
    from activities.webhook_delivery import WebhookDeliveryActivities

    return [
        AlertActivities,
        BookkeepingActivities,
        CarrierActivities,
        ChannelFeedbackActivities,
        ChannelPullActivities,
        HoldActivities,
        ForecastActivities,
        InventoryActivities,
        PaymentActivities,
        ReadModelActivities,
        RefundActivities,
        ReturnActivities,
        StockSyncActivities,
        WarehouseActivities,
        WebhookDeliveryActivities,
    ]


def _interface_methods(interface: type) -> list[str]:
    return [n for n, f in vars(interface).items() if getattr(f, "__isabstractmethod__", False)]


def test_every_activity_interface_has_an_implementation_registered_under_its_names():
    implemented = {
        i for cls in _implementations() for i in contract.ACTIVITY_INTERFACES if issubclass(cls, i)
    }
    assert implemented == set(contract.ACTIVITY_INTERFACES)
    for cls in _implementations():
        for interface in (i for i in contract.ACTIVITY_INTERFACES if issubclass(cls, i)):
            for name in _interface_methods(interface):
                method = getattr(cls, name)
                declared = activity._Definition.must_from_callable(getattr(interface, name))
                registered = activity._Definition.must_from_callable(method)
                assert registered.name == declared.name == name, (cls, name)
                assert not getattr(method, "__isabstractmethod__", False), (cls, name)


def test_the_worker_registers_every_contract_activity_once():
    from oms.settings import Settings
    from worker.main import build_activities

    names = [
        activity._Definition.must_from_callable(fn).name
        for fn in build_activities(None, Settings())  # type: ignore[arg-type]
    ]
    declared = [n for i in contract.ACTIVITY_INTERFACES for n in _interface_methods(i)]
    assert sorted(names) == sorted(declared)


def test_the_order_types_keep_their_wire_names():
    def name(cls: type) -> str | None:
        return workflow._Definition.must_from_class(cls).name

    assert name(OrderWorkflow) == contract.ORDER_WORKFLOW
    assert {name(LeanOrderWorkflow), name(LegacyOrderWorkflow)} == set(
        contract.LEGACY_ORDER_WORKFLOWS
    )


def test_the_current_order_takes_every_signal_update_and_query_of_the_contract():
    defn = workflow._Definition.must_from_class(OrderWorkflow)
    current_signals = {s.value for s in contract.Signal} - {"warehouse_event", "shipment_progress"}
    assert set(defn.signals) == current_signals
    assert set(defn.updates) == {u.value for u in contract.Update}
    assert set(defn.queries) == {q.value for q in contract.Query}


# Calls that take a Temporal name; outside oms/contract.py and the frozen legacy code they
# must be given a reference or a contract constant, never a string literal.
_NAMED_CALLS = {
    "execute_activity",
    "start_activity",
    "execute_local_activity",
    "start_local_activity",
    "execute_update",
    "start_update",
    "signal",
    "query",
    "start_workflow",
    "execute_workflow",
    "start_child_workflow",
    "execute_child_workflow",
}
_CORE_AND_SERVICES = ("oms", "workflows", "activities", "api", "worker")


def test_no_temporal_name_is_a_string_literal_at_a_call():
    offenders = []
    for package in _CORE_AND_SERVICES:
        for path in (ROOT / package).rglob("*.py"):
            if path.name == "contract.py" or "legacy" in path.parts:
                continue
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                first = node.args[0]
                if called in _NAMED_CALLS and isinstance(first, ast.Constant | ast.JoinedStr):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_activity_and_handler_decorators_take_names_only_from_the_contract():
    offenders = []
    for package in _CORE_AND_SERVICES:
        for path in (ROOT / package).rglob("*.py"):
            if "legacy" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.keyword) and node.arg == "name":
                    parent_ok = not isinstance(node.value, ast.Constant)
                    if not parent_ok and _in_temporal_decorator(path, node):
                        offenders.append(f"{path.relative_to(ROOT)}:{node.value.lineno}")
    assert offenders == []


def _in_temporal_decorator(path: Path, keyword: ast.keyword) -> bool:
    source = path.read_text().splitlines()[keyword.value.lineno - 1]
    return any(
        marker in source
        for marker in (
            "activity.defn(",
            "workflow.defn(",
            "workflow.signal(",
            "workflow.update(",
            "workflow.query(",
        )
    )


def test_the_contract_interfaces_are_abstract():
    for interface in contract.ACTIVITY_INTERFACES:
        assert inspect.isabstract(interface), interface
