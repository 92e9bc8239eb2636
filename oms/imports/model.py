"""One order as every import format reads it, before validation and before anything is
written: the shared shape between the readers (``oms.imports.formats``), the validation
rules (``oms.imports.rules``), the writer (``oms.imports.writer``) and the start of open
orders (``oms.imports.starter``).

Values are kept as the file gave them where a rule must be able to refuse them (``Raw``
text for money, dates, quantities), and parsed by the rules: a reader never drops or
repairs a value silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ImportStatus(StrEnum):
    """Where an order stood in the old system, in our words. The closed ones become
    history (no workflow); the open ones start their workflow at that stage."""

    PAID = "paid"  # paid (or payment authorised/taken), nothing reserved
    RESERVED = "reserved"  # stock set aside at a warehouse, not yet handed over
    DISPATCHED = "dispatched"  # handed to a carrier: a tracking number exists
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"  # delivered (or not) and the money given back in full


CLOSED = frozenset({ImportStatus.DELIVERED, ImportStatus.CANCELLED, ImportStatus.REFUNDED})
OPEN = frozenset({ImportStatus.PAID, ImportStatus.RESERVED, ImportStatus.DISPATCHED})


@dataclass
class Where:
    """Where a value came from: the file and its line(s) (1-based, the header is line 1
    of a CSV), for the report."""

    file: str
    line: int
    last_line: int | None = None  # an order spread over several rows (one per line item)


@dataclass
class RawLine:
    sku: str
    quantity: str
    unit_price: str
    line_id: str = ""
    name: str = ""
    where: Where | None = None


@dataclass
class RawOrder:
    """One order as read, every value still text (None: the file has no such column or
    the cell is empty). Dates are text in the file's own shape; ``date_format`` of a
    mapping or the format's reader says how to read them."""

    where: Where
    external_id: str | None
    status: str | None  # the source's own status value, before mapping
    created_at: str | None
    currency: str | None
    lines: list[RawLine] = field(default_factory=list)
    paid_at: str | None = None
    shipped_at: str | None = None
    delivered_at: str | None = None
    cancelled_at: str | None = None
    # money, order level (text as in the file)
    subtotal: str | None = None
    shipping: str | None = None
    discount: str | None = None  # positive in the file; the writer stores it negative
    tax: str | None = None
    total: str | None = None
    paid: str | None = None  # what the old system took
    refunded: str | None = None
    payment_method: str | None = None
    payment_reference: str | None = None
    # the buyer
    customer_id: str | None = None
    email: str | None = None
    customer_name: str | None = None
    phone: str | None = None
    # the shipping address
    ship_name: str | None = None
    ship_line1: str | None = None
    ship_line2: str | None = None
    ship_city: str | None = None
    ship_region: str | None = None
    ship_postal_code: str | None = None
    ship_country: str | None = None
    ship_phone: str | None = None
    # fulfilment in the old system
    warehouse_id: str | None = None
    tracking_number: str | None = None
    carrier: str | None = None
    cancel_reason: str | None = None
    cancelled_by: str | None = None  # customer | operator | rule | expiry | platform
    note: str | None = None
    # what the reader itself found wrong (undecodable bytes, a row that contradicts the
    # order's first row, a malformed JSON line): reported with the rules' findings
    read_issues: list[Issue] = field(default_factory=list)


@dataclass
class Issue:
    """One finding of a validation rule: the rule's code, where, the field and the value
    at fault, and a sentence. ``error`` findings stop the order; ``warning`` ones do not."""

    code: str
    where: Where
    field: str
    value: str
    message: str
    external_id: str | None = None
    severity: str = "error"  # error | warning


# --- after validation: typed, complete, ready to write ----------------------------------


@dataclass
class Line:
    sku: str
    quantity: int
    unit_price: str  # a decimal string in the currency's decimals
    line_id: str = ""


@dataclass
class Order:
    """A valid order: what the writer stores and the starter starts. Money is a decimal
    string with the currency's decimals; instants are ISO 8601 with an offset (UTC)."""

    where: Where
    external_id: str
    status: ImportStatus
    source_status: str  # the value the file had, kept on the record
    created_at: str
    currency: str
    lines: list[Line]
    subtotal: str
    total: str
    shipping: str = "0"
    discount: str = "0"  # positive: taken off the total
    tax: str = "0"
    paid: str = "0"
    refunded: str = "0"
    paid_at: str | None = None
    shipped_at: str | None = None
    delivered_at: str | None = None
    cancelled_at: str | None = None
    payment_method: str = "imported"
    payment_reference: str = ""
    customer_id: str = ""
    email: str = ""
    customer_name: str = ""
    phone: str | None = None
    ship_name: str = ""
    ship_line1: str = ""
    ship_line2: str | None = None
    ship_city: str = ""
    ship_region: str | None = None
    ship_postal_code: str = ""
    ship_country: str = ""
    ship_phone: str | None = None
    warehouse_id: str | None = None
    tracking_number: str | None = None
    carrier: str | None = None
    cancel_reason: str | None = None
    cancelled_by: str | None = None
    note: str | None = None

    @property
    def closed(self) -> bool:
        return self.status in CLOSED
