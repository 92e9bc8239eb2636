"""Which system handles a channel's new order: the OMS (``live``) or the current system
(the OMS only records what it would do: ``shadow``).

A channel in ``live`` mode hands every order to the OMS. A channel in ``shadow`` mode may
run a pilot: orders shipping to one of its ``live_countries`` are the OMS's, the rest stay
in shadow. The mode is decided once per order, at intake, in the transaction that writes
the order's row and under the lock a switch takes (``oms.store.channels.intake_gate``), so
an order gets the mode the channel had at the order's ``created_at``: a switch applies to
exactly the orders taken from its ``mode_changed_at`` on. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

from oms.channels.config import Mode
from oms.domain.iso import is_country


def mode_for(mode: str, live_countries: Iterable[str], country: str) -> str:
    """``live`` or ``shadow`` for an order shipping to ``country``."""
    if mode != Mode.SHADOW:
        return Mode.LIVE.value
    return Mode.LIVE.value if country.upper() in set(live_countries) else Mode.SHADOW.value


def parse_countries(value: str | Iterable[str]) -> tuple[str, ...]:
    """Country codes from ``DE,AT`` (or a list), upper-cased, each once, sorted; '' is none.
    ValueError naming the codes that are not ISO 3166-1 alpha-2."""
    items = value.split(",") if isinstance(value, str) else list(value)
    codes = sorted({str(c).strip().upper() for c in items if str(c).strip()})
    bad = [c for c in codes if not is_country(c)]
    if bad:
        raise ValueError(f"not ISO 3166-1 alpha-2 country codes: {', '.join(bad)}")
    return tuple(codes)
