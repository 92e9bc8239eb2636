"""Request bodies. Responses are the order view and small dicts built by the routers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, field_validator

from oms.domain.iso import is_country, is_currency
from oms.domain.money import InvalidAmount, parse_amount

CHANNEL_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,63}$"
SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$"
Sku = Annotated[str, Field(pattern=SKU_PATTERN)]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")]
MAX_LINES = 500


def _country_code(value: str) -> str:
    if not is_country(value):
        raise ValueError("must be an ISO 3166-1 alpha-2 country code such as 'DE'")
    return value


def _currency_code(value: str) -> str:
    if not is_currency(value):
        raise ValueError("must be an ISO 4217 currency code such as 'EUR'")
    return value


Country = Annotated[str, AfterValidator(_country_code)]
Currency = Annotated[str, AfterValidator(_currency_code)]


def _printable(value: object) -> object:
    # PostgreSQL cannot store NUL in text or JSON; refuse it (and other control
    # characters) at the door with a 422 naming the field.
    if isinstance(value, str) and any(
        (ord(c) < 32 and c not in "\t\n\r") or 0xD800 <= ord(c) <= 0xDFFF for c in value
    ):
        raise ValueError("must not contain control characters or unpaired surrogates")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        return _printable(value)


class CustomerIn(Strict):
    id: Ident
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
    name: Text


class AddressIn(Strict):
    name: Text
    line1: Text
    line2: Annotated[str, Field(max_length=200)] | None = None
    city: Text
    region: Annotated[str, Field(max_length=100)] | None = None
    postal_code: Annotated[str, Field(min_length=1, max_length=20)]
    country: Country
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None


class LineIn(Strict):
    sku: Sku
    quantity: Annotated[StrictInt, Field(gt=0, le=1_000_000)]
    # Checked against the currency's minor units by the intake, which knows the currency.
    unit_price: Annotated[str, Field(max_length=32)]


class PaymentIn(Strict):
    method: Annotated[str, Field(min_length=1, max_length=32)]
    token: Annotated[str, Field(min_length=1, max_length=256)]


def price_errors(currency: object, lines: object) -> list[dict[str, str]]:
    """Unit prices that are not decimal strings within the currency's minor units.

    Run on the raw body as well as on a parsed one, so that a body with other faults
    still hears about its prices in the same answer."""
    if not isinstance(currency, str) or not is_currency(currency) or not isinstance(lines, list):
        return []
    errors = []
    for i, line in enumerate(lines):
        if not isinstance(line, dict) or "unit_price" not in line:
            continue
        try:
            parse_amount(line["unit_price"], currency)
        except InvalidAmount as exc:
            errors.append({"field": f"lines.{i}.unit_price", "message": str(exc)})
    return errors


class OrderCreate(Strict):
    channel: Annotated[str, Field(pattern=CHANNEL_PATTERN)]
    external_id: Ident
    customer: CustomerIn
    shipping_address: AddressIn
    currency: Currency
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=MAX_LINES)]
    payment: PaymentIn


class OperatorNote(Strict):
    reason: Annotated[str, Field(max_length=500)] | None = None
    note: Annotated[str, Field(max_length=500)] | None = None


class WarehouseCreate(Strict):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")]
    name: Text
    country: Country
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    priority: Annotated[StrictInt, Field(ge=0, le=1_000_000)] = 100


class StockSet(Strict):
    on_hand: Annotated[StrictInt, Field(ge=0, le=1_000_000_000)]


class StockAdjust(Strict):
    delta: Annotated[StrictInt, Field(ge=-1_000_000_000, le=1_000_000_000)]
    reason: Text

    @field_validator("delta")
    @classmethod
    def _non_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must not be zero")
        return value


class KeyCreate(Strict):
    name: Text
    role: Literal["channel", "operator", "admin"]
    channel: Annotated[str, Field(pattern=CHANNEL_PATTERN)] | None = None


class PartnerEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        return _printable(value)


class WarehouseEventIn(PartnerEvent):
    event_id: Annotated[str, Field(min_length=1, max_length=128)]
    type: Literal["shipped"]
    shipment_id: Annotated[str, Field(min_length=1, max_length=128)]
    tracking_number: Annotated[str, Field(min_length=1, max_length=64)]
    carrier: Annotated[str, Field(max_length=64)] | None = None
    occurred_at: str | None = None


class CarrierEventIn(PartnerEvent):
    event_id: Annotated[str, Field(min_length=1, max_length=128)]
    tracking_number: Annotated[str, Field(min_length=1, max_length=64)]
    status: Literal["in_transit", "out_for_delivery", "delivered"]
    carrier: Annotated[str, Field(max_length=64)] | None = None
    occurred_at: str | None = None


class FieldError(BaseModel):
    field: str
    message: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, as every error of this API is answered."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


def problems(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI entries for the error answers of a route."""
    return {
        code: {"model": ProblemDetails, "content": {"application/problem+json": {}}}
        for code in codes
    }
