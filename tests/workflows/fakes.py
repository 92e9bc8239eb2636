"""Typed fakes of the order workflow's activities: each subclasses its interface in
``oms.contract``, so a change of the contract breaks them where mypy or the worker looks.

They keep their state in memory (stock per warehouse, authorizations by key, the
timeline as written) and record every call, for the tests to assert on. Nothing here
sleeps: a fake that must wait (an authorization the test holds back) waits on an
``asyncio.Event`` the test sets, and tests wait for the order to reach a step on the
events the fakes set (``Timeline.reached``).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from temporalio import activity
from temporalio.exceptions import ApplicationError

from oms.contract import (
    AlertSteps,
    BookkeepingSteps,
    BookkeepResult,
    CarrierSteps,
    ChannelSteps,
    ErrorType,
    HoldSteps,
    PaymentSteps,
    StockSteps,
    WarehouseSteps,
)
from oms.domain.holds import HoldFacts, HoldPolicy, hold_reasons
from oms.domain.ids import idempotency_key, shipment_id_for
from oms.domain.messages import (
    AlertRequest,
    Bookkeeping,
    CommitRequest,
    DispatchRequest,
    DispatchResult,
    FollowRequest,
    HoldCheck,
    HoldDecision,
    OrderView,
    PaymentCommand,
    PaymentOutcome,
    RecordBatch,
    ReleaseRequest,
    ReserveRequest,
    ReserveResult,
    RouteCandidate,
    ShipmentReport,
    SkuQuantity,
    StockChangeResult,
    StockEdit,
    TimelineEntry,
    WarehouseAllocation,
)
from oms.domain.routing import (
    FEWEST_SHIPMENTS,
    WarehouseStock,
    allocate,
    allocate_available,
    missing_units,
)


def business_error(kind: ErrorType, message: str, *details: object) -> ApplicationError:
    """A business failure as the real activities raise it: non-retryable, typed."""
    return ApplicationError(message, *details, type=kind.value, non_retryable=True)


class Unavailable(ApplicationError):
    """A partner that does not answer: retryable, as a real outage is."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} unavailable (503)", type="GatewayUnavailable")


# --- payments ---------------------------------------------------------------------------


@dataclass
class LedgerRow:
    kind: str
    status: str  # succeeded | declined | failed | skipped
    amount: str
    key: str


