"""Dataclasses that cross the Temporal boundary: workflow inputs, activity inputs and
outputs, signals, updates and the live order view.

One dataclass in and one out per workflow, activity and message, so each can gain
optional fields without breaking workflows already running. Money is a decimal string.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from oms.domain.annotations import resolve_annotations


@dataclass
class Customer:
    id: str
    email: str
    name: str
    # When the buyer's account was made (ISO 8601 with offset), where the channel says.
    created_at: str | None = None


@dataclass
class Address:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str | None = None
    region: str | None = None
    lat: float | None = None
    lon: float | None = None
    phone: str | None = None


@dataclass
class Client:
    """Where the buyer ordered from, where the channel says: the IP address (v4 or v6,
    in its compressed form) and an opaque device id. Personal data, like the address."""

    ip: str | None = None
    device_id: str | None = None


@dataclass
class OrderLine:
    sku: str
    quantity: int
    unit_price: str
    # The platform's own id of the line (Shopify line item, Amazon OrderItemId, Taobao
    # oid), for what goes back to the platform; empty for the OMS's own orders.
    line_id: str = ""


@dataclass
class PaymentInstrument:
    method: str
    token: str


@dataclass
class Totals:
    subtotal: str
    total: str


@dataclass
class PaymentView:
    method: str
    status: str = "pending"  # pending | authorized | declined | captured | voided | failed
    authorized: str = "0"
    captured: str = "0"


@dataclass
class SkuQuantity:
    sku: str
    quantity: int


@dataclass
class ShipmentView:
    id: str
    warehouse_id: str
    status: str
    lines: list[SkuQuantity]
    tracking_number: str | None = None
    carrier: str | None = None


@dataclass
class HoldView:
    reasons: list[str]
    since: str
    expires_at: str | None = None
    # notes: the manual hold's reason; decision: {action, by, at, note|reason} once decided
    note: str | None = None
    decision: dict[str, str] | None = None


@dataclass
class RiskReason:
    """One reason the risk score gave: its code, in words (counts, never personal data),
    and the points it added."""

    code: str
    words: str
    points: int = 0


@dataclass
class RiskView:
    """The order's fake-order (brushing) risk at its hold check: a score of 0 to 100, the
    top reasons, and the model version that scored it (None: rule points alone)."""

    score: int = 0
    reasons: list[RiskReason] = field(default_factory=list)
    model_version: str | None = None


@dataclass
class BackorderView:
    """What a backordered order still waits for: the units short (sku, quantity), since
    when, and when it gives up."""

    lines: list[SkuQuantity]
    since: str
    expires_at: str | None = None


@dataclass
class Adjustment:
    """An order-level amount beside the lines, as the platform gave it: a discount
    (negative), shipping or tax (positive), a rounding remainder. The lines plus the
    adjustments make the order's total."""

    kind: str
    amount: str
    label: str = ""


@dataclass
class PlatformView:
    """Where a channel order came from and what its platform last said of it."""

    platform: str  # shopify | woocommerce | taobao | jd | pdd | amazon | native
    state: str  # oms.channels.canonical.PlatformState
    status: str  # the platform's own status value
    # The platform took the buyer's money itself: the OMS records it, never charges it.
    prepaid: bool = False
    payment_reference: str | None = None
    mode: str = "live"  # live | shadow, as the channel was when the order arrived


@dataclass
class AfterSale:
    """A platform's refund or cancel that came after dispatch: kept beside the order's
    lifecycle for customer service, never a silent change."""

    kind: str  # refund_requested | cancelled
    at: str
    platform_status: str = ""


@dataclass
class ShadowView:
    """What the OMS decided for a shadow channel's order, without acting on it."""

    hold_reasons: list[str]
    shipments: list[WarehouseAllocation]
    strategy: str = ""
    short: list[SkuQuantity] = field(default_factory=list)


