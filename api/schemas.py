"""Request bodies, and the strings they accept, stated so that the OpenAPI document says
exactly what the server takes; the shapes of the answers; the error answers of a route.

Strings: no control character other than tab, line feed and carriage return (PostgreSQL
cannot store NUL), and the spaces, tabs and line breaks around a value in an order, a key or
an operator's note are removed before it is checked. Each pattern in the document allows
that padding, and each length limit counts the string as sent; checked values are stored
without the padding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StrictFloat,
    StrictInt,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from oms.domain.iso import COUNTRY_CODES, CURRENCY_MINOR_UNITS, is_country, is_currency
from oms.domain.messages import OrderView
from oms.domain.money import InvalidAmount, parse_amount

# --- strings -------------------------------------------------------------------------------

PADDING = " \t\n\r"
PAD = r"[ \t\n\r]*"
# A character any string may hold, and one that may start or end a value (no padding).
CHAR = r"[^\x00-\x08\x0B\x0C\x0E-\x1F]"
SOLID = r"[^\x00-\x20]"
# Any string of allowed characters (partner events and free filters: nothing is stripped).
PRINTABLE = rf"^{CHAR}*$"

CHANNEL_CORE = r"[a-z0-9][a-z0-9_\-]{0,63}"
SKU_CORE = r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}"
IDENT_CORE = r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}"
# No '@', control character or space of any kind in the parts of an address (spelled out,
# not \s: regex dialects disagree on what \s covers).
EMAIL_PART = r"[^@\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\uFEFF]+"
EMAIL_CORE = rf"{EMAIL_PART}@{EMAIL_PART}\.{EMAIL_PART}"
WAREHOUSE_CORE = r"[A-Za-z0-9][A-Za-z0-9_\-]{0,63}"
CHANNEL_PATTERN = rf"^{CHANNEL_CORE}$"
WAREHOUSE_PATTERN = rf"^{WAREHOUSE_CORE}$"
SKU_PATTERN = rf"^{SKU_CORE}$"
MAX_LINES = 500


class _Stated:
    """Marks a string type whose schema states its rule elsewhere (OrderCreate)."""


STATED = _Stated()
# A string schema with one of these says what it takes already.
_STATED_KEYS = {"pattern", "enum", "const", "format"}


def padded(core: str) -> str:
    """The pattern of a value matching ``core`` once its padding is removed."""
    return rf"^{PAD}(?:{core}){PAD}$"


def one_of(codes: Iterable[str]) -> str:
    return "|".join(sorted(codes))


def _strip(value: object) -> object:
    return value.strip(PADDING) if isinstance(value, str) else value


def _raw_length(max_length: int) -> Callable[[object], object]:
    """Checks the length of the string as sent, then removes its padding."""

    def check(value: object) -> object:
        if isinstance(value, str) and len(value) > max_length:
            raise PydanticCustomError(
                "string_too_long",
                "String should have at most {max_length} characters",
                {"max_length": max_length},
            )
        return _strip(value)

    return check


def _not_blank(value: str) -> str:
    if not value:
        raise PydanticCustomError(
            "string_too_short", "String should have at least 1 character", {"min_length": 1}
        )
    return value


def _text_schema(max_length: int, *, blank: bool = False) -> dict[str, Any]:
    pattern = PRINTABLE if blank else padded(rf"{SOLID}(?:{CHAR}*{SOLID})?")
    return {"pattern": pattern, "maxLength": max_length}


def _matching_schema(core: str) -> dict[str, Any]:
    return {"pattern": padded(core)}


# Free text: at most N characters as sent, not only padding (``Text``) or possibly empty.
Text = Annotated[
    str,
    BeforeValidator(_raw_length(200)),
    AfterValidator(_not_blank),
    Field(json_schema_extra=_text_schema(200)),
]
PostalCode = Annotated[
    str,
    BeforeValidator(_raw_length(20)),
    AfterValidator(_not_blank),
    Field(json_schema_extra=_text_schema(20)),
]
PaymentMethod = Annotated[
    str,
    BeforeValidator(_raw_length(32)),
    AfterValidator(_not_blank),
    Field(json_schema_extra=_text_schema(32)),
]
PaymentToken = Annotated[
    str,
    BeforeValidator(_raw_length(256)),
    AfterValidator(_not_blank),
    Field(json_schema_extra=_text_schema(256)),
]
OptionalText = Annotated[
    str, BeforeValidator(_raw_length(200)), Field(json_schema_extra=_text_schema(200, blank=True))
]
Region = Annotated[
    str, BeforeValidator(_raw_length(100)), Field(json_schema_extra=_text_schema(100, blank=True))
]
Note = Annotated[
    str, BeforeValidator(_raw_length(500)), Field(json_schema_extra=_text_schema(500, blank=True))
]
# An operator's reason that must say something (a manual hold, say).
Reason = Annotated[
    str,
    BeforeValidator(_raw_length(500)),
    AfterValidator(_not_blank),
    Field(json_schema_extra=_text_schema(500)),
]
# Identifiers: a pattern, once the padding is removed.
Sku = Annotated[
    str,
    BeforeValidator(_strip),
    Field(pattern=SKU_PATTERN, json_schema_extra=_matching_schema(SKU_CORE)),
]
Ident = Annotated[
    str,
    BeforeValidator(_strip),
    Field(pattern=rf"^{IDENT_CORE}$", json_schema_extra=_matching_schema(IDENT_CORE)),
]
Channel = Annotated[
    str,
    BeforeValidator(_strip),
    Field(pattern=CHANNEL_PATTERN, json_schema_extra=_matching_schema(CHANNEL_CORE)),
]
WarehouseId = Annotated[
    str,
    BeforeValidator(_strip),
    Field(pattern=WAREHOUSE_PATTERN, json_schema_extra=_matching_schema(WAREHOUSE_CORE)),
]
Email = Annotated[
    str,
    BeforeValidator(_raw_length(254)),
    Field(
        pattern=rf"^{EMAIL_CORE}$",
        json_schema_extra={"pattern": padded(EMAIL_CORE), "maxLength": 254},
    ),
]
# Money: a decimal string; how many decimals depends on the currency (see OrderCreate).
AMOUNT_CORE = r"(?:0|[1-9][0-9]{0,14})"


def amount_core(places: int) -> str:
    """A decimal string with at most ``places`` decimals (as ``oms.domain.money`` reads)."""
    return AMOUNT_CORE + (rf"(?:\.[0-9]{{1,{places}}})?" if places else "")


# A decimal string with at most the currency's minor units: OrderCreate states the pattern.
UnitPrice = Annotated[
    str,
    BeforeValidator(_strip),
    Field(description="a decimal string with at most the currency's decimals, such as 19.90"),
    STATED,
]


# JSON numbers only (not strings, not booleans).
Latitude = Annotated[StrictFloat, Field(ge=-90, le=90)]
Longitude = Annotated[StrictFloat, Field(ge=-180, le=180)]


def _country_code(value: str) -> str:
    if not is_country(value):
        raise ValueError("must be an ISO 3166-1 alpha-2 country code such as 'DE'")
    return value


def _currency_code(value: str) -> str:
    if not is_currency(value):
        raise ValueError("must be an ISO 4217 currency code such as 'EUR'")
    return value


Country = Annotated[
    str,
    BeforeValidator(_strip),
    AfterValidator(_country_code),
    Field(
        json_schema_extra={
            "pattern": padded(one_of(COUNTRY_CODES)),
            "description": "an ISO 3166-1 alpha-2 country code (upper case), such as DE",
        }
    ),
]
# Its pattern is stated by OrderCreate, together with the unit prices it allows.
Currency = Annotated[
    str,
    BeforeValidator(_strip),
    AfterValidator(_currency_code),
    Field(description="an ISO 4217 currency code (upper case), such as EUR"),
    STATED,
]


def _printable(value: object) -> object:
    # PostgreSQL cannot store NUL in text or JSON; refuse it (and other control
    # characters) at the door with a 422 naming the field.
    if isinstance(value, str) and any(
        (ord(c) < 32 and c not in "\t\n\r") or 0xD800 <= ord(c) <= 0xDFFF for c in value
    ):
        raise ValueError("must not contain control characters or unpaired surrogates")
    return value


class Strict(BaseModel):
    """A request body: unknown fields are refused, and so is any control character other
    than tab, line feed and carriage return in a string. A plain ``str`` field (without
    one of the types above) is taken as sent, and its schema says that it may not hold
    such characters."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        return _printable(value)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        for name, prop in target.get("properties", {}).items():
            field = cls.model_fields.get(name)
            if field is None or STATED in field.metadata:
                continue
            for option in [prop, *prop.get("anyOf", [])]:
                plain = option.get("type") == "string" and not option.keys() & _STATED_KEYS
                if plain:
                    option["pattern"] = PRINTABLE
        return schema