class FakeGateway(PaymentSteps):
    """A payment gateway and its ledger in one: authorizations by idempotency key.

    ``declined`` tokens are declined; ``down`` names the steps (``authorize``, ``capture``,
    ``void``) that fail as an outage would, every attempt; ``refusing`` those the gateway
    refuses outright (``PaymentRejected``); ``lose_answers`` authorizes but loses the
    answer (an outage to the caller, an authorization at the gateway).
    ``authorize_gate``, when set, holds every authorization until the test sets it."""

    def __init__(self) -> None:
        self.declined: set[str] = {"tok_declined"}
        self.down: set[str] = set()
        self.refusing: set[str] = set()
        self.lose_answers = False
        self.authorize_gate: asyncio.Event | None = None
        self.authorize_started = asyncio.Event()
        self.ledger: list[LedgerRow] = []
        self.attempts: dict[str, int] = defaultdict(int)  # per kind
        self.authorizations: dict[str, str] = {}  # authorize key -> authorized | voided
        self.authorized: dict[str, Decimal] = {}  # authorize key -> the amount it holds
        self.limit: Decimal | None = None  # the card's limit: an increase past it declines
        self.calls: list[PaymentCommand] = []  # every attempt, in order

    def rows(self, *kinds: str) -> list[tuple[str, str, str]]:
        return [(r.kind, r.status, r.amount) for r in self.ledger if not kinds or r.kind in kinds]

    def _outage(self, cmd: PaymentCommand, key: str) -> None:
        self.calls.append(cmd)
        self.attempts[cmd.kind] += 1
        if cmd.kind in self.down:
            self.ledger.append(LedgerRow(cmd.kind, "failed", cmd.amount, key))
            raise Unavailable("gateway")
        if cmd.kind in self.refusing:
            self.ledger.append(LedgerRow(cmd.kind, "failed", cmd.amount, key))
            raise business_error(ErrorType.PAYMENT_REJECTED, f"{cmd.kind} refused by the gateway")

    @activity.defn
    async def authorize_payment(self, cmd: PaymentCommand) -> PaymentOutcome:
        key = idempotency_key(cmd.order_id, "authorize")
        self.authorize_started.set()
        if self.authorize_gate is not None:
            await self.authorize_gate.wait()
        self._outage(cmd, key)
        if cmd.token in self.declined:
            self.ledger.append(LedgerRow("authorize", "declined", cmd.amount, key))
            raise business_error(ErrorType.PAYMENT_DECLINED, "authorize declined by the gateway")
        self.authorizations[key] = "authorized"
        self.authorized[key] = Decimal(cmd.amount)
        if self.lose_answers:
            self.ledger.append(LedgerRow("authorize", "failed", cmd.amount, key))
            raise Unavailable("gateway (answer lost)")
        self.ledger.append(LedgerRow("authorize", "succeeded", cmd.amount, key))
        return PaymentOutcome("authorize", "succeeded", cmd.amount, f"auth-{key}")

    @activity.defn
    async def capture_payment(self, cmd: PaymentCommand) -> PaymentOutcome:
        key = idempotency_key(cmd.order_id, f"capture-{cmd.part}" if cmd.part else "capture")
        self._outage(cmd, key)
        if self.authorizations.get(idempotency_key(cmd.order_id, "authorize")) != "authorized":
            raise business_error(ErrorType.PAYMENT_REJECTED, "no authorization to capture")
        if any(r.key == key and r.status == "succeeded" for r in self.ledger):
            return PaymentOutcome("capture", "succeeded", cmd.amount)  # a retry: once only
        self.ledger.append(LedgerRow("capture", "succeeded", cmd.amount, key))
        return PaymentOutcome("capture", "succeeded", cmd.amount, f"cap-{key}")

    @activity.defn
    async def void_payment(self, cmd: PaymentCommand) -> PaymentOutcome:
        """Voids by the authorization's key: whatever the gateway authorized under it,
        whether or not the answer reached the order."""
        key = idempotency_key(cmd.order_id, "void")
        self._outage(cmd, key)
        auth_key = idempotency_key(cmd.order_id, "authorize")
        if self.authorizations.get(auth_key) != "authorized":
            return PaymentOutcome("void", "skipped", "0")
        self.authorizations[auth_key] = "voided"
        self.ledger.append(LedgerRow("void", "succeeded", cmd.amount, key))
        return PaymentOutcome("void", "succeeded", cmd.amount, f"void-{key}")

    @activity.defn
    async def adjust_authorization(self, cmd: PaymentCommand) -> PaymentOutcome:
        """The authorization moved to ``cmd.amount``; an increase past ``limit`` declines."""
        key = idempotency_key(cmd.order_id, f"adjust-{cmd.part}")
        self._outage(cmd, key)
        auth_key = idempotency_key(cmd.order_id, "authorize")
        if self.authorizations.get(auth_key) != "authorized":
            raise business_error(ErrorType.PAYMENT_REJECTED, "no authorization to adjust")
        settled = next((r for r in self.ledger if r.key == key and r.status != "failed"), None)
        if settled is not None:  # a retry: the first answer
            if settled.status == "declined":
                raise business_error(ErrorType.PAYMENT_DECLINED, "adjust declined")
            return PaymentOutcome("adjust", "succeeded", cmd.amount)
        amount = Decimal(cmd.amount)
        if amount > self.authorized[auth_key] and self.limit is not None and amount > self.limit:
            self.ledger.append(LedgerRow("adjust", "declined", cmd.amount, key))
            raise business_error(ErrorType.PAYMENT_DECLINED, "adjust declined")
        self.authorized[auth_key] = amount
        self.ledger.append(LedgerRow("adjust", "succeeded", cmd.amount, key))
        return PaymentOutcome("adjust", "succeeded", cmd.amount, f"adj-{key}")

    @activity.defn
    async def record_platform_payment(self, cmd: PaymentCommand) -> PaymentOutcome:
        """A payment the platform took: one ledger row per order, however often asked."""
        key = idempotency_key(cmd.order_id, "platform")
        self.calls.append(cmd)
        if not any(r.key == key for r in self.ledger):
            self.ledger.append(LedgerRow("platform", "succeeded", cmd.amount, key))
        return PaymentOutcome("platform", "succeeded", cmd.amount, cmd.reference or None)

    @activity.defn
    async def record_imported_payment(self, cmd: PaymentCommand) -> PaymentOutcome:
        """A payment the old system took: one ledger row per order, however often asked."""
        key = idempotency_key(cmd.order_id, "imported")
        self.calls.append(cmd)
        if not any(r.key == key for r in self.ledger):
            self.ledger.append(LedgerRow("imported", "succeeded", cmd.amount, key))
        return PaymentOutcome("imported", "succeeded", cmd.amount, cmd.reference or None)


