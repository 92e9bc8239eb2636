"""What one imported order becomes in the database, as plain values: the ``orders`` row
(its status and its view, shaped as the workflow writes it, with an ``imported`` part),
the timeline as history, the ledger and the shipment, and the rules of a correction.

Pure: no database. ``oms.imports.writer`` writes these rows set-based, through
``oms.store.imports``.

- A CLOSED order (delivered, cancelled, refunded) is history: ``order_received`` at its
  creation, the payment the old system took at ``paid_at`` (``payment_captured``), the
  parcel at ``shipped_at`` (``shipment_dispatched``, ``shipment_shipped``), its delivery
  (``order_delivered``), a cancellation with who and why (``order_cancelled``), a refund
  (``payment_refunded``), then ``order_imported`` at the moment of the import, which keeps
  the source record. Its ledger: a ``capture`` of what was taken (key
  ``<id>-imported-capture``) and a ``refund`` of what was given back
  (``<id>-imported-refund``), both ``succeeded``. A refunded order is ``delivered`` when it
  was delivered, ``cancelled`` otherwise (the OMS has no refunded status); its payment
  view says ``refunded``.
- An OPEN order (paid, reserved, dispatched) is the ``orders`` row in status ``received``
  with ``order_received`` at seq 0 and nothing else: its workflow, started by
  ``oms.imports.starter``, writes the rest. ``imported`` carries the stage it reached.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from oms.domain.holds import address_key
from oms.domain.ids import order_id_for, shipment_id_for
from oms.domain.messages import (
    PaymentView,
)
from oms.domain.money import format_amount
from oms.domain.status import OrderStatus, ShipmentStatus
from oms.imports.model import ImportStatus, Order

# Marks the timeline entries that are the old system's history (replaced by a correction)
# from those the OMS wrote.
SOURCE = "import"
# What a correction may change on an imported closed record: every field of the source
# record except its identity (channel, external id) and its currency.
FIXED = ("external_id", "currency")
WHO_CANCELS = frozenset({"customer", "operator", "rule", "expiry", "platform"})
# Warehouse of a parcel the file does not place.
UNKNOWN_WAREHOUSE = "imported"


def money(value: str, currency: str) -> str:
    return format_amount(Decimal(value or "0"), currency)


_FIELDS = tuple(f.name for f in fields(Order) if f.name not in ("where", "lines", "status"))


def record_of(order: Order) -> dict[str, Any]:
    """The source record as plain JSON values (everything but where it was read)."""
    data = {name: getattr(order, name) for name in _FIELDS}
    data["status"] = order.status.value
    data["lines"] = [
        {"sku": x.sku, "quantity": x.quantity, "unit_price": x.unit_price, "line_id": x.line_id}
        for x in order.lines
    ]
    return data


def fingerprint(order: Order, record: dict[str, Any] | None = None) -> str:
    """``import:`` and the SHA-256 of the source record: equal for an unchanged record. It
    is the row's ``request_hash``, so a live submission with the same external id is told
    apart (409) as with any other body."""
    data = record if record is not None else record_of(order)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return "import:" + hashlib.sha256(text.encode()).hexdigest()


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def refusal(
    before: dict[str, Any] | None, after: Order, *, last_seq: int, open_stage: str | None
) -> str | None:
    """Why an imported record may not take ``after`` (None: the correction is allowed).
    ``before``: the record as last imported; ``open_stage``: the stage of an open one."""
    if open_stage:
        if last_seq > 0:
            return "an open imported order whose workflow has started: change it in the OMS"
        return (
            "an open imported order waiting for its workflow (oms import start): the "
            "workflow owns it, change it in the OMS"
        )
    if before is None:
        return "the existing record keeps no source record to correct"
    if not after.closed:
        return f"a closed record cannot become {after.status.value}"
    fixed = [k for k in FIXED if before.get(k) != record_of(after).get(k)]
    if fixed:
        return f"{', '.join(fixed)} cannot change on an imported record"
    return None


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass
class Event:
    type: str
    status: str
    at: datetime
    data: dict[str, Any]
    seq: int = 0


@dataclass
class LedgerRow:
    kind: str  # capture | refund
    amount: Decimal
    key: str
    reference: str
    at: datetime


@dataclass
class ShipmentRow:
    id: str
    warehouse_id: str
    status: str
    tracking_number: str | None
    carrier: str | None
    created_at: datetime
    updated_at: datetime


@dataclass
class Built:
    """Everything one imported order writes."""

    id: str
    channel: str
    order: Order
    hash: str
    customer_id: str
    status: str
    view: dict[str, Any]
    address_key: str
    created_at: datetime
    updated_at: datetime
    events: list[Event] = field(default_factory=list)
    ledger: list[LedgerRow] = field(default_factory=list)
    shipment: ShipmentRow | None = None

    @property
    def last_seq(self) -> int:
        return self.events[-1].seq if self.events else 0

    @property
    def history(self) -> list[Event]:
        """The old system's entries after ``order_received``, before ``order_imported``."""
        return [e for e in self.events if e.type not in ("order_received", "order_imported")]


