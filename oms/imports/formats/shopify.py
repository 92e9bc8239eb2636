"""Shopify admin's "Export orders" CSV (orders_export.csv).

One row per line item; the order's values are on its first row only, ``Name`` (``#1001``)
on every row. The external id is ``Id``, the numeric order id that Shopify's API and our
live Shopify channel use (``oms.channels.platforms.shopify``), so an imported order and the
same order arriving live are one order; the export must include that column. The buyer's
customer id is the email, the live adapter's rule for an order without a customer object
(the export names no customer id). Zip codes written with Excel's leading apostrophe
(``'02134``) are read without it.

The status is Shopify's three fields, as the live adapter reads them (:func:`status_of`):
cancelled (``Cancelled at`` set) or voided is ``cancelled``; refunded is ``refunded``;
otherwise fulfilled is ``delivered`` (the export gives no delivery, and fulfilled orders in
a historical export are taken as closed), partial is ``dispatched`` (which needs a tracking
number the export does not have: such orders are reported), unfulfilled and paid,
authorized, partially paid or partially refunded is ``paid``; pending is never paid.
``Subtotal`` is the goods less discounts; ``Taxes`` are added to the total unless the
prices include them (the total says which).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC
from pathlib import Path

from oms.channels.canonical import PlatformState
from oms.channels.platforms import shopify as live
from oms.imports.dialect import Dialect, StatusProblem
from oms.imports.formats.csvfile import FileProblem, Table, file_issue
from oms.imports.formats.grouping import build, groups
from oms.imports.model import ImportStatus, Issue, RawOrder

COLUMNS: dict[str, str] = {
    "external_id": "Id",
    "status": "Financial Status",  # with Fulfillment Status and Cancelled at, see status_of
    "created_at": "Created at",
    "currency": "Currency",
    "paid_at": "Paid at",
    "shipped_at": "Fulfilled at",
    "cancelled_at": "Cancelled at",
    "subtotal": "Subtotal",
    "shipping": "Shipping",
    "discount": "Discount Amount",
    "tax": "Taxes",
    "total": "Total",
    "refunded": "Refunded Amount",
    "payment_method": "Payment Method",
    "payment_reference": "Payment Reference",
    "email": "Email",
    "customer_name": "Billing Name",
    "phone": "Phone",
    "ship_name": "Shipping Name",
    "ship_line1": "Shipping Address1",
    "ship_line2": "Shipping Address2",
    "ship_city": "Shipping City",
    "ship_region": "Shipping Province",
    "ship_postal_code": "Shipping Zip",
    "ship_country": "Shipping Country",
    "ship_phone": "Shipping Phone",
    "note": "Notes",
}
LINE_COLUMNS = {
    "sku": "Lineitem sku",
    "quantity": "Lineitem quantity",
    "unit_price": "Lineitem price",
    "name": "Lineitem name",
}
REQUIRED_COLUMNS = ("Name", "Id", "Financial Status", "Lineitem quantity", "Lineitem sku")
FULFILLMENT = ("fulfilled", "unfulfilled", "partial", "restocked", "")

# our reading of the live adapter's states, for an order that is over or under way
_FROM_STATE: dict[PlatformState, ImportStatus | None] = {
    PlatformState.UNPAID: None,
    PlatformState.PAID: ImportStatus.PAID,
    PlatformState.REFUND_REQUESTED: ImportStatus.PAID,
    PlatformState.SHIPPED: ImportStatus.DISPATCHED,
    PlatformState.CANCELLED: ImportStatus.CANCELLED,
}


def source_status(financial: str, fulfillment: str, cancelled: bool) -> str:
    """The order's three status fields as one value kept on the record, the live
    adapter's ``platform_status`` shape: ``paid/fulfilled``, ``cancelled (voided/...)``."""
    status = f"{financial}/{fulfillment or 'unfulfilled'}"
    return f"cancelled ({status})" if cancelled else status


def status_of(raw: RawOrder) -> ImportStatus:
    word = (raw.status or "").strip()
    cancelled = word.startswith("cancelled (")
    inner = word[len("cancelled (") : -1] if cancelled else word
    financial, _, fulfillment = inner.partition("/")
    payload = {
        "financial_status": financial,
        "fulfillment_status": None if fulfillment in ("", "unfulfilled") else fulfillment,
        "cancelled_at": "yes" if cancelled else None,
    }
    if financial not in live.STATUS or fulfillment not in FULFILLMENT:
        raise StatusProblem(
            "status",
            f"Financial Status one of {', '.join(live.STATUS)}; Fulfillment Status one of "
            f"{', '.join(f for f in FULFILLMENT if f)}",
        )
    if financial == "refunded":
        return ImportStatus.CANCELLED if cancelled else ImportStatus.REFUNDED
    state = live.state(payload)
    if state is PlatformState.CANCELLED:
        return ImportStatus.CANCELLED
    if financial == "pending" and not cancelled:
        raise StatusProblem("unpaid", f"{word!r}: an order never paid is not imported")
    if fulfillment == "fulfilled":
        return ImportStatus.DELIVERED
    found = _FROM_STATE.get(state)
    if found is None:
        raise StatusProblem("unpaid", f"{word!r}: an order never paid is not imported")
    return found


DIALECT = Dialect(
    name="shopify",
    status_of=status_of,
    date_formats=("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M %z"),
    naive=UTC,
    subtotal_after_discount=True,
)


class Shopify:
    name = "shopify"
    dialect = DIALECT

    def fingerprint(self) -> bytes:
        return b""

    def read(self, paths: Sequence[Path]) -> Iterator[RawOrder | Issue]:
        for path in paths:
            yield from read_file(path)


def read_file(path: Path) -> Iterator[RawOrder | Issue]:
    try:
        table = Table(path)
    except FileProblem as problem:
        yield problem.issue
        return
    with table:
        missing = [c for c in REQUIRED_COLUMNS if c not in table.header]
        if missing:
            yield file_issue(
                path,
                f"not a Shopify orders export: no column {', '.join(missing)}"
                " (export every column, Id included)",
            )
            return
        present = {k: v for k, v in COLUMNS.items() if v in table.header}
        lines = {k: v for k, v in LINE_COLUMNS.items() if v in table.header}
        for rows in groups(table.rows(), "Name"):
            first = rows[0].cells
            order = build(table.name, rows, present, lines, check_repeats=False)
            if order.status:
                order.status = source_status(
                    order.status,
                    first.get("Fulfillment Status", ""),
                    bool(first.get("Cancelled at")),
                )
            if order.ship_postal_code and order.ship_postal_code.startswith("'"):
                order.ship_postal_code = order.ship_postal_code[1:]
            if not order.customer_name:
                order.customer_name = order.ship_name
            order.customer_id = order.email
            yield order