# --- stock ------------------------------------------------------------------------------


@dataclass
class Reservation:
    order_id: str
    shipment_id: str
    warehouse_id: str
    sku: str
    quantity: int
    status: str = "held"  # held | committed | released


class FakeStock(StockSteps):
    """Stock per warehouse in memory, reserved in rounds with the routing rules the real
    activity uses (``oms.domain.routing``); what stays short is queued when the order
    backorders, and fails fast (``OutOfStock``) when it does not."""

    def __init__(self) -> None:
        self.on_hand: dict[str, dict[str, int]] = {}
        self.priority: dict[str, int] = {}
        self.reservations: list[Reservation] = []
        self.queue: dict[str, dict[str, int]] = {}  # order -> sku -> units waited for
        self.requests: list[ReserveRequest] = []
        self.plans: list[ReserveRequest] = []
        self.releases: list[ReleaseRequest] = []
        self.commits: list[CommitRequest] = []
        self.edits: list[StockEdit] = []
        # When set, an edit's stock step waits for it (a test racing an edit).
        self.edit_gate: asyncio.Event | None = None
        self.edit_started = asyncio.Event()

    def put(self, warehouse_id: str, sku: str, units: int, priority: int | None = None) -> None:
        """Set a warehouse's stock of a SKU (a new warehouse ranks after the others)."""
        self.priority.setdefault(warehouse_id, priority or len(self.priority) + 1)
        self.on_hand.setdefault(warehouse_id, {})[sku] = units

    def reserved(self, warehouse_id: str, sku: str) -> int:
        return sum(
            r.quantity
            for r in self.reservations
            if (r.warehouse_id, r.sku, r.status) == (warehouse_id, sku, "held")
        )

    def available(self, warehouse_id: str, sku: str) -> int:
        return self.on_hand.get(warehouse_id, {}).get(sku, 0) - self.reserved(warehouse_id, sku)

    def held(self, order_id: str) -> dict[tuple[str, str], int]:
        """(warehouse, sku) -> units held for the order."""
        out: dict[tuple[str, str], int] = defaultdict(int)
        for r in self.reservations:
            if r.order_id == order_id and r.status == "held":
                out[(r.warehouse_id, r.sku)] += r.quantity
        return dict(out)

    def _stocks(
        self, skus: list[str], exclude: list[str], only: list[str] | None = None
    ) -> list[WarehouseStock]:
        return [
            WarehouseStock(w, self.priority[w], {s: self.available(w, s) for s in skus})
            for w in self.on_hand
            if w not in exclude and (not only or w in only)
        ]

    @activity.defn
    async def reserve_stock(self, req: ReserveRequest) -> ReserveResult:
        self.requests.append(req)
        demand: dict[str, int] = defaultdict(int)
        for line in req.lines:
            demand[line.sku] += line.quantity
        stocks = self._stocks(sorted(demand), req.exclude, req.only)
        short = missing_units(demand, stocks)
        if req.partial:
            allocations, _ = allocate_available(demand, stocks, FEWEST_SHIPMENTS)
        elif not short:
            allocations = allocate(demand, stocks, FEWEST_SHIPMENTS)
        elif not req.backorder:
            skus = sorted(short)
            raise business_error(ErrorType.OUT_OF_STOCK, f"not enough stock for: {skus}", skus)
        else:
            allocations = []
        result = ReserveResult([], FEWEST_SHIPMENTS)
        left = dict(demand)
        for n, a in enumerate(allocations):
            shipment_id = shipment_id_for(req.order_id, req.first_shipment + n)
            lines = [SkuQuantity(sku, q) for sku, q in a.lines.items()]
            result.allocations.append(WarehouseAllocation(a.warehouse_id, lines, shipment_id))
            for sku, q in a.lines.items():
                left[sku] -= q
                self.reservations.append(
                    Reservation(req.order_id, shipment_id, a.warehouse_id, sku, q)
                )
        result.candidates = [RouteCandidate(s.warehouse_id, s.priority, 0.0) for s in stocks]
        result.unreserved = [SkuQuantity(s, q) for s, q in sorted(left.items()) if q > 0]
        result.short = [SkuQuantity(s, q) for s, q in sorted(short.items())]
        if req.backorder:
            waiting = {line.sku: line.quantity for line in result.unreserved}
            if waiting:
                self.queue[req.order_id] = waiting
            else:
                self.queue.pop(req.order_id, None)
        return result

    @activity.defn
    async def plan_stock(self, req: ReserveRequest) -> ReserveResult:
        """Where the lines would go, by the same rules, with nothing reserved or queued."""
        self.plans.append(req)
        demand: dict[str, int] = defaultdict(int)
        for line in req.lines:
            demand[line.sku] += line.quantity
        stocks = self._stocks(sorted(demand), req.exclude)
        short = missing_units(demand, stocks)
        if req.partial:
            allocations, _ = allocate_available(demand, stocks, FEWEST_SHIPMENTS)
        else:
            allocations = [] if short else allocate(demand, stocks, FEWEST_SHIPMENTS)
        result = ReserveResult([], FEWEST_SHIPMENTS)
        for n, a in enumerate(allocations):
            shipment_id = shipment_id_for(req.order_id, req.first_shipment + n)
            lines = [SkuQuantity(sku, q) for sku, q in a.lines.items()]
            result.allocations.append(WarehouseAllocation(a.warehouse_id, lines, shipment_id))
        result.short = [SkuQuantity(s, q) for s, q in sorted(short.items())]
        return result

    @activity.defn
    async def edit_stock(self, req: StockEdit) -> ReserveResult:
        """The order's held units released and ``req.lines`` reserved instead, all or
        nothing; its own held units count as available to it."""
        self.edits.append(req)
        self.edit_started.set()
        if self.edit_gate is not None:
            await self.edit_gate.wait()
        demand: dict[str, int] = defaultdict(int)
        for line in req.lines:
            demand[line.sku] += line.quantity
        own = self.held(req.order_id)
        stocks = [
            WarehouseStock(
                s.warehouse_id,
                s.priority,
                {sku: q + own.get((s.warehouse_id, sku), 0) for sku, q in s.available.items()},
            )
            for s in self._stocks(sorted(demand), [])
        ]
        short = missing_units(demand, stocks)
        if short:
            skus = sorted(short)
            raise business_error(ErrorType.OUT_OF_STOCK, f"not enough stock for: {skus}", skus)
        result = ReserveResult([], FEWEST_SHIPMENTS)
        for n, a in enumerate(allocate(demand, stocks, FEWEST_SHIPMENTS)):
            shipment_id = shipment_id_for(req.order_id, req.first_shipment + n)
            lines = [SkuQuantity(sku, q) for sku, q in a.lines.items()]
            result.allocations.append(WarehouseAllocation(a.warehouse_id, lines, shipment_id))
        if req.check_only:
            return result
        for r in self.reservations:
            if r.order_id == req.order_id and r.status == "held":
                r.status = "released"
        for a in result.allocations:
            for line in a.lines:
                self.reservations.append(
                    Reservation(
                        req.order_id, a.shipment_id, a.warehouse_id, line.sku, line.quantity
                    )
                )
        return result

    @activity.defn
    async def release_stock(self, req: ReleaseRequest) -> StockChangeResult:
        self.releases.append(req)
        self.queue.pop(req.order_id, None)
        if req.queue_only:
            return StockChangeResult(0)
        units = 0
        for r in self.reservations:
            if r.order_id != req.order_id or r.status != "held":
                continue
            if req.warehouse_id is not None and r.warehouse_id != req.warehouse_id:
                continue
            if req.shipment_id is not None and r.shipment_id != req.shipment_id:
                continue
            r.status = "released"
            units += r.quantity
        return StockChangeResult(units)

    @activity.defn
    async def commit_stock(self, req: CommitRequest) -> StockChangeResult:
        """The goods left: off the shelf and off reserved."""
        self.commits.append(req)
        units = 0
        for r in self.reservations:
            if (r.order_id, r.shipment_id, r.status) == (req.order_id, req.shipment_id, "held"):
                r.status = "committed"
                self.on_hand[r.warehouse_id][r.sku] -= r.quantity
                units += r.quantity
        return StockChangeResult(units)


