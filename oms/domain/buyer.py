"""The buyer's facts beside the order that risk checks read: when the buyer's account was
made, and where the order came from (IP address, device). Pure checks, shared by the API's
request schema and the channels' mapping: the API refuses a bad value (422), a channel's
bad value is dropped (the order is still taken without it)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

# A platform's clock may run a little ahead of ours.
CLOCK_SKEW = timedelta(minutes=5)
MAX_DEVICE_ID = 128


def account_created_at(value: str, now: datetime) -> str:
    """The account's creation moment in UTC (ISO 8601), or ValueError: not a moment with
    an offset, a day that does not exist, or after ``now`` (beyond the clock skew)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a date-time that exists, such as 2024-05-01T09:30:00Z") from None
    if moment.tzinfo is None:
        raise ValueError("must carry its offset (Z or +hh:mm)")
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("must be a date-time that exists, such as 2024-05-01T09:30:00Z") from None
    if moment > now + CLOCK_SKEW:
        raise ValueError("must not be in the future")
    return moment.isoformat()


def optional_created_at(value: str | None, now: datetime) -> str | None:
    """A channel's account creation moment, or None when it is absent or unusable."""
    if not value:
        return None
    try:
        return account_created_at(value, now)
    except ValueError:
        return None


def client_ip(value: object) -> str | None:
    """An IPv4 or IPv6 address in its compressed form, or None when ``value`` is none."""
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.ip_address(value.strip()).compressed
    except ValueError:
        return None


def device_id(value: object) -> str | None:
    """An opaque device id: a non-blank printable string of at most 128 characters."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > MAX_DEVICE_ID or not value.isprintable():
        return None
    return value
