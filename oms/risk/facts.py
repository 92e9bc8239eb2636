"""One order as the risk features see it, read from an order view (the read model's JSONB,
or a line of a generated data set: the same shape) so that live scoring and evaluation read
orders the same way.

Missing fields are unknown (None), never guessed: the customer's account creation time and
the client's IP and device id are optional inputs.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from oms.domain.holds import address_key

# Words that mark a parcel locker or a pickup point (case and accents do not count).
LOCKER_WORDS = (
    "packstation",
    "paketstation",
    "postfiliale",
    "locker",
    "pickup point",
    "pick-up point",
    "parcel shop",
    "paketshop",
    "po box",
    "p.o. box",
    "postfach",
    "快递柜",
    "驿站",
    "丰巢",
    "自提",
    "代收点",
)


@dataclass(frozen=True)
class Line:
    sku: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class OrderFacts:
    """What the features read of one order. ``address`` is the normalised delivery point
    (``oms.domain.holds.address_key``), ``phone`` its digits only."""

    id: str
    channel: str
    customer_id: str
    at: datetime
    total: Decimal
    currency: str
    address: str | None = None
    phone: str | None = None
    device: str | None = None
    ip: str | None = None
    account_created: datetime | None = None
    lines: tuple[Line, ...] = field(default_factory=tuple)
    locker: bool = False
    incomplete: bool = False


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 instant (or a datetime); None when absent or unreadable. A time without
    an offset is taken as UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def amount(value: Any) -> Decimal:
    try:
        found = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal(0)
    return found if found.is_finite() else Decimal(0)


def phone_key(value: Any) -> str | None:
    """The phone's digits; None for no phone or one too short to tell people apart (the
    same normalisation as the orders table's phone index)."""
    if not isinstance(value, str):
        return None
    digits = re.sub(r"[^0-9]", "", value)
    return digits if len(digits) >= 5 else None


def _count(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def looks_like_locker(*parts: str | None) -> bool:
    text = unicodedata.normalize("NFKC", " ".join(p for p in parts if p)).lower()
    return any(word in text for word in LOCKER_WORDS)


def looks_incomplete(line1: str | None, city: str | None, postal_code: str | None) -> bool:
    """No street, no city, or a street line without a house number or a word of substance
    (``x``, ``..``): the kind of address a farm types to get a parcel label."""
    line = (line1 or "").strip()
    if not line or not (city or "").strip() or not (postal_code or "").strip():
        return True
    meaningful = [ch for ch in line if ch.isalnum()]
    return len(meaningful) < 4


def from_view(view: dict[str, Any], at: datetime | None = None) -> OrderFacts:
    """The facts of an order view (``OrderView`` as JSON). ``at`` is when the order was
    taken (the orders row's ``created_at``); the view's own ``created_at`` otherwise."""
    customer = view.get("customer") or {}
    ship = view.get("shipping_address") or {}
    client = view.get("client") or {}
    moment = at or parse_time(view.get("created_at")) or datetime.now(UTC)
    key = address_key(
        str(ship.get("line1") or ""),
        str(ship.get("postal_code") or ""),
        str(ship.get("city") or ""),
        str(ship.get("country") or ""),
        str(ship.get("line2") or ""),
    )
    lines = tuple(
        Line(str(x.get("sku") or ""), _count(x.get("quantity")), amount(x.get("unit_price")))
        for x in view.get("lines") or []
        if isinstance(x, dict)
    )
    totals = view.get("totals") or {}
    return OrderFacts(
        id=str(view.get("id") or ""),
        channel=str(view.get("channel") or ""),
        customer_id=str(customer.get("id") or ""),
        at=moment,
        total=amount(totals.get("total")),
        currency=str(view.get("currency") or "").upper(),
        address=key or None,
        phone=phone_key(ship.get("phone")),
        device=_text(client.get("device_id")) if isinstance(client, dict) else None,
        ip=_text(client.get("ip")) if isinstance(client, dict) else None,
        account_created=parse_time(customer.get("created_at")),
        lines=lines,
        locker=looks_like_locker(ship.get("line1"), ship.get("line2"), ship.get("name")),
        incomplete=looks_incomplete(ship.get("line1"), ship.get("city"), ship.get("postal_code")),
    )