# --- the sales platform ----------------------------------------------------------------


class FakePlatform(ChannelSteps):
    """The order's sales platform: every shipment reported to it; ``refusing`` makes it
    refuse them (a non-retryable ``PlatformRefused``)."""

    def __init__(self) -> None:
        self.reports: list[ShipmentReport] = []
        self.refusing = False

    @activity.defn
    async def report_shipment(self, report: ShipmentReport) -> None:
        if self.refusing:
            raise ApplicationError(
                "trade closed", type=ErrorType.PLATFORM_REFUSED, non_retryable=True
            )
        self.reports.append(report)


# --- holds, alerts ----------------------------------------------------------------------


class FakeHoldRules(HoldSteps):
    """The real hold rules (``oms.domain.holds``) over facts the test sets: a returning
    customer at a quiet address unless told otherwise."""

    def __init__(self, policy: HoldPolicy | None = None) -> None:
        self.policy = policy or HoldPolicy(high_value={"EUR": Decimal(100)})
        self.checks: list[HoldCheck] = []

    @activity.defn
    async def check_holds(self, check: HoldCheck) -> HoldDecision:
        self.checks.append(check)
        facts = HoldFacts(Decimal(check.total), check.currency, check.address.country, 1, 1)
        return HoldDecision(hold_reasons(self.policy, facts))


