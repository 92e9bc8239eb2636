"""The validation rules of an import: a RawOrder in, an Order (or None) and the issues out.

Every finding carries a stable code (:data:`CODES`, documented in docs/migration.md).
``error`` findings stop the order; ``warning`` ones are reported and the order goes on.
The rules are pure: the clock, the SKUs the database knows and the external ids already
seen are given to them (:class:`Checks`, :class:`Seen`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Container
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from oms.domain.iso import is_country, is_currency, minor_units
from oms.domain.money import format_amount
from oms.imports.dialect import Dialect, StatusProblem
from oms.imports.model import (
    OPEN,
    ImportStatus,
    Issue,
    Line,
    Order,
    RawLine,
    RawOrder,
    Where,
)
from oms.imports.shapes import NO_POSTAL_CODE, email_ok, phone_shape, postal_code_ok

CODES: dict[str, str] = {
    "required": "a value the order needs is missing",
    "money_format": "an amount is not a non-negative decimal number",
    "money_decimals": "an amount has more decimals than its currency has minor units",
    "total_mismatch": "lines + shipping + tax - discount is not the total (to the minor unit), "
    "or the subtotal is not the lines' sum",
    "currency": "not an ISO 4217 currency code",
    "quantity": "a line's quantity is not a whole number from 1 to 1,000,000",
    "unknown_sku": "a SKU no warehouse has a stock row for (warning with --create-skus)",
    "country": "not an ISO 3166-1 alpha-2 country code",
    "postal_code": "a postal code not in its country's shape",
    "date_format": "a date that cannot be read, or that has no time zone where one is needed",
    "date_order": "dates out of order (paid before created, shipped before paid, ...)",
    "date_future": "a date later than the import",
    "status": "a status value the format does not know",
    "unpaid": "an order never paid (not imported)",
    "status_facts": "the status contradicts the other facts (dispatched without a tracking "
    "number, reserved without a warehouse, ...)",
    "duplicate_external_id": "the same external id twice in the files",
    "phone": "not a phone number (a masked one is a warning)",
    "email": "not an email address",
    "paid_mismatch": "what was paid is more than the total (less: a warning)",
    "refund_over_paid": "more refunded than paid",
    "cancelled_by": "who cancelled is not customer, operator, rule, expiry or platform",
    "encoding": "bytes that are not text in the file's encoding",
    "file_format": "a file, header or row that the format cannot read",
    "inconsistent": "a row of a multi-row order contradicts the order's first row",
}

CANCELLED_BY = frozenset({"customer", "operator", "rule", "expiry", "platform"})
MAX_QUANTITY = 1_000_000
FUTURE_TOLERANCE = timedelta(hours=1)
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_THOUSANDS_COMMA_DECIMAL = re.compile(r"-?[0-9]{1,3}(\.[0-9]{3})+(,[0-9]+)?")
_WHOLE = re.compile(r"[0-9]+")


@dataclass
class Checks:
    """What the rules are given: the format's dialect, the moment of the import, the SKUs
    the database knows (None: not checked) and whether unknown SKUs will be created."""

    dialect: Dialect
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    known_skus: Container[str] | None = None
    create_skus: bool = False


class Seen:
    """The external ids met so far in this run, for ``duplicate_external_id``: 8 bytes of
    a hash and where each was first seen, so a million ids cost tens of megabytes."""

    def __init__(self) -> None:
        self._first: dict[int, int] = {}
        self._files: list[str] = []
        self._file_no: dict[str, int] = {}

    def first(self, external_id: str, where: Where) -> Where | None:
        """Where ``external_id`` was first seen, or None (and it is remembered here)."""
        key = int.from_bytes(hashlib.blake2b(external_id.encode(), digest_size=8).digest())
        before = self._first.get(key)
        if before is not None:
            return Where(self._files[before >> 32], before & 0xFFFFFFFF)
        no = self._file_no.get(where.file)
        if no is None:
            no = self._file_no[where.file] = len(self._files)
            self._files.append(where.file)
        self._first[key] = (no << 32) | where.line
        return None

    def __len__(self) -> int:
        return len(self._first)


class _Findings:
    def __init__(self, raw: RawOrder) -> None:
        self.raw = raw
        self.issues: list[Issue] = list(raw.read_issues)

    def add(
        self,
        code: str,
        field_name: str,
        value: str | None,
        message: str,
        *,
        where: Where | None = None,
        severity: str = "error",
    ) -> None:
        self.issues.append(
            Issue(
                code=code,
                where=where or self.raw.where,
                field=field_name,
                value=value or "",
                message=message,
                external_id=self.raw.external_id,
                severity=severity,
            )
        )

    @property
    def failed(self) -> bool:
        return any(i.severity == "error" for i in self.issues)


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _money(
    f: _Findings,
    value: str | None,
    name: str,
    currency: str | None,
    dialect: Dialect,
    *,
    where: Where | None = None,
) -> Decimal | None:
    """The amount, or None (absent, or refused: the finding is recorded)."""
    if _blank(value):
        return None
    assert value is not None
    text = value.strip()
    if dialect.decimal_comma:
        if _THOUSANDS_COMMA_DECIMAL.fullmatch(text):
            text = text.replace(".", "").replace(",", ".")
        elif "," in text and "." not in text:
            text = text.replace(",", ".")
    if not _DECIMAL.fullmatch(text):
        f.add("money_format", name, value, "not a decimal amount such as 12.50", where=where)
        return None
    amount = Decimal(text)
    if amount < 0:
        f.add("money_format", name, value, "must not be negative", where=where)
        return None
    if currency is not None and is_currency(currency):
        places = minor_units(currency)
        if amount != amount.quantize(Decimal(1).scaleb(-places)):
            f.add(
                "money_decimals",
                name,
                value,
                f"{currency} has {places} decimal place{'s' if places != 1 else ''}",
                where=where,
            )
            return None
    return amount


def _instant(f: _Findings, value: str | None, name: str, dialect: Dialect) -> datetime | None:
    if _blank(value):
        return None
    assert value is not None
    text = value.strip()
    moment: datetime | None = None
    if dialect.date_formats:
        for shape in dialect.date_formats:
            try:
                moment = datetime.strptime(text, shape)
                break
            except ValueError:
                continue
        if moment is None:
            shapes = " or ".join(dialect.date_formats)
            f.add("date_format", name, value, f"not a date in the shape {shapes}")
            return None
    else:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            f.add("date_format", name, value, "not an ISO 8601 date-time")
            return None
    if moment.tzinfo is None:
        if dialect.naive is None:
            f.add("date_format", name, value, "has no time zone offset (e.g. +08:00 or Z)")
            return None
        moment = moment.replace(tzinfo=dialect.naive)
    return moment.astimezone(UTC)


def _quantity(f: _Findings, line: RawLine, at: str) -> int | None:
    text = line.quantity.strip() if line.quantity else ""
    if not text:
        return None
    if not _WHOLE.fullmatch(text) or not 0 < int(text) <= MAX_QUANTITY:
        f.add(
            "quantity",
            f"{at}.quantity",
            line.quantity,
            f"must be a whole number from 1 to {MAX_QUANTITY:,}",
            where=line.where,
        )
        return None
    return int(text)


def _required(f: _Findings, raw: RawOrder, status: ImportStatus | None) -> None:
    for name in ("external_id", "status", "created_at", "total"):
        if _blank(getattr(raw, name)):
            f.add("required", name, None, f"{name} is required")
    if not raw.lines:
        f.add("required", "lines", None, "an order needs at least one line")
    for i, line in enumerate(raw.lines):
        for name in ("sku", "quantity", "unit_price"):
            if _blank(getattr(line, name)):
                f.add(
                    "required",
                    f"lines.{i}.{name}",
                    None,
                    f"a line's {name} is required",
                    where=line.where,
                )
    if _blank(raw.customer_id) and _blank(raw.email):
        f.add("required", "customer_id", None, "the buyer is needed: a customer id or an email")
    if status in OPEN:
        for name in ("ship_name", "ship_line1", "ship_city", "ship_country"):
            if _blank(getattr(raw, name)):
                f.add(
                    "required",
                    name,
                    None,
                    f"{name} is required for an open order (its goods are still to ship)",
                )
        country = (raw.ship_country or "").strip()
        if _blank(raw.ship_postal_code) and country and country not in NO_POSTAL_CODE:
            f.add(
                "required",
                "ship_postal_code",
                None,
                f"a postal code is required for an open order to {country}",
            )


def _status(f: _Findings, raw: RawOrder, dialect: Dialect) -> ImportStatus | None:
    if _blank(raw.status):
        return None
    try:
        return dialect.status_of(raw)
    except StatusProblem as problem:
        f.add(problem.code, "status", raw.status, str(problem))
        return None


def _text(value: str | None) -> str:
    return value.strip() if value else ""


def _opt(value: str | None) -> str | None:
    return value.strip() or None if value else None


def validate(
    raw: RawOrder, checks: Checks, seen: Seen | None = None
) -> tuple[Order | None, list[Issue]]:
    """The order if no rule refused it, and every finding (errors and warnings)."""
    f = _Findings(raw)
    dialect = checks.dialect
    status = _status(f, raw, dialect)
    _required(f, raw, status)

    if raw.external_id and seen is not None:
        before = seen.first(raw.external_id.strip(), raw.where)
        if before is not None:
            f.add(
                "duplicate_external_id",
                "external_id",
                raw.external_id,
                f"already in {before.file} at line {before.line}",
            )

    currency = _text(raw.currency) or dialect.currency
    if currency and not is_currency(currency):
        f.add("currency", "currency", raw.currency, "not an ISO 4217 code (e.g. USD, CNY)")
        currency = None
    elif not currency:
        f.add("required", "currency", None, "currency is required")

    lines: list[Line] = []
    goods = Decimal(0)
    lines_ok = bool(raw.lines)
    for i, rl in enumerate(raw.lines):
        quantity = _quantity(f, rl, f"lines.{i}")
        price = _money(f, rl.unit_price, f"lines.{i}.unit_price", currency, dialect, where=rl.where)
        sku = _text(rl.sku)
        if sku and checks.known_skus is not None and sku not in checks.known_skus:
            if checks.create_skus:
                f.add(
                    "unknown_sku",
                    f"lines.{i}.sku",
                    sku,
                    "a new SKU: it will be created",
                    where=rl.where,
                    severity="warning",
                )
            else:
                f.add(
                    "unknown_sku",
                    f"lines.{i}.sku",
                    sku,
                    "no warehouse has this SKU (add its stock first, or import with --create-skus)",
                    where=rl.where,
                )
        if quantity is None or price is None or not sku:
            lines_ok = False
            continue
        goods += price * quantity
        if currency:
            lines.append(Line(sku, quantity, format_amount(price, currency), _text(rl.line_id)))

    amounts = {
        name: _money(f, getattr(raw, name), name, currency, dialect)
        for name in ("subtotal", "shipping", "discount", "tax", "total", "paid", "refunded")
    }
    shipping = amounts["shipping"] or Decimal(0)
    tax = amounts["tax"] or Decimal(0)
    total = amounts["total"]
    discount = amounts["discount"]
    subtotal = amounts["subtotal"]
    money_read = (
        lines_ok
        and total is not None
        and currency is not None
        and not any(i.code in ("money_format", "money_decimals") for i in f.issues)
    )
    if money_read and total is not None and currency is not None:
        if discount is None and dialect.subtotal_after_discount and subtotal is not None:
            discount = goods - subtotal
            if discount < 0:
                f.add(
                    "total_mismatch",
                    "subtotal",
                    raw.subtotal,
                    f"the lines add up to {format_amount(goods, currency)}, less than the subtotal",
                )
        discount = discount or Decimal(0)
        expected_subtotal = goods - discount if dialect.subtotal_after_discount else goods
        if subtotal is not None and subtotal != expected_subtotal:
            f.add(
                "total_mismatch",
                "subtotal",
                raw.subtotal,
                f"expected {format_amount(expected_subtotal, currency)} from the lines",
            )
        with_tax = goods + shipping + tax - discount
        if total == with_tax:
            pass
        elif tax and total == goods + shipping - discount:
            tax = Decimal(0)  # the prices include the tax: it is part of the lines already
        else:
            f.add(
                "total_mismatch",
                "total",
                raw.total,
                f"lines {format_amount(goods, currency)} + shipping "
                f"{format_amount(shipping, currency)} + tax {format_amount(tax, currency)} - "
                f"discount {format_amount(discount, currency)} = "
                f"{format_amount(with_tax, currency)}",
            )
    else:
        discount = discount or Decimal(0)

    paid = amounts["paid"]
    refunded = amounts["refunded"]
    if total is not None and status is not None:
        if paid is None:
            paid = Decimal(0) if status is ImportStatus.CANCELLED and _blank(raw.paid_at) else total
        if paid > total:
            f.add("paid_mismatch", "paid", raw.paid, f"more than the total {raw.total}")
        elif paid < total and status is not ImportStatus.CANCELLED:
            f.add(
                "paid_mismatch",
                "paid",
                raw.paid,
                f"less than the total {raw.total}",
                severity="warning",
            )
        if refunded is None:
            refunded = paid if status is ImportStatus.REFUNDED else Decimal(0)
        if refunded > paid:
            f.add(
                "refund_over_paid",
                "refunded",
                raw.refunded,
                f"more than was paid ({format_amount(paid, currency or 'USD')})"
                if currency
                else "more than was paid",
            )

    created = _instant(f, raw.created_at, "created_at", dialect)
    moments = {
        name: _instant(f, getattr(raw, name), name, dialect)
        for name in ("paid_at", "shipped_at", "delivered_at", "cancelled_at")
    }
    latest = checks.now + FUTURE_TOLERANCE
    for name, moment in (("created_at", created), *moments.items()):
        if moment is not None and moment > latest:
            f.add("date_future", name, getattr(raw, name), "later than now")
    for later, earlier in (
        ("paid_at", "created_at"),
        ("shipped_at", "paid_at"),
        ("shipped_at", "created_at"),
        ("delivered_at", "shipped_at"),
        ("delivered_at", "created_at"),
        ("cancelled_at", "created_at"),
    ):
        a = moments[later]
        b = created if earlier == "created_at" else moments[earlier]
        if a is not None and b is not None and a < b:
            f.add(
                "date_order",
                later,
                getattr(raw, later),
                f"before {earlier} {getattr(raw, earlier)}",
            )
            break

    _facts(f, raw, status, paid, refunded)

    country = _text(raw.ship_country)
    if country and not is_country(country):
        hint = f" (did you mean {country.upper()}?)" if is_country(country.upper()) else ""
        f.add("country", "ship_country", raw.ship_country, f"not an ISO 3166-1 alpha-2 code{hint}")
    elif country and not _blank(raw.ship_postal_code):
        assert raw.ship_postal_code is not None
        if not postal_code_ok(country, raw.ship_postal_code.strip()):
            f.add(
                "postal_code",
                "ship_postal_code",
                raw.ship_postal_code,
                f"not a postal code of {country}",
            )
    for name in ("phone", "ship_phone"):
        value = _text(getattr(raw, name))
        if value:
            shape = phone_shape(value)
            if shape == "masked":
                f.add(
                    "phone",
                    name,
                    value,
                    "masked by the platform: kept as it is",
                    severity="warning",
                )
            elif shape == "bad":
                f.add("phone", name, value, "not a phone number")
    email = _text(raw.email)
    if email and not email_ok(email):
        f.add("email", "email", raw.email, "not an email address")
    cancelled_by = _text(raw.cancelled_by)
    if cancelled_by and cancelled_by not in CANCELLED_BY:
        f.add(
            "cancelled_by",
            "cancelled_by",
            raw.cancelled_by,
            f"one of {', '.join(sorted(CANCELLED_BY))}",
        )

    if f.failed or status is None or currency is None or total is None or created is None:
        return None, f.issues
    assert paid is not None and refunded is not None
    fmt = format_amount
    return (
        Order(
            where=raw.where,
            external_id=_text(raw.external_id),
            status=status,
            source_status=_text(raw.status),
            created_at=created.isoformat(),
            currency=currency,
            lines=lines,
            subtotal=fmt(goods, currency),
            total=fmt(total, currency),
            shipping=fmt(shipping, currency),
            discount=fmt(discount, currency),
            tax=fmt(tax, currency),
            paid=fmt(paid, currency),
            refunded=fmt(refunded, currency),
            paid_at=_iso(moments["paid_at"]),
            shipped_at=_iso(moments["shipped_at"]),
            delivered_at=_iso(moments["delivered_at"]),
            cancelled_at=_iso(moments["cancelled_at"]),
            payment_method=_text(raw.payment_method) or "imported",
            payment_reference=_text(raw.payment_reference),
            customer_id=_text(raw.customer_id) or email,
            email=email,
            customer_name=_text(raw.customer_name),
            phone=_opt(raw.phone),
            ship_name=_text(raw.ship_name),
            ship_line1=_text(raw.ship_line1),
            ship_line2=_opt(raw.ship_line2),
            ship_city=_text(raw.ship_city),
            ship_region=_opt(raw.ship_region),
            ship_postal_code=_text(raw.ship_postal_code),
            ship_country=country,
            ship_phone=_opt(raw.ship_phone),
            warehouse_id=_opt(raw.warehouse_id),
            tracking_number=_opt(raw.tracking_number),
            carrier=_opt(raw.carrier),
            cancel_reason=_opt(raw.cancel_reason),
            cancelled_by=cancelled_by or None,
            note=_opt(raw.note),
        ),
        f.issues,
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _facts(
    f: _Findings,
    raw: RawOrder,
    status: ImportStatus | None,
    paid: Decimal | None,
    refunded: Decimal | None,
) -> None:
    """What the status says against the other facts. Decided: a delivered order without a
    delivery date, a dispatched one without a shipping date and a cancelled one without a
    cancellation date are accepted (exports often lack them)."""
    if status is None:
        return
    if status is ImportStatus.DISPATCHED and _blank(raw.tracking_number):
        f.add(
            "status_facts",
            "tracking_number",
            None,
            "a dispatched order needs its tracking number: the shipment is followed by it",
        )
    if status is ImportStatus.RESERVED and _blank(raw.warehouse_id):
        f.add(
            "status_facts",
            "warehouse_id",
            None,
            "a reserved order needs the warehouse that holds its stock",
        )
    if status in OPEN and paid is not None and paid == 0:
        f.add("status_facts", "paid", raw.paid, f"a {status.value} order must have been paid")
    if status is ImportStatus.REFUNDED and refunded is not None and refunded == 0:
        f.add("status_facts", "refunded", raw.refunded, "a refunded order with nothing refunded")
    if status not in (ImportStatus.CANCELLED, ImportStatus.REFUNDED) and not _blank(
        raw.cancelled_at
    ):
        f.add(
            "status_facts",
            "cancelled_at",
            raw.cancelled_at,
            f"a {status.value} order cannot have been cancelled",
        )
    if status is ImportStatus.PAID and not _blank(raw.tracking_number):
        f.add(
            "status_facts",
            "tracking_number",
            raw.tracking_number,
            "a paid order (nothing shipped) with a tracking number: is it dispatched?",
            severity="warning",
        )