@dataclass
class ImportedStage:
    """An open order brought in from another system (``oms import``): the stage it had
    reached there and what the old system did for it. The writer stores it on the order's
    view (``imported``); the starter puts it on the workflow's input, which then starts the
    order at that stage (workflows/order_import.py). Money is a decimal string."""

    # paid | reserved | dispatched (oms.imports.model.ImportStatus); empty on a closed
    # order imported as history (no workflow ever reads it)
    stage: str = ""
    source_status: str = ""  # the old system's own status value
    warehouse_id: str | None = None  # reserved at, or shipped from
    tracking_number: str | None = None
    carrier: str | None = None
    paid: str = "0"  # what the old system took
    payment_reference: str = ""
    shipped_at: str | None = None
    imported_at: str | None = None
    run: str = ""  # the import run that wrote it
    source_system: str = ""
    # As the writer keeps them (oms.imports.records): the old system's payment time, what it
    # gave back and who cancelled (closed orders), the file's note.
    paid_at: str | None = None
    refunded: str | None = None
    cancelled_by: str | None = None
    note: str | None = None


@dataclass
class OrderView:
    id: str
    channel: str
    external_id: str
    status: str
    customer: Customer
    shipping_address: Address
    currency: str
    lines: list[OrderLine]
    totals: Totals
    payment: PaymentView
    created_at: str
    updated_at: str
    shipments: list[ShipmentView] = field(default_factory=list)
    hold: HoldView | None = None
    failure_reason: str | None = None
    cancellation: dict[str, str] | None = None
    # Flagged when an SLA passed (not dispatched or not delivered in time); it goes on.
    late: bool = False
    # Set while some of the order waits for stock (a backorder), None otherwise.
    backorder: BackorderView | None = None
    # Channel orders: the platform's discounts, shipping and tax; the platform and its
    # state; refunds and cancels that came after dispatch; a shadow channel's decisions.
    adjustments: list[Adjustment] = field(default_factory=list)
    platform: PlatformView | None = None
    after_sales: list[AfterSale] = field(default_factory=list)
    shadow: ShadowView | None = None
    # An order imported open from another system: the stage it had reached there.
    imported: ImportedStage | None = None
    # The fake-order risk its last hold check gave (oms.risk); None before one ran.
    risk: RiskView | None = None
    # How many times the order's lines were edited before dispatch (docs/edits.md).
    edits: int = 0
    # Where the buyer ordered from (IP, device), when the channel gave it.
    client: Client | None = None
    # Returns and refunds after delivery (docs/returns.md): filled in when one order is
    # read (GET /v1/orders/{id}) from their own tables; null in lists and in the workflow.
    returns: list[ReturnSummary] | None = None
    refunded: str | None = None


@dataclass
class ReturnSummary:
    """One of the order's returns, as the order view lists it."""

    id: str
    status: str
    resolution: str
    lines: list[SkuQuantity] = field(default_factory=list)


@dataclass
class OrderInput:
    """What the API hands to a new order workflow: the accepted order as first seen."""

    view: OrderView
    payment_token: str
    # Seconds a reserved order waits before it is released to the warehouses: the window
    # in which a customer or an operator can still cancel it.
    release_delay_s: float = 0.0
    # How long authorization keeps retrying a gateway that is down or does not answer
    # before the order fails as ``payment_unavailable``.
    authorize_limit_s: float = 3600.0
    # Operators' half (0 turns a timer off; orders started before these existed run without).
    hold_timeout_s: float = 86400.0
    hold_stale_s: float = 3600.0
    sla_dispatch_s: float = 7200.0
    sla_delivery_s: float = 432000.0
    ship_deadline_s: float = 86400.0
    tracking_silence_s: float = 172800.0
    # Shortage, per the order's channel (oms.domain.shortage): wait for stock instead of
    # failing, and whether what is in stock may ship before the rest.
    backorder: bool = False
    split_shipments: bool = True
    backorder_timeout_s: float = 604800.0
    backorder_recheck_s: float = 3600.0
    # Channel orders (oms.channels): an unpaid order waits this long for its payment
    # (0: no wait); the platform took the money (record it, never charge it); a shadow
    # channel's order is decided but not acted on; shipments go back to the platform.
    awaiting_payment: bool = False
    payment_timeout_s: float = 0.0
    prepaid: bool = False
    shadow: bool = False
    report_shipments: bool = False
    # An open order imported from another system starts at the stage it reached there
    # (workflows/order_import.py): its payment recorded as taken, never charged again.
    imported: ImportedStage | None = None