class CustomerIn(Strict):
    id: Ident
    email: Email
    name: Text


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
    currency = _strip(currency)
    if not isinstance(currency, str) or not is_currency(currency) or not isinstance(lines, list):
        return []
    errors = []
    for i, line in enumerate(lines):
        if not isinstance(line, dict) or "unit_price" not in line:
            continue
        try:
            parse_amount(_strip(line["unit_price"]), currency)
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


class OperatorNote(Strict):
    reason: Note | None = None
    note: Note | None = None
    # Who decides, for the timeline (``oms orders ... --by``); the key's name otherwise.
    by: Text | None = None


class WarehouseCreate(Strict):
    id: WarehouseId
    name: Text
    country: Country
    lat: Latitude
    lon: Longitude
    priority: Annotated[StrictInt, Field(ge=0, le=1_000_000)] = 100


MAX_ON_HAND = 1_000_000_000


class StockSet(Strict):
    on_hand: Annotated[StrictInt, Field(ge=0, le=MAX_ON_HAND)]


class StockAdjust(Strict):
    delta: Annotated[
        StrictInt,
        Field(
            ge=-MAX_ON_HAND,
            le=MAX_ON_HAND,
            json_schema_extra={"not": {"const": 0}},
            description="not zero",
        ),
    ]
    reason: Text

    @field_validator("delta")
    @classmethod
    def _non_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must not be zero")
        return value