def final_status(order: Order) -> str:
    if order.status is ImportStatus.DELIVERED:
        return OrderStatus.DELIVERED.value
    if order.status is ImportStatus.CANCELLED:
        return OrderStatus.CANCELLED.value
    if order.status is ImportStatus.REFUNDED:
        return (OrderStatus.DELIVERED if order.delivered_at else OrderStatus.CANCELLED).value
    return OrderStatus.RECEIVED.value


def _shipped(order: Order) -> bool:
    return bool(order.shipped_at or order.delivered_at or order.tracking_number) and (order.closed)


def build(channel: str, order: Order, *, run: str, now: datetime) -> Built:
    """The rows of one imported order, imported by run ``run`` at ``now``."""
    oid = order_id_for(channel, order.external_id)
    cur = order.currency
    status = final_status(order)
    created = datetime.fromisoformat(order.created_at)
    paid = money(order.paid, cur)
    refunded = money(order.refunded, cur)
    zero = money("0", cur)
    customer_id = order.customer_id or order.email.lower() or f"import-{oid}"
    lines = [
        {
            "sku": x.sku,
            "quantity": x.quantity,
            "unit_price": money(x.unit_price, cur),
            "line_id": x.line_id,
        }
        for x in order.lines
    ]
    shipped = _shipped(order)
    delivered = status == OrderStatus.DELIVERED.value
    warehouse = order.warehouse_id or UNKNOWN_WAREHOUSE
    ship_id = shipment_id_for(oid, 1)
    shipments = []
    if shipped:
        shipments.append(
            {
                "id": ship_id,
                "warehouse_id": warehouse,
                "status": (ShipmentStatus.DELIVERED if delivered else ShipmentStatus.SHIPPED).value,
                "lines": [{"sku": x.sku, "quantity": x.quantity} for x in order.lines],
                "tracking_number": order.tracking_number,
                "carrier": order.carrier,
            }
        )
    if not order.closed:
        payment = PaymentView(order.payment_method, "captured" if paid != zero else "pending")
        payment.authorized, payment.captured = zero, paid
    elif Decimal(refunded) > 0:
        payment = PaymentView(order.payment_method, "refunded", zero, paid)
    elif Decimal(paid) > 0:
        payment = PaymentView(order.payment_method, "captured", zero, paid)
    else:
        payment = PaymentView(order.payment_method, "voided", zero, zero)
    adjustments = [
        {"kind": kind, "amount": amount, "label": "imported"}
        for kind, amount in (
            ("discount", "-" + money(order.discount, cur)),
            ("shipping", money(order.shipping, cur)),
            ("tax", money(order.tax, cur)),
        )
        if Decimal(amount) != 0
    ]
    cancellation = None
    if status == OrderStatus.CANCELLED.value:
        who = order.cancelled_by if order.cancelled_by in WHO_CANCELS else None
        cancellation = {
            "by": f"channel:{channel}" if who == "platform" else (who or "imported"),
            "reason": order.cancel_reason
            or ("refunded" if order.status is ImportStatus.REFUNDED else "cancelled"),
            "code": "unpaid" if who == "expiry" else "cancelled",
        }
    last_at = max(
        t
        for t in (
            created,
            _instant(order.paid_at),
            _instant(order.shipped_at),
            _instant(order.delivered_at),
            _instant(order.cancelled_at),
        )
        if t is not None
    )
    imported: dict[str, Any] = {
        "source_status": order.source_status,
        "imported_at": now.isoformat(),
        "run": run,
        "paid": paid,
        "payment_reference": order.payment_reference or None,
    }
    if order.closed:
        if Decimal(refunded) > 0:
            imported["refunded"] = refunded
        if order.cancelled_by:
            imported["cancelled_by"] = order.cancelled_by
    else:
        imported.update(
            stage=order.status.value,
            warehouse_id=order.warehouse_id,
            tracking_number=order.tracking_number,
            carrier=order.carrier,
            paid_at=order.paid_at,
            shipped_at=order.shipped_at,
        )
    if order.note:
        imported["note"] = order.note
    # The shape of ``OrderView`` (``tests/unit/test_import_records.py`` checks it), built
    # as plain values: ``dataclasses.asdict`` would be a third of an import's time.
    view: dict[str, Any] = {
        "id": oid,
        "channel": channel,
        "external_id": order.external_id,
        "status": status,
        # The import formats carry no account creation nor the buyer's IP or device.
        "customer": {
            "id": customer_id,
            "email": order.email,
            "name": order.customer_name,
            "created_at": None,
        },
        "shipping_address": {
            "name": order.ship_name,
            "line1": order.ship_line1,
            "city": order.ship_city,
            "postal_code": order.ship_postal_code,
            "country": order.ship_country,
            "line2": order.ship_line2,
            "region": order.ship_region,
            "lat": None,
            "lon": None,
            "phone": order.ship_phone or order.phone,
        },
        "currency": cur,
        "lines": lines,
        "totals": {"subtotal": money(order.subtotal, cur), "total": money(order.total, cur)},
        "payment": {
            "method": payment.method,
            "status": payment.status,
            "authorized": payment.authorized,
            "captured": payment.captured,
        },
        "created_at": created.isoformat(),
        "updated_at": (last_at if order.closed else created).isoformat(),
        "shipments": shipments,
        "hold": None,
        "failure_reason": None,
        "cancellation": cancellation,
        "late": False,
        "backorder": None,
        "adjustments": adjustments,
        "platform": None,
        "after_sales": [],
        "shadow": None,
        "imported": imported,
        "risk": None,  # an imported order is not scored (oms.risk)
        "edits": 0,
        "returns": None,
        "refunded": None,
        "client": None,
    }
    record = record_of(order)
    built = Built(
        id=oid,
        channel=channel,
        order=order,
        hash=fingerprint(order, record),
        customer_id=customer_id,
        status=status,
        view=view,
        address_key=address_key(
            order.ship_line1,
            order.ship_postal_code,
            order.ship_city,
            order.ship_country,
            order.ship_line2 or "",
        ),
        created_at=created,
        updated_at=last_at if order.closed else created,
    )
    first = {
        "lines": len(lines),
        "total": view["totals"]["total"],
        "currency": cur,
        "source": SOURCE,
    }
    built.events.append(Event("order_received", OrderStatus.RECEIVED.value, created, first))
    if not order.closed:
        return built
    built.events.extend(_history(order, oid, status, paid, refunded, ship_id, warehouse))
    built.events.append(
        Event(
            "order_imported",
            status,
            now,
            {
                "source": SOURCE,
                "run": run,
                "source_status": order.source_status,
                "file": order.where.file,
                "line": order.where.line,
                "record": record,
            },
        )
    )
    for seq, event in enumerate(built.events):
        event.seq = seq
    paid_at = _instant(order.paid_at) or created
    if Decimal(paid) > 0:
        built.ledger.append(
            LedgerRow("capture", Decimal(paid), f"{oid}-imported-capture", _ref(order), paid_at)
        )
    if Decimal(refunded) > 0:
        built.ledger.append(
            LedgerRow(
                "refund",
                Decimal(refunded),
                f"{oid}-imported-refund",
                _ref(order),
                _refund_at(order),
            )
        )
    if shipped:
        at = _instant(order.shipped_at) or _instant(order.delivered_at) or created
        built.shipment = ShipmentRow(
            ship_id,
            warehouse,
            str(shipments[0]["status"]),
            order.tracking_number,
            order.carrier,
            at,
            _instant(order.delivered_at) or at,
        )
    return built


