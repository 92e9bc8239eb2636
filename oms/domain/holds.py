"""Hold rules: which orders wait for an operator's approval before stock is reserved.

Pure functions over the facts an activity gathers; thresholds come from settings. Each rule
has its own reason code, and the reasons come out in a fixed order, so the same facts give
the same hold every time.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

HIGH_VALUE = "high_value"
NEW_CUSTOMER_HIGH_VALUE = "new_customer_high_value"
ADDRESS_VELOCITY = "address_velocity"
RESTRICTED_COUNTRY = "restricted_country"
MANUAL = "manual"
# The fake-order risk score at or over OMS_RISK_HOLD_SCORE (oms.risk); after the rules.
RISK_SCORE = "risk_score"
RULE_ORDER = (HIGH_VALUE, NEW_CUSTOMER_HIGH_VALUE, ADDRESS_VELOCITY, RESTRICTED_COUNTRY, MANUAL)


def parse_thresholds(spec: str) -> dict[str, Decimal]:
    """``"EUR:1000,USD:1000"`` -> ``{"EUR": Decimal(1000), ...}``; ValueError if malformed."""
    thresholds: dict[str, Decimal] = {}
    for entry in (e.strip() for e in spec.split(",") if e.strip()):
        currency, sep, amount = entry.partition(":")
        currency = currency.strip().upper()
        if not sep or not re.fullmatch(r"[A-Z]{3}", currency):
            raise ValueError(f"expected CUR:amount, got {entry!r}")
        try:
            value = Decimal(amount.strip())
        except InvalidOperation as exc:
            raise ValueError(f"not an amount: {entry!r}") from exc
        if not value.is_finite() or value < 0:
            raise ValueError(f"not an amount: {entry!r}")
        thresholds[currency] = value
    return thresholds


def parse_countries(spec: str) -> frozenset[str]:
    return frozenset(c.strip().upper() for c in spec.split(",") if c.strip())


def address_key(line1: str, postal_code: str, city: str, country: str, line2: str = "") -> str:
    """The same delivery point however it is typed: case, spacing, punctuation and accents
    do not count; letters of other scripts (Chinese, Cyrillic ...) do. Empty for an
    address its platform masked (Taobao, JD and PDD show ``文一西路***号``): such an address
    cannot be compared with another, so the address rule does not apply to it."""
    text = " ".join((line1, line2 or "", postal_code, city, country))
    if "*" in text:
        return ""
    kept = []
    for ch in unicodedata.normalize("NFKD", text.lower()):
        if ch.isascii():
            if ch.isalnum():
                kept.append(ch)
        elif ch.isalnum() and not unicodedata.name(ch, "").startswith("LATIN"):
            kept.append(ch)  # another script's letter; a Latin one outside ASCII is dropped
    return "".join(kept)


@dataclass(frozen=True)
class HoldPolicy:
    high_value: dict[str, Decimal] = field(default_factory=dict)
    new_customer_value: dict[str, Decimal] = field(default_factory=dict)
    velocity_count: int = 3
    velocity_window_s: float = 86400.0
    countries: frozenset[str] = frozenset()


@dataclass(frozen=True)
class HoldFacts:
    total: Decimal
    currency: str
    country: str
    # Orders this customer placed before this one; the hold check stops counting at 1
    # (the rule asks only whether there is any).
    earlier_orders: int
    # Distinct customers (this one included) with orders to this address in the window;
    # the hold check stops counting at the velocity rule's count.
    customers_at_address: int


def _at_or_over(thresholds: dict[str, Decimal], facts: HoldFacts) -> bool:
    limit = thresholds.get(facts.currency.upper())
    return limit is not None and facts.total >= limit


def hold_reasons(policy: HoldPolicy, facts: HoldFacts) -> list[str]:
    """Every rule the order trips, in ``RULE_ORDER``; empty when it may go on."""
    tripped = {
        HIGH_VALUE: _at_or_over(policy.high_value, facts),
        NEW_CUSTOMER_HIGH_VALUE: facts.earlier_orders == 0
        and _at_or_over(policy.new_customer_value, facts),
        ADDRESS_VELOCITY: facts.customers_at_address >= policy.velocity_count,
        RESTRICTED_COUNTRY: facts.country.upper() in policy.countries,
    }
    return [reason for reason in RULE_ORDER if tripped.get(reason)]