class KeyCreate(Strict):
    """A key. A channel key without ``channel`` takes its name as the channel, so the name
    must then be a channel name."""

    model_config = ConfigDict(
        json_schema_extra={
            "if": {
                "properties": {"role": {"const": "channel"}, "channel": {"type": "null"}},
                "required": ["role"],
            },
            "then": {"properties": {"name": {"pattern": padded(CHANNEL_CORE)}}},
        }
    )

    name: Text
    role: Literal["channel", "operator", "admin"]
    channel: Channel | None = None


class PartnerEvent(BaseModel):
    """A partner's event. Unknown fields are ignored; nothing is stripped."""

    model_config = ConfigDict(extra="ignore")

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        return _printable(value)


def _event_text(min_length: int, max_length: int | None) -> Any:
    return Field(
        min_length=min_length, max_length=max_length, json_schema_extra={"pattern": PRINTABLE}
    )


class WarehouseEventIn(PartnerEvent):
    event_id: Annotated[str, _event_text(1, 128)]
    type: Literal["shipped"]
    shipment_id: Annotated[str, _event_text(1, 128)]
    tracking_number: Annotated[str, _event_text(1, 64)]
    carrier: Annotated[str, _event_text(0, 64)] | None = None
    occurred_at: Annotated[str, _event_text(0, None)] | None = None


class CarrierEventIn(PartnerEvent):
    event_id: Annotated[str, _event_text(1, 128)]
    tracking_number: Annotated[str, _event_text(1, 64)]
    status: Literal["in_transit", "out_for_delivery", "delivered"]
    carrier: Annotated[str, _event_text(0, 64)] | None = None
    occurred_at: Annotated[str, _event_text(0, None)] | None = None


