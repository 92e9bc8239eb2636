"""What happens when an order finds too little stock, per sales channel.

- ``OMS_SHORTAGE``: ``fail`` (the order fails as ``out_of_stock``, the default) or
  ``backorder`` (it keeps its authorization and waits for stock, first come first served);
- ``OMS_SPLIT``: ``on`` (what is in stock ships now, the rest waits; the default) or ``off``
  (the order waits whole).

Both are read as ``"channel:value,..."``, with ``default`` for channels not named; a bare
value sets the default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")

FAIL = "fail"
BACKORDER = "backorder"
SHORTAGE_POLICIES = (FAIL, BACKORDER)
_SWITCH = {"on": True, "off": False, "true": True, "false": False}


def _entries(spec: str, allowed: tuple[str, ...]) -> dict[str, str]:
    chosen: dict[str, str] = {}
    for entry in (e.strip() for e in spec.split(",") if e.strip()):
        channel, sep, value = entry.rpartition(":")
        channel = channel.strip() if sep else "default"
        value = value.strip().lower()
        if not channel or value not in allowed:
            raise ValueError(f"expected channel:{'|'.join(allowed)}, got {entry!r}")
        chosen[channel] = value
    return chosen


def parse_shortage(spec: str) -> dict[str, str]:
    """``"default:fail,webshop:backorder"`` -> channel -> policy."""
    return {"default": FAIL, **_entries(spec, SHORTAGE_POLICIES)}


def parse_split(spec: str) -> dict[str, bool]:
    """``"default:on,marketplace:off"`` (or ``"off"``) -> channel -> split allowed."""
    chosen = _entries(spec, tuple(_SWITCH))
    return {"default": True, **{k: _SWITCH[v] for k, v in chosen.items()}}


def for_channel(policies: Mapping[str, T], channel: str) -> T:
    return policies[channel] if channel in policies else policies["default"]
