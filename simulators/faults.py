"""Fault injection for the simulated partners: how often each one fails, and how.

One ``Faults`` per partner ("gateway", "wms", "carrier"), kept in a ``FaultBook`` that the
simulator endpoints and the courier ask per request. The book is plain data plus a seeded
random generator, so tests can drive it without a server and replay a chaos run by seed.
It is set at start from ``OMS_SIM_FAULTS`` and changed at run time by ``PUT /sim/faults``.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

PARTNERS = ("gateway", "wms", "carrier")
_RATES = ("error_rate", "timeout_rate", "duplicate_rate")


class FaultError(ValueError):
    """An update names an unknown partner or field, or gives a value out of range."""


@dataclass
class Faults:
    # Fraction of requests answered 503 without doing anything (callbacks: not sent).
    error_rate: float = 0.0
    # Fraction of requests processed and committed whose answer is then held back by
    # timeout_s, longer than any client waits: the caller cannot tell it succeeded.
    timeout_rate: float = 0.0
    timeout_s: float = 30.0
    # Added before every answer (and before every callback).
    latency_s: float = 0.0
    # Unix time; until then the partner is down and every request answers 503.
    outage_until: float | None = None


@dataclass
class CarrierFaults(Faults):
    # Fraction of callbacks posted twice with the same event id and body, as real
    # carriers do after a lost acknowledgement.
    duplicate_rate: float = 0.0


class FaultBook:
    def __init__(
        self,
        config: Mapping[str, Any] | None = None,
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._faults: dict[str, Faults] = {
            "gateway": Faults(),
            "wms": Faults(),
            "carrier": CarrierFaults(),
        }
        self._rng = random.Random(seed)
        self._clock = clock
        if config:
            self.update(config)

    def get(self, partner: str) -> Faults:
        return self._faults[partner]

    # --- decisions, one per request ---------------------------------------------------------

    def _roll(self, rate: float) -> bool:
        # No draw for 0 or 1, so a fixed setting never shifts a seeded sequence.
        return rate >= 1 or (rate > 0 and self._rng.random() < rate)

    def in_outage(self, partner: str) -> bool:
        until = self._faults[partner].outage_until
        return until is not None and self._clock() < until

    def should_error(self, partner: str) -> bool:
        return self._roll(self._faults[partner].error_rate)

    def should_timeout(self, partner: str) -> bool:
        return self._roll(self._faults[partner].timeout_rate)

    def should_duplicate(self, partner: str) -> bool:
        return self._roll(getattr(self._faults[partner], "duplicate_rate", 0.0))

    def refusal(self, partner: str) -> str | None:
        """Why this request is refused (answered 503 / callback not sent), or None."""
        if self.in_outage(partner):
            return f"{partner} is down (simulated outage)"
        if self.should_error(partner):
            return f"{partner} temporarily unavailable (simulated error)"
        return None

    def answer_delay(self, partner: str) -> float:
        """Seconds to hold back the answer to a request that was processed."""
        faults = self._faults[partner]
        timeout = faults.timeout_s if self.should_timeout(partner) else 0.0
        return faults.latency_s + timeout

    # --- JSON in and out --------------------------------------------------------------------

    def to_json(self) -> dict[str, dict[str, float | None]]:
        return {name: dataclasses.asdict(f) for name, f in self._faults.items()}

    def update(self, data: Mapping[str, Any]) -> None:
        """Merge ``{partner: {field: value}}``; ``outage_s: N`` means down for N seconds from
        now and 0 clears the outage. All or nothing: a bad entry changes no partner."""
        if not isinstance(data, Mapping):
            raise FaultError("expected an object {partner: {field: value}}")
        staged: dict[str, Faults] = {}
        for partner, fields in data.items():
            if partner not in self._faults:
                raise FaultError(f"unknown partner {partner!r}; known: {', '.join(PARTNERS)}")
            if not isinstance(fields, Mapping):
                raise FaultError(f"{partner}: expected an object {{field: value}}")
            current = self._faults[partner]
            changes: dict[str, Any] = {
                k: self._value(partner, current, k, v) for k, v in fields.items()
            }
            if "outage_s" in changes:
                seconds = changes.pop("outage_s")
                changes["outage_until"] = self._clock() + seconds if seconds else None
            staged[partner] = dataclasses.replace(current, **changes)
        self._faults.update(staged)

    @staticmethod
    def _value(partner: str, current: Faults, name: str, value: Any) -> float | None:
        known = {f.name for f in dataclasses.fields(current)} | {"outage_s"}
        if name not in known:
            names = ", ".join(sorted(known))
            raise FaultError(f"{partner}: unknown field {name!r}; known: {names}")
        if value is None and name == "outage_until":
            return None
        # bool is an int to Python, but "error_rate": true is a mistake worth reporting.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FaultError(f"{partner}.{name}: expected a number")
        if not math.isfinite(value):
            raise FaultError(f"{partner}.{name}: must be finite")
        if value < 0 or (name in _RATES and value > 1):
            limit = "between 0 and 1" if name in _RATES else "0 or more"
            raise FaultError(f"{partner}.{name}: must be {limit}")
        return float(value)
