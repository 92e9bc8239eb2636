"""The strings a request may hold, stated so that the OpenAPI document says exactly what
the server takes, and ``Strict``, the base of every request body.

Strings: no control character other than tab, line feed and carriage return (PostgreSQL
cannot store NUL), and the spaces, tabs and line breaks around a value in an order, a key or
an operator's note are removed before it is checked. Each pattern in the document allows
that padding, and each length limit counts the string as sent; checked values are stored
without the padding.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StrictFloat,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from oms.domain.iso import COUNTRY_CODES, is_country, is_currency

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


def strip_padding(value: object) -> object:
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
        return strip_padding(value)

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
    BeforeValidator(strip_padding),
    Field(pattern=SKU_PATTERN, json_schema_extra=_matching_schema(SKU_CORE)),
]
Ident = Annotated[
    str,
    BeforeValidator(strip_padding),
    Field(pattern=rf"^{IDENT_CORE}$", json_schema_extra=_matching_schema(IDENT_CORE)),
]
Channel = Annotated[
    str,
    BeforeValidator(strip_padding),
    Field(pattern=CHANNEL_PATTERN, json_schema_extra=_matching_schema(CHANNEL_CORE)),
]
WarehouseId = Annotated[
    str,
    BeforeValidator(strip_padding),
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
# A phone number: digits with an optional leading +, spaces, dashes, dots, slashes and
# brackets between them; 6 to 15 digits (E.164 allows 15).
PHONE_CORE = r"\+?[ (]?(?:[0-9][ ().\-/]{0,2}){6,15}"
Phone = Annotated[
    str,
    BeforeValidator(_raw_length(40)),
    Field(
        pattern=rf"^{PHONE_CORE}$",
        json_schema_extra={"pattern": padded(PHONE_CORE), "maxLength": 40},
    ),
]
# An opaque device id as the channel's storefront made it (a cookie, an app install id).
DeviceId = Annotated[
    str,
    BeforeValidator(_raw_length(128)),
    AfterValidator(_not_blank),
    Field(json_schema_extra=_text_schema(128)),
]
# A moment with its offset (RFC 3339), such as 2024-05-01T09:30:00+02:00; the day must
# exist (a rule the pattern cannot state, like "not in the future" where a field says so).
TIMESTAMP_CORE = (
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3])"
    r":[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
Timestamp = Annotated[
    str,
    BeforeValidator(strip_padding),
    Field(pattern=rf"^{TIMESTAMP_CORE}$", json_schema_extra=_matching_schema(TIMESTAMP_CORE)),
]


def _ip_address(value: str) -> str:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("must be an IPv4 or IPv6 address such as 203.0.113.7") from None
    return address.compressed


# An IPv4 or IPv6 address, taken as sent (no padding), kept in its compressed form.
IpAddress = Annotated[
    str,
    AfterValidator(_ip_address),
    Field(
        max_length=45,
        json_schema_extra={"anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]},
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
    BeforeValidator(strip_padding),
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
    BeforeValidator(strip_padding),
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
    BeforeValidator(strip_padding),
    AfterValidator(_currency_code),
    Field(description="an ISO 4217 currency code (upper case), such as EUR"),
    STATED,
]


def check_printable(value: object) -> object:
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
        return check_printable(value)

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
