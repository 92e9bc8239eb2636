"""Orders: the body of a new order and of an operator's note; the answers that list orders,
their timelines and their payments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from oms.domain.buyer import account_created_at
from oms.domain.iso import CURRENCY_MINOR_UNITS, is_currency
from oms.domain.messages import OrderView
from oms.domain.money import InvalidAmount, parse_amount
from oms.domain.text import (
    MAX_LINES,
    Channel,
    Country,
    Currency,
    DeviceId,
    Email,
    Ident,
    IpAddress,
    Latitude,
    Longitude,
    Note,
    OptionalText,
    PaymentMethod,
    PaymentToken,
    Phone,
    PostalCode,
    Region,
    Sku,
    Strict,
    Text,
    Timestamp,
    UnitPrice,
    amount_core,
    one_of,
    padded,
    strip_padding,
)


class CustomerIn(Strict):
    id: Ident
    email: Email
    name: Text
    created_at: Timestamp | None = Field(
        default=None,
        description="when the buyer's account was made (RFC 3339, with its offset); "
        "a day that does not exist, or a moment more than 5 minutes ahead, is refused",
    )

    @field_validator("created_at")
    @classmethod
    def _account_created_at(cls, value: str | None) -> str | None:
        return None if value is None else account_created_at(value, datetime.now(UTC))


class AddressIn(Strict):
    name: Text
    line1: Text
    line2: OptionalText | None = None
    city: Text
    region: Region | None = None
    postal_code: PostalCode
    country: Country
    lat: Latitude | None = None
    lon: Longitude | None = None
    phone: Phone | None = None


class ClientIn(Strict):
    """Where the buyer ordered from, as the shop saw it."""

    ip: IpAddress | None = None
    device_id: DeviceId | None = None


class LineIn(Strict):
    sku: Sku
    quantity: Annotated[StrictInt, Field(gt=0, le=1_000_000)]
    # Checked against the currency's minor units by the intake, which knows the currency.
    unit_price: UnitPrice


class PaymentIn(Strict):
    method: PaymentMethod
    token: PaymentToken


def price_errors(currency: object, lines: object) -> list[dict[str, str]]:
    """Unit prices that are not decimal strings within the currency's minor units.

    Run on the raw body as well as on a parsed one, so that a body with other faults
    still hears about its prices in the same answer."""
    currency = strip_padding(currency)
    if not isinstance(currency, str) or not is_currency(currency) or not isinstance(lines, list):
        return []
    errors = []
    for i, line in enumerate(lines):
        if not isinstance(line, dict) or "unit_price" not in line:
            continue
        try:
            parse_amount(strip_padding(line["unit_price"]), currency)
        except InvalidAmount as exc:
            errors.append({"field": f"lines.{i}.unit_price", "message": str(exc)})
    return errors


def _prices_by_currency() -> Any:
    """The currencies, grouped by how many decimals their unit prices may have: one
    alternative each. (The patterns live only here, not on the properties too: a generator
    then draws a currency and its prices together instead of filtering mismatches.)"""
    groups = []
    for places in sorted(set(CURRENCY_MINOR_UNITS.values())):
        codes = [c for c, units in CURRENCY_MINOR_UNITS.items() if units == places]
        price = {"type": "string", "pattern": padded(amount_core(places))}
        groups.append(
            {
                "title": f"Currency with {places} decimals",
                "properties": {
                    "currency": {"type": "string", "pattern": padded(one_of(codes))},
                    "lines": {"items": {"properties": {"unit_price": price}}},
                },
            }
        )
    return groups


class OrderCreate(Strict):
    """An order. Besides what the schema states, the intake answers 422 for SKUs that no
    warehouse stocks (``unknown-sku``) and for an order total of 10^12 or more."""

    model_config = ConfigDict(json_schema_extra={"anyOf": _prices_by_currency()})

    channel: Channel
    external_id: Ident
    customer: CustomerIn
    shipping_address: AddressIn
    currency: Currency
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=MAX_LINES)]
    payment: PaymentIn
    client: ClientIn | None = None


def _edit_prices() -> Any:
    """Unit prices with at most the decimals of any currency: the order's own currency
    (stored with the order, so no schema of the edit can name it) may allow fewer."""
    places = max(CURRENCY_MINOR_UNITS.values())
    price = {"type": "string", "pattern": padded(amount_core(places))}
    return [{"properties": {"lines": {"items": {"properties": {"unit_price": price}}}}}]


class OrderEditIn(Strict):
    """An order's complete new lines, checked as an order's lines are at intake: besides
    what the schema states, 422 for a price with more decimals than the order's currency
    has, for SKUs that no warehouse stocks (``unknown-sku``) and for a total of 10^12 or
    more."""

    model_config = ConfigDict(json_schema_extra={"allOf": _edit_prices()})

    lines: Annotated[list[LineIn], Field(min_length=1, max_length=MAX_LINES)]
    reason: Note | None = None  # why, for the timeline


class OperatorNote(Strict):
    reason: Note | None = None
    note: Note | None = None
    # Who decides, for the timeline (``oms orders ... --by``); the key's name otherwise.
    by: Text | None = None


class OrderList(BaseModel):
    items: list[OrderView]
    next_cursor: str | None


class OrderEvent(BaseModel):
    seq: int
    type: str
    status: str
    data: dict[str, Any]
    created_at: str


class OrderEventList(BaseModel):
    items: list[OrderEvent]
    next_cursor: str | None


class PaymentEntry(BaseModel):
    kind: Literal["authorize", "capture", "void", "refund", "adjust"]
    status: Literal["succeeded", "declined", "failed"]
    amount: str
    currency: str
    idempotency_key: str
    gateway_reference: str | None
    error: str | None
    created_at: str


class PaymentList(BaseModel):
    items: list[PaymentEntry]
    next_cursor: str | None


ACTIONS = Literal["cancel", "approve", "reject", "hold", "address", "edit"]


class AcceptedAction(BaseModel):
    """An action the order's workflow accepted, and what follows it."""

    action: ACTIONS
    by: str = Field(description="who acted, as the timeline shows it")
    at_status: str = Field(description="the order's status when its workflow accepted it")
    outcome: str | None = Field(
        description="the status the order reaches once its workflow has carried the action "
        "out; null when it keeps its status or that depends on the order (approve, address)"
    )
    next: str = Field(description="what the order's workflow does next, in words")


class PendingAction(BaseModel):
    """An action sent as a signal because no worker answered in time."""

    action: ACTIONS
    by: str
    detail: str


@dataclass
class OrderActionAnswer(OrderView):
    """The 202 answer of an order action: the order as it is at that moment (most often
    still in the status it was in) with ``accepted_action``, or, when no worker answered in
    time, ``pending_action``."""

    accepted_action: AcceptedAction | None = None
    pending_action: PendingAction | None = None