# --- activities ---------------------------------------------------------------------


@dataclass
class PaymentCommand:
    order_id: str
    kind: str  # authorize | capture | void | refund
    amount: str
    currency: str
    token: str = ""
    method: str = ""
    # A part of the step: the shipment number of a capture (key <id>-capture-<n>).
    part: str = ""
    # A payment the platform took (kind ``platform``): its reference there.
    reference: str = ""


@dataclass
class PaymentOutcome:
    kind: str
    status: str  # succeeded | declined
    amount: str
    reference: str | None = None


@dataclass
class ReserveRequest:
    order_id: str
    lines: list[SkuQuantity]
    # Reservation rounds (0: an order from before rounds, reserved once, all or nothing).
    # Round n's rows belong to shipments numbered from ``first_shipment``.
    round: int = 0
    first_shipment: int = 1
    exclude: list[str] = field(default_factory=list)  # warehouses that refused the order
    partial: bool = False  # reserve what is in stock, report the rest as unreserved
    backorder: bool = False  # queue what stays unreserved, first come first served
    only: list[str] = field(default_factory=list)  # these warehouses alone (empty: any)


@dataclass
class WarehouseAllocation:
    warehouse_id: str
    lines: list[SkuQuantity]
    shipment_id: str = ""  # rounds: the shipment these units leave in


@dataclass
class ReserveResult:
    allocations: list[WarehouseAllocation]
    # How the warehouses were chosen (oms.domain.routing), for the timeline.
    strategy: str = ""
    candidates: list[RouteCandidate] = field(default_factory=list)
    # Rounds: what is not reserved (to ask for again), and the units short beyond what
    # the warehouses hold (what the customer is told is missing).
    unreserved: list[SkuQuantity] = field(default_factory=list)
    short: list[SkuQuantity] = field(default_factory=list)
    # What the chosen warehouses are expected to give (oms.domain.delivery): the days
    # until the last parcel arrives and what the parcels cost to ship; None before these
    # were estimated.
    expected_days: float | None = None
    expected_cost: float | None = None


@dataclass
class RouteCandidate:
    warehouse_id: str
    priority: int
    distance_km: float
    # Expected delivery days from this warehouse and a parcel's cost (base, per unit).
    expected_days: float | None = None
    parcel_base: float | None = None
    per_unit: float | None = None


@dataclass
class ReleaseRequest:
    order_id: str
    reason: str
    warehouse_id: str | None = None  # None: every warehouse of the order
    shipment_id: str | None = None  # rounds: only this shipment's units
    queue_only: bool = False  # only take the order out of the backorder queue


@dataclass
class StockChangeResult:
    units: int


@dataclass
class CommitRequest:
    order_id: str
    shipment_id: str
    warehouse_id: str
    # When the goods left, as the partner said: a level synced from the WMS as of then or
    # later already counts them gone, so the commit takes them off reserved only.
    shipped_at: str | None = None


@dataclass
class DispatchRequest:
    order_id: str
    shipment_id: str
    warehouse_id: str
    lines: list[SkuQuantity]
    address: Address


@dataclass
class FollowRequest:
    """A parcel already on its way (an imported order's shipment): its row, and the
    carrier told to send its events for the tracking number."""

    order_id: str
    shipment_id: str
    warehouse_id: str
    tracking_number: str
    carrier: str = ""


@dataclass
class DispatchResult:
    reference: str


@dataclass
class RecordEvent:
    """One step of an order: appended to the timeline and folded into the read model."""

    seq: int
    type: str
    view: OrderView
    data: dict[str, Any] = field(default_factory=dict)
    # The lean order tracks its shipments itself: their rows follow the view's.
    shipments: bool = False