# --- answers -------------------------------------------------------------------------------
# Documented with these models; the routers build plain dicts of the same shape.


class Warehouse(BaseModel):
    id: str
    name: str
    country: str
    lat: float
    lon: float
    priority: int


class WarehouseList(BaseModel):
    items: list[Warehouse]
    next_cursor: str | None


class StockLevel(BaseModel):
    """One SKU in one warehouse, after a change."""

    warehouse_id: str
    sku: str
    on_hand: int
    reserved: int
    available: int


class WarehouseStock(BaseModel):
    warehouse_id: str
    on_hand: int
    reserved: int
    available: int
    as_of: str | None = None  # of the last level synced (POST /v1/stock/sync)
    source: str | None = None


def _date_time_text(value: object) -> object:
    if not isinstance(value, str):
        raise PydanticCustomError("date_time_text", "an RFC 3339 date-time string")
    return value


class SyncItem(Strict):
    warehouse_id: WarehouseId
    sku: Sku
    on_hand: Annotated[StrictInt, Field(ge=0, le=MAX_ON_HAND)]
    # An RFC 3339 date-time with its offset (a string: no epoch numbers).
    as_of: Annotated[AwareDatetime, BeforeValidator(_date_time_text)]


class StockSync(Strict):
    """Absolute levels from a source (ERP, WMS), each with the source's own time."""

    source: Ident
    items: Annotated[list[SyncItem], Field(min_length=1, max_length=10_000)]


class SyncOutcome(BaseModel):
    index: int
    warehouse_id: str
    sku: str
    reason: str | None = None
    on_hand: int | None = None
    shortfall: int | None = None


class SyncReport(BaseModel):
    applied: list[SyncOutcome]
    ignored: list[SyncOutcome]
    rejected: list[SyncOutcome]


class SkuStock(BaseModel):
    sku: str
    available: int
    warehouses: list[WarehouseStock]


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
    kind: Literal["authorize", "capture", "void", "refund"]
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


class KeyCreated(BaseModel):
    """A new key; ``key`` is the secret, shown this once."""

    id: int
    name: str
    role: Literal["channel", "operator", "admin"]
    channel: str | None
    key: str


class KeyInfo(BaseModel):
    id: int
    name: str
    role: Literal["channel", "operator", "admin"]
    channel: str | None
    prefix: str
    created_at: str
    revoked_at: str | None


class KeyList(BaseModel):
    items: list[KeyInfo]
    next_cursor: str | None


def answer(model: type[BaseModel] | type[Any], description: str) -> dict[str, Any]:
    """The OpenAPI entry of a success answer."""
    return {"model": model, "description": description}


# The OpenAPI schema of a problem, inline in each error answer: FastAPI would file a
# response model under application/json, and problems are application/problem+json.
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details, as every error of this API is answered. Some "
    "problems add members: ``skus`` (unknown-sku), ``order_id`` (idempotency-conflict), "
    "``order_status`` (invalid-state), ``dependency`` (503).",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


PROBLEM_DESCRIPTIONS = {
    401: "No API key, or an unknown or revoked one (``unauthenticated``).",
    403: "The key's role may not do this (``forbidden``).",
    404: "Not found (``not-found``).",
    409: "The request conflicts with the current state.",
    413: "The body is larger than the limit (``body-too-large``).",
    422: "The request is invalid (``validation-error``); ``errors`` names each field.",
    503: "The database or Temporal is not available (``dependency`` names it); nothing was "
    "done, retry after ``Retry-After`` seconds.",
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before retrying",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}


def problems(*codes: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers of a route: each code it can answer with, as
    ``application/problem+json``. ``descriptions`` (``_409="..."``) say what a code means
    for this route."""
    entries: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {
            "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}},
            "description": descriptions.get(f"_{code}", PROBLEM_DESCRIPTIONS.get(code, "")),
        }
        if code == 503:
            entry["headers"] = RETRY_AFTER
        entries[code] = entry
    return entries