class FakeAlerts(AlertSteps):
    def __init__(self) -> None:
        self.raised: list[AlertRequest] = []
        self._raised = asyncio.Condition()

    def kinds(self) -> list[str]:
        return [a.kind for a in self.raised]

    async def reached(self, kind: str, within: float = 10.0) -> AlertRequest:
        """The first alert of ``kind``, once raised."""
        await wait_until(self._raised, lambda: kind in self.kinds(), within)
        return next(a for a in self.raised if a.kind == kind)

    @activity.defn
    async def raise_alert(self, req: AlertRequest) -> int:
        async with self._raised:
            self.raised.append(req)
            self._raised.notify_all()
        return len(self.raised)


# --- the warehouse ----------------------------------------------------------------------


class FakeWms(WarehouseSteps):
    """A WMS that accepts dispatches (or refuses those of the ``refusing`` warehouses);
    each accepted one is put on ``accepted`` for the carrier to take."""

    def __init__(self) -> None:
        self.refusing: set[str] = set()
        self.requests: list[DispatchRequest] = []
        self.accepted: asyncio.Queue[DispatchRequest] = asyncio.Queue()

    @activity.defn
    async def dispatch_shipment(self, req: DispatchRequest) -> DispatchResult:
        self.requests.append(req)
        if req.warehouse_id in self.refusing:
            raise business_error(
                ErrorType.DISPATCH_REJECTED, f"warehouse {req.warehouse_id} refused the dispatch"
            )
        await self.accepted.put(req)
        return DispatchResult(f"wms-{req.shipment_id}")