@dataclass
class TimelineEntry:
    """One step of an order as the timeline keeps it (the lean order's batched records)."""

    seq: int
    type: str
    status: str  # the order's status once this step was taken
    at: str  # ISO 8601, workflow time
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class RecordBatch:
    """The steps an order took in one workflow task, appended to the timeline together;
    the read model takes ``view``, the order as it stands after the last of them."""

    entries: list[TimelineEntry]
    view: OrderView
    shipments: bool = True


@dataclass
class Bookkeeping:
    """The order's local activity ``bookkeep``: its pending records, then at most one
    step on the order's own facts, the one whose request is set."""

    records: RecordBatch | None = None
    check_holds: HoldCheck | None = None
    reserve: ReserveRequest | None = None
    commit: CommitRequest | None = None
    release: ReleaseRequest | None = None


@dataclass
class ShipmentRecord:
    shipment_id: str
    order_id: str
    warehouse_id: str
    status: str
    tracking_number: str | None = None
    carrier: str | None = None


# --- child workflow and messages ----------------------------------------------------


@dataclass
class ShipmentInput:
    order_id: str
    parent_workflow_id: str
    shipment: ShipmentView
    address: Address
    # Alerts, not failures: a shipment accepted but not shipped in time, or silent in transit.
    ship_deadline_s: float = 0.0
    tracking_silence_s: float = 0.0


@dataclass
class StockArrival:
    """Stock for these SKUs became available (empty: look at everything waited for)."""

    skus: list[str] = field(default_factory=list)


@dataclass
class ShipmentResult:
    shipment_id: str
    status: str


@dataclass
class ShipmentEvent:
    """A warehouse or carrier event about one shipment (``shipped``, ``in_transit``, ...)."""

    shipment_id: str
    status: str
    event_id: str = ""
    tracking_number: str | None = None
    carrier: str | None = None
    occurred_at: str | None = None


@dataclass
class OperatorAction:
    by: str
    reason: str | None = None
    note: str | None = None


@dataclass
class ActionResult:
    accepted: bool
    status: str


@dataclass
class AddressChange:
    by: str
    address: Address


@dataclass
class OrderEdit:
    """An edit of an order before dispatch (update ``request_edit``): its complete new
    lines, priced in the order's currency, and who asked."""

    by: str
    lines: list[OrderLine]
    reason: str = ""  # why, in the person's words (the timeline keeps it)


@dataclass
class StockEdit:
    """An edit's stock step: the order's held reservations released and ``lines``
    reserved in their place (round ``round``, shipments numbered from
    ``first_shipment``), in one transaction, all or nothing. ``check_only``: whether it
    would succeed, with nothing written."""

    order_id: str
    lines: list[SkuQuantity]
    round: int
    first_shipment: int
    check_only: bool = False


@dataclass
class HoldCheck:
    order_id: str
    customer_id: str
    total: str
    currency: str
    address: Address


@dataclass
class HoldDecision:
    reasons: list[str]
    # The fake-order risk score behind the decision (None: not scored, as before it existed).
    risk: RiskView | None = None


@dataclass
class ChannelEvent:
    """What a sales platform said about one of its orders since the OMS took it."""

    kind: str  # paid | cancelled | refund_requested | refund_withdrawn | on_hold | released
    platform_status: str = ""
    reference: str | None = None  # the payment's reference on ``paid``
    at: str = ""


@dataclass
class ShipmentReport:
    """A shipment to tell the order's platform about (dispatch and tracking number)."""

    order_id: str
    channel: str
    external_id: str
    shipment_id: str
    tracking_number: str | None
    carrier: str | None
    lines: list[SkuQuantity]


@dataclass
class AlertRequest:
    """An exception for operators; one open alert per order (or shipment) and kind."""

    order_id: str
    kind: str  # order_late | hold_stale | activity_retrying | capture_failed | ...
    detail: dict[str, Any] = field(default_factory=dict)
    shipment_id: str | None = None


# The payload converter reads these classes' field types for every payload it decodes.
resolve_annotations(globals())
