"""The Temporal contract: every name that crosses the Temporal boundary, in one place.

Workflow types, signals, updates, queries, the activities' interfaces and the business
error types live here, so that a rename is one edit that mypy follows everywhere:

- workflows are started and messaged by reference where the caller may import them
  (``handle.execute_update(OrderWorkflow.request_cancel, ...)``), and by the constants
  below where it may not (the core starts orders without importing ``workflows``);
- activities are called by reference to the abstract methods below
  (``workflow.execute_activity_method(PaymentSteps.authorize_payment, ...)``); the
  implementations in ``activities/`` subclass these interfaces, so mypy checks that each
  implementation takes and returns what the workflows send and expect, and a test checks
  that each one registers under its interface's name.

The names are wire names: histories recorded by running orders carry them, so they never
change; a new shape gets a new name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import StrEnum

from temporalio import activity

from oms.domain.messages import (
    AlertRequest,
    Bookkeeping,
    CommitRequest,
    DispatchRequest,
    DispatchResult,
    FollowRequest,
    HoldCheck,
    HoldDecision,
    PaymentCommand,
    PaymentOutcome,
    RecordEvent,
    ReleaseRequest,
    ReserveRequest,
    ReserveResult,
    ShipmentRecord,
    ShipmentReport,
    StockChangeResult,
    StockEdit,
)
from oms.domain.pull import PullRequest, PullResult
from oms.domain.return_messages import (
    ReceiveRequest,
    ReceiveResult,
    RefundInput,
    RefundOutcome,
    ResolveRequest,
    ResolveResult,
    ReturnLabelRequest,
    ReturnRecord,
)
from oms.domain.stock_level import StockPull, StockPullResult
from oms.events_out.messages import DeliverDue, DeliverDueResult
from oms.insights.messages import ForecastRun, ForecastRunResult

# --- workflow types ---------------------------------------------------------------------

# The current order workflow (workflows/order.py). Every new order starts as this type;
# orders started as it before a deploy go on under the new code (docs/workflow-changes.md).
ORDER_WORKFLOW = "order.batched"
# Older order shapes, frozen under workflows/legacy/ until their orders have drained.
LEGACY_ORDER_WORKFLOWS = ("order.lean", "order")
LEGACY_SHIPMENT_WORKFLOW = "shipment"  # the child of the ``order`` type
ORDER_WITH_SHIPMENT_CHILDREN = "order"  # the one type whose shipments run as children
ORDER_WORKFLOWS = (ORDER_WORKFLOW, *LEGACY_ORDER_WORKFLOWS)
STOCK_SYNC_WORKFLOW = "wms_stock_sync"
# One pull of a pull channel's changed orders, started by its ``channel-pull-<name>``
# Schedule (oms/pull_schedules.py).
CHANNEL_PULL_WORKFLOW = "channel.pull"
# One per webhook endpoint, for as long as it is enabled (workflows/webhook_delivery.py).
WEBHOOK_ENDPOINT_WORKFLOW = "webhook.endpoint"
# The nightly demand forecast, started by the ``insights-forecast`` Schedule
# (workflows/forecast.py).
FORECAST_WORKFLOW = "insights.forecast"
# A return of delivered units, ``return-<return id>``, and a refund on its own,
# ``refund-<refund id>`` (workflows/returns.py, workflows/refund.py; docs/returns.md).
RETURN_WORKFLOW = "return"
REFUND_WORKFLOW = "refund"

# Patches still in the code, per order type: each marks a change of the workflow's
# commands, so that histories recorded before it replay on the old path. The current
# type has one, deprecated (the marker is still written; no branch depends on it).
LIVE_PATCHES: dict[str, tuple[str, ...]] = {
    # ``order-edits`` marks an order whose lines were edited (the edit's steps follow it).
    ORDER_WORKFLOW: ("void-unverified-authorization", "order-edits"),
    "order": (
        "void-unverified-authorization",
        "operator-holds",
        "capture-per-shipment",
        "backorders-and-rerouting",
    ),
    "order.lean": (),
}


class Signal(StrEnum):
    """Signals an order workflow takes (and the Web UI's signal dialog can send)."""

    CANCEL = "cancel"
    APPROVE = "approve"
    REJECT = "reject"
    STOCK_ARRIVED = "stock_arrived"  # from the worker's backorder waker
    SHIPMENT_EVENT = "shipment_event"  # a warehouse's or carrier's event (from the API)
    CARRIER_EVENT = "carrier_event"  # an operator's carrier event (Web UI, CLI)
    CHANNEL_EVENT = "channel_event"  # the order's sales platform: paid, closed, refund ...
    # Legacy: the ``shipment`` child's own signals and its progress report to its order.
    WAREHOUSE_EVENT = "warehouse_event"
    SHIPMENT_PROGRESS = "shipment_progress"


class Update(StrEnum):
    """Updates an order workflow takes: validated, so a refusal reaches the caller."""

    CANCEL = "request_cancel"
    APPROVE = "request_approve"
    REJECT = "request_reject"
    HOLD = "request_hold"
    ADDRESS_CHANGE = "request_address_change"
    EDIT = "request_edit"


class Query(StrEnum):
    STATUS = "status"  # the live order view


# --- business errors --------------------------------------------------------------------


class ErrorType(StrEnum):
    """Business failures: non-retryable ``ApplicationError`` types raised by activities
    and told apart by the workflows."""

    PAYMENT_DECLINED = "PaymentDeclined"
    PAYMENT_REJECTED = "PaymentRejected"
    OUT_OF_STOCK = "OutOfStock"
    DISPATCH_REJECTED = "DispatchRejected"
    ORDER_CLOSED = "OrderClosed"
    PLATFORM_REFUSED = "PlatformRefused"  # a sales platform said no (closed trade, bad data)
    CARRIER_REFUSED = "CarrierRefused"  # a carrier would not follow a tracking number
    # An edit of the order's lines refused (details: the reason code, then its facts).
    EDIT_REFUSED = "EditRefused"


NON_RETRYABLE = [e.value for e in ErrorType]


class PullError(StrEnum):
    """How a pull fails (``ApplicationError`` types of ``pull_channel``)."""

    PLATFORM_UNAVAILABLE = "PlatformUnavailable"  # retried, after the platform's Retry-After
    PLATFORM_REFUSED = "PlatformRefused"  # not retried: credentials or parameters to fix


# --- activities -------------------------------------------------------------------------
# Each method's name is its activity's name; implementations override it with a bare
# ``@activity.defn`` (which names the activity after the method).


class PaymentSteps(ABC):
    @activity.defn
    @abstractmethod
    async def authorize_payment(self, cmd: PaymentCommand) -> PaymentOutcome: ...

    @activity.defn
    @abstractmethod
    async def capture_payment(self, cmd: PaymentCommand) -> PaymentOutcome: ...

    @activity.defn
    @abstractmethod
    async def void_payment(self, cmd: PaymentCommand) -> PaymentOutcome: ...

    @activity.defn
    @abstractmethod
    async def record_platform_payment(self, cmd: PaymentCommand) -> PaymentOutcome:
        """A payment the sales platform took: into the ledger, with no gateway call."""

    @activity.defn
    @abstractmethod
    async def record_imported_payment(self, cmd: PaymentCommand) -> PaymentOutcome:
        """A payment the old system took for an imported order: into the ledger (kind
        ``imported``), with no gateway call."""

    @activity.defn
    @abstractmethod
    async def adjust_authorization(self, cmd: PaymentCommand) -> PaymentOutcome:
        """An edited order's authorization moved to ``cmd.amount`` (the new total): an
        incremental authorization up, a partial reversal down; key
        ``<id>-adjust-<part>``. ``PaymentDeclined`` when the card refuses the increase."""


class StockSteps(ABC):
    @activity.defn
    @abstractmethod
    async def reserve_stock(self, req: ReserveRequest) -> ReserveResult: ...

    @activity.defn
    @abstractmethod
    async def release_stock(self, req: ReleaseRequest) -> StockChangeResult: ...

    @activity.defn
    @abstractmethod
    async def commit_stock(self, req: CommitRequest) -> StockChangeResult: ...

    @activity.defn
    @abstractmethod
    async def plan_stock(self, req: ReserveRequest) -> ReserveResult:
        """Where the order's lines would be reserved, without reserving (shadow orders)."""

    @activity.defn
    @abstractmethod
    async def edit_stock(self, req: StockEdit) -> ReserveResult:
        """An edit: the order's held units released and its new lines reserved, in one
        transaction; ``OutOfStock`` (naming the SKUs) and nothing changed when they
        cannot all be reserved."""


class WarehouseSteps(ABC):
    @activity.defn
    @abstractmethod
    async def dispatch_shipment(self, req: DispatchRequest) -> DispatchResult: ...


class CarrierSteps(ABC):
    @activity.defn
    @abstractmethod
    async def follow_shipment(self, req: FollowRequest) -> None:
        """A parcel already on its way: its shipment row (shipped, with the tracking
        number), and the carrier asked to send its events for it."""


class HoldSteps(ABC):
    @activity.defn
    @abstractmethod
    async def check_holds(self, check: HoldCheck) -> HoldDecision: ...


class AlertSteps(ABC):
    @activity.defn
    @abstractmethod
    async def raise_alert(self, req: AlertRequest) -> int: ...


class RecordSteps(ABC):
    """The read model and timeline, one step at a time (the legacy order types)."""

    @activity.defn
    @abstractmethod
    async def record_order_event(self, event: RecordEvent) -> None: ...

    @activity.defn
    @abstractmethod
    async def record_shipment(self, record: ShipmentRecord) -> None: ...


# What one ``bookkeep`` call returns: the result of the step it carried, if any.
BookkeepResult = HoldDecision | ReserveResult | StockChangeResult | None


class BookkeepingSteps(ABC):
    """The current order's local activity: its pending records, and at most one step on
    the order's own facts (hold rules, reserve, commit, release) in the same call."""

    @activity.defn
    @abstractmethod
    async def bookkeep(self, work: Bookkeeping) -> BookkeepResult: ...


class ChannelSteps(ABC):
    @activity.defn
    @abstractmethod
    async def report_shipment(self, report: ShipmentReport) -> None:
        """Tell the order's sales platform a shipment left, with its tracking number."""


class StockSyncSteps(ABC):
    @activity.defn
    @abstractmethod
    async def pull_wms_stock(self, req: StockPull) -> StockPullResult: ...


class ChannelPullSteps(ABC):
    @activity.defn
    @abstractmethod
    async def pull_channel(self, req: PullRequest) -> PullResult: ...


class WebhookSteps(ABC):
    """Events out: one run delivers what is due to one endpoint for about a minute."""

    @activity.defn
    @abstractmethod
    async def deliver_due(self, req: DeliverDue) -> DeliverDueResult: ...


class ForecastSteps(ABC):
    @activity.defn
    @abstractmethod
    async def forecast_demand(self, req: ForecastRun) -> ForecastRunResult:
        """Forecast every SKU and warehouse-SKU pair for the run day, store the forecasts
        (replacing the same day's) and alert the stock-out risks (one open per pair)."""


class ReturnMessage(StrEnum):
    """What a return workflow takes: the operator's decision (updates, validated: a
    decided return refuses) and the warehouse's count of each returned SKU (a signal)."""

    APPROVE = "approve_return"
    REJECT = "reject_return"
    LINE_RECEIVED = "return_line_received"


class RefundSteps(ABC):
    @activity.defn
    @abstractmethod
    async def refund_payment(self, req: RefundInput) -> RefundOutcome:
        """Give the refund's amount back through the gateway, spread over the order's
        captures; a refusal is an outcome (``failed``), a gateway down is retried."""


class ReturnSteps(ABC):
    @activity.defn
    @abstractmethod
    async def record_return(self, record: ReturnRecord) -> None:
        """The return's row moves on, and the order's timeline gets the step."""

    @activity.defn
    @abstractmethod
    async def send_return_label(self, req: ReturnLabelRequest) -> str:
        """A return label from the carrier and the return announced to the receiving
        warehouse; the label's tracking number."""

    @activity.defn
    @abstractmethod
    async def receive_return(self, req: ReceiveRequest) -> ReceiveResult:
        """The warehouse's counts on the return's lines; restockable units back on hand."""

    @activity.defn
    @abstractmethod
    async def resolve_return(self, req: ResolveRequest) -> ResolveResult:
        """The resolution: a refund row to pay, an exchange order started, a store
        credit written, or nothing."""


ACTIVITY_INTERFACES: tuple[type[ABC], ...] = (
    PaymentSteps,
    StockSteps,
    WarehouseSteps,
    CarrierSteps,
    HoldSteps,
    AlertSteps,
    RecordSteps,
    BookkeepingSteps,
    StockSyncSteps,
    ChannelSteps,
    ChannelPullSteps,
    WebhookSteps,
    ForecastSteps,
    RefundSteps,
    ReturnSteps,
)