class FakeCarrier(CarrierSteps):
    """A carrier that follows parcels by tracking number (imported ones on their way);
    each followed parcel is put on ``followed`` for the test to send its events."""

    def __init__(self) -> None:
        self.requests: list[FollowRequest] = []
        self.followed: asyncio.Queue[FollowRequest] = asyncio.Queue()
        self.refusing = False

    @activity.defn
    async def follow_shipment(self, req: FollowRequest) -> None:
        self.requests.append(req)
        if self.refusing:
            raise business_error(ErrorType.CARRIER_REFUSED, "unknown tracking number")
        await self.followed.put(req)


# --- the order's records and bookkeeping ------------------------------------------------


class Timeline:
    """What each order wrote: its entries in the order written and each batch's view; a
    test waits for an entry on the event its write sets (``reached``)."""

    def __init__(self) -> None:
        self.entries: dict[str, list[TimelineEntry]] = defaultdict(list)  # order -> entries
        self.views: dict[str, list[OrderView]] = defaultdict(list)  # order -> batch views
        self._written = asyncio.Condition()

    def kinds(self, order_id: str) -> list[str]:
        return [e.type for e in self.entries[order_id]]

    def of(self, order_id: str, kind: str) -> list[TimelineEntry]:
        return [e for e in self.entries[order_id] if e.type == kind]

    async def write(self, batch: RecordBatch) -> None:
        async with self._written:
            self.entries[batch.view.id].extend(batch.entries)
            self.views[batch.view.id].append(batch.view)
            self._written.notify_all()

    async def reached(
        self, order_id: str, kind: str, count: int = 1, within: float = 10.0
    ) -> TimelineEntry:
        """The ``count``-th entry of ``kind``, once written (an AssertionError if that
        takes more than ``within`` seconds of real time)."""
        await wait_until(self._written, lambda: len(self.of(order_id, kind)) >= count, within)
        return self.of(order_id, kind)[count - 1]


async def wait_until(event: asyncio.Condition, done: Callable[[], bool], within: float) -> None:
    """Wait on ``event`` until ``done()``; never sleeps, never waits past ``within``."""

    async def waiting() -> None:
        async with event:
            await event.wait_for(done)

    try:
        await asyncio.wait_for(waiting(), within)
    except TimeoutError:
        raise AssertionError(f"not reached within {within} s") from None


class FakeBookkeeping(BookkeepingSteps):
    """``bookkeep`` over the fakes: the records to the timeline, then the one step the
    call carries, as the real local activity does."""

    def __init__(self, timeline: Timeline, holds: HoldSteps, stock: StockSteps) -> None:
        self.timeline = timeline
        self.holds = holds
        self.stock = stock
        self.calls: list[Bookkeeping] = []

    @activity.defn
    async def bookkeep(self, work: Bookkeeping) -> BookkeepResult:
        self.calls.append(work)
        if work.records is not None and work.records.entries:
            await self.timeline.write(work.records)
        if work.check_holds is not None:
            return await self.holds.check_holds(work.check_holds)
        if work.reserve is not None:
            return await self.stock.reserve_stock(work.reserve)
        if work.commit is not None:
            return await self.stock.commit_stock(work.commit)
        if work.release is not None:
            return await self.stock.release_stock(work.release)
        return None