def _ref(order: Order) -> str:
    return order.payment_reference or "imported"


def _refund_at(order: Order) -> datetime:
    at = order.cancelled_at or order.delivered_at or order.shipped_at or order.paid_at
    return datetime.fromisoformat(at or order.created_at)


def _history(
    order: Order, oid: str, status: str, paid: str, refunded: str, ship_id: str, warehouse: str
) -> list[Event]:
    """The old system's steps after the order was received, in time order."""
    cur = order.currency
    s = OrderStatus
    steps: list[tuple[int, Event]] = []
    created = datetime.fromisoformat(order.created_at)
    if Decimal(paid) > 0:
        data = {
            "source": SOURCE,
            "amount": paid,
            "currency": cur,
            "method": order.payment_method,
            "reference": order.payment_reference or None,
        }
        at = _instant(order.paid_at) or created
        steps.append((1, Event("payment_captured", s.PAYMENT_AUTHORIZED.value, at, data)))
    shipped_at = _instant(order.shipped_at)
    if _shipped(order):
        at = shipped_at or _instant(order.delivered_at) or created
        parcel = {
            "source": SOURCE,
            "shipment_id": ship_id,
            "warehouse_id": warehouse,
            "tracking_number": order.tracking_number,
            "carrier": order.carrier,
        }
        steps.append((2, Event("shipment_dispatched", s.DISPATCHED.value, at, dict(parcel))))
        steps.append((3, Event("shipment_shipped", s.SHIPPED.value, at, dict(parcel))))
    if status == s.DELIVERED.value:
        at = _instant(order.delivered_at) or shipped_at or created
        data = {"source": SOURCE, "shipment_id": ship_id}
        steps.append((4, Event("order_delivered", s.DELIVERED.value, at, data)))
    if status == s.CANCELLED.value:
        at = _instant(order.cancelled_at) or created
        data = {
            "source": SOURCE,
            "to": s.CANCELLED.value,
            "by": order.cancelled_by or "imported",
            "reason": order.cancel_reason
            or ("refunded" if order.status is ImportStatus.REFUNDED else "cancelled"),
        }
        steps.append((5, Event("order_cancelled", s.CANCELLED.value, at, data)))
    if Decimal(refunded) > 0:
        data = {"source": SOURCE, "amount": refunded, "currency": cur}
        steps.append((6, Event("payment_refunded", status, _refund_at(order), data)))
    steps.sort(key=lambda x: (x[1].at, x[0]))
    # A step's status is the order's once it was taken: never behind an earlier step's.
    rank = {v: i for i, v in enumerate(s)}
    reached = s.RECEIVED.value
    for _, event in steps:
        if event.type == "payment_refunded" or rank[s(event.status)] < rank[s(reached)]:
            event.status = reached
        else:
            reached = event.status
    return [e for _, e in steps]
