"""Reading a platform's JSON without trusting it.

Small typed getters that turn a missing field, a wrong type or an unreadable timestamp
into a :class:`MappingError` naming the platform's field path, so that adapters read
``text(p, "order_sn")`` instead of ``p["order_sn"]`` and never leak a ``KeyError``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from oms.channels.errors import MappingError
from oms.domain.iso import COUNTRY_CODES

# Taobao, JD and PDD write local time in China without an offset.
CHINA = timezone(timedelta(hours=8))
_DIGITS = re.compile(r"^[0-9]{1,40}$")


def obj(payload: object, field: str = "payload") -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise MappingError(field, f"must be an object, got {type(payload).__name__}")
    return payload


def child(payload: dict[str, Any], key: str, field: str | None = None) -> dict[str, Any]:
    return obj(payload.get(key), field or key)


def items(payload: dict[str, Any], key: str, field: str | None = None) -> list[Any]:
    value = payload.get(key)
    if not isinstance(value, list):
        raise MappingError(field or key, "must be a list")
    return value


def opt_items(payload: dict[str, Any], key: str, field: str | None = None) -> list[Any]:
    """An optional list: [] when absent or null."""
    if payload.get(key) is None:
        return []
    return items(payload, key, field)


def text(payload: dict[str, Any], key: str, field: str | None = None) -> str:
    """A required non-empty string (a number is accepted and written as its digits)."""
    value = payload.get(key)
    if isinstance(value, bool) or value is None:
        raise MappingError(field or key, "is required")
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise MappingError(field or key, "must be a non-empty string")
    return value.strip()


def opt_text(payload: dict[str, Any], key: str, field: str | None = None) -> str | None:
    """An optional string: None when absent, null or blank."""
    value = payload.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise MappingError(field or key, "must be a string")
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise MappingError(field or key, "must be a string")
    return value.strip() or None


def ident(payload: dict[str, Any], key: str, field: str | None = None) -> str:
    """An id that may be a big integer: an int or a string, never a float (a float has
    already lost the low digits of a Taobao tid or a Shopify id)."""
    value = payload.get(key)
    if isinstance(value, float):
        raise MappingError(field or key, "must be an integer or a string, never a float")
    return text(payload, key, field)


def digits_id(payload: dict[str, Any], key: str, field: str | None = None) -> str:
    """An id made of digits only (Shopify, WooCommerce, Taobao tid)."""
    value = ident(payload, key, field)
    if not _DIGITS.fullmatch(value):
        raise MappingError(field or key, f"must be digits, got {value!r}")
    return value


def quantity(payload: dict[str, Any], key: str, field: str | None = None) -> int:
    """A positive whole quantity: an int, or a string of digits (JD's itemTotal)."""
    value = payload.get(key)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 1_000_000:
        raise MappingError(field or key, f"must be a whole quantity of 1 or more, got {value!r}")
    return value


def country(value: object, field: str) -> str:
    if not isinstance(value, str) or value not in COUNTRY_CODES:
        raise MappingError(field, f"not an ISO 3166-1 alpha-2 country code: {value!r}")
    return value


def timestamp(value: object, field: str, *, naive: timezone = UTC) -> str:
    """An ISO 8601 timestamp with its offset. A timestamp without one is read in ``naive``
    (UTC for WooCommerce's *_gmt fields, China time for Taobao, JD and PDD); "Z" is UTC."""
    if not isinstance(value, str) or not value.strip():
        raise MappingError(field, "must be a timestamp")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise MappingError(field, f"not an ISO 8601 timestamp: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=naive)
    return moment.isoformat()


def opt_timestamp(value: object, field: str, *, naive: timezone = UTC) -> str | None:
    if value is None or value == "" or value == "0000-00-00 00:00:00":
        return None
    return timestamp(value, field, naive=naive)


def loose_timestamp(value: object, *, naive: timezone = UTC) -> str | None:
    """An optional fact beside the order (an account's creation): its timestamp, or None
    when it is absent or unreadable. Such a fact never stops the order being taken."""
    try:
        return opt_timestamp(value, "", naive=naive)
    except MappingError:
        return None


def loose_text(payload: dict[str, Any], key: str) -> str | None:
    """An optional string beside the order (a browser's IP address): None when absent or
    not a string, never a mapping error."""
    value = payload.get(key)
    return value.strip() or None if isinstance(value, str) else None


def placeholder_email(external_id: str, platform: str) -> str:
    """For platforms that never disclose the buyer's email (Taobao, JD, PDD, and Amazon
    orders without BuyerEmail): an address in the reserved ``.invalid`` domain, which no
    message can ever reach, so the order model's required email is filled honestly."""
    local = re.sub(r"[^A-Za-z0-9._-]", "-", external_id)[:64] or "order"
    return f"{local}@{platform}.invalid"
