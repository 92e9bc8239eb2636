"""Why an order is held, in words: each hold reason with the facts behind it ("order total
1,200.00 EUR over the 1,000.00 limit", "5 customers at this address in 24 h").

The thresholds are today's settings (``OMS_HOLD_*``): the rule held the order against the
thresholds of the moment it ran, which are the same unless they were changed since. The
customers at the address are counted over the velocity window that ended when the order
was held, as the rule counted them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from oms.domain.holds import (
    ADDRESS_VELOCITY,
    HIGH_VALUE,
    MANUAL,
    NEW_CUSTOMER_HIGH_VALUE,
    RESTRICTED_COUNTRY,
    HoldPolicy,
)

REFUND_REQUESTED = "refund_requested"
PLATFORM_HOLD = "platform_hold"
# The risk score at or over its hold limit: the order view's ``risk`` says why.
RISK_SCORE = "risk_score"

# The rules an operator filters the queue by, in the order they are listed.
RULES = (
    HIGH_VALUE,
    NEW_CUSTOMER_HIGH_VALUE,
    ADDRESS_VELOCITY,
    RESTRICTED_COUNTRY,
    RISK_SCORE,
    MANUAL,
    REFUND_REQUESTED,
    PLATFORM_HOLD,
)
# Each rule's short name (a filter's label, a tag).
RULE_NAMES = {
    HIGH_VALUE: "High value",
    NEW_CUSTOMER_HIGH_VALUE: "New customer, high value",
    ADDRESS_VELOCITY: "Many customers at one address",
    RESTRICTED_COUNTRY: "Restricted country",
    RISK_SCORE: "High risk score",
    MANUAL: "Held by hand",
    REFUND_REQUESTED: "Refund requested on the platform",
    PLATFORM_HOLD: "Held by the platform",
}


@dataclass(frozen=True)
class HeldOrder:
    """The facts of one held order that its reasons are told with."""

    total: str
    currency: str
    country: str
    customers_at_address: int | None = None
    held_by: str | None = None
    note: str | None = None
    # The order view's ``risk`` (score, reasons, model_version), when it has one.
    risk: Mapping[str, Any] | None = field(default=None, hash=False, compare=False)


@dataclass(frozen=True)
class RiskWords:
    """An order's risk score as the console shows it: the score and each reason in words
    with its points (the largest first), and which model scored it (None: rules only)."""

    score: int
    reasons: list[dict[str, Any]]
    model_version: str | None


def risk_words(risk: object) -> RiskWords | None:
    """The order view's ``risk``, read defensively: None when it is absent or has no
    score (an order scored before the risk score existed has none)."""
    if not isinstance(risk, Mapping):
        return None
    score = risk.get("score")
    if isinstance(score, bool) or not isinstance(score, int | float):
        return None
    reasons: list[dict[str, Any]] = []
    for reason in risk.get("reasons") or []:
        if not isinstance(reason, Mapping):
            continue
        points = reason.get("points")
        given = isinstance(points, int | float) and not isinstance(points, bool)
        reasons.append(
            {
                "code": str(reason.get("code") or ""),
                "words": str(reason.get("words") or reason.get("code") or ""),
                "points": points if given else None,
            }
        )
    reasons.sort(key=lambda r: -float(r["points"] or 0))
    version = risk.get("model_version")
    return RiskWords(int(score), reasons, str(version) if version else None)


def _amount(value: str | Decimal) -> str:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return f"{amount:,.2f}"


def _window(seconds: float) -> str:
    if seconds % 86400 == 0 and seconds >= 86400:
        days = int(seconds // 86400)
        return "24 h" if days == 1 else f"{days} d"
    if seconds % 3600 == 0 and seconds >= 3600:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 60)} min"


def _versus(
    total: Decimal, limit: Decimal | None, over: str, at: str, fallback: str
) -> tuple[str, dict[str, str]]:
    if limit is None:
        return fallback, {}
    return (over if total > limit else at), {"limit": _amount(limit)}


def reason_words(
    reason: str,
    order: HeldOrder,
    policy: HoldPolicy,
    translate: Callable[[str], str],
    *,
    sees_personal_data: bool,
) -> str:
    """One reason as a sentence in the page's language (``translate`` gives the template;
    the facts are filled in after)."""
    try:
        total = Decimal(order.total)
    except InvalidOperation:
        total = Decimal(0)
    currency = order.currency.upper()
    facts: dict[str, str] = {"total": _amount(order.total), "currency": currency}
    if reason == HIGH_VALUE:
        template, more = _versus(
            total,
            policy.high_value.get(currency),
            "order total {total} {currency} over the {limit} limit",
            "order total {total} {currency} at the {limit} limit",
            "order total {total} {currency}, at or over the high-value limit",
        )
    elif reason == NEW_CUSTOMER_HIGH_VALUE:
        template, more = _versus(
            total,
            policy.new_customer_value.get(currency),
            "the customer's first order, total {total} {currency} over the {limit} limit "
            "for new customers",
            "the customer's first order, total {total} {currency} at the {limit} limit "
            "for new customers",
            "the customer's first order, total {total} {currency}, at or over the limit "
            "for new customers",
        )
    elif reason == ADDRESS_VELOCITY:
        window = _window(policy.velocity_window_s)
        if order.customers_at_address is not None:
            template = "{n} customers at this address in {window}"
            more = {"n": str(order.customers_at_address), "window": window}
        else:
            template = "{n} or more customers at this address in {window}"
            more = {"n": str(policy.velocity_count), "window": window}
    elif reason == RESTRICTED_COUNTRY:
        if sees_personal_data and order.country:
            template, more = (
                "ships to {country}, a country on the hold list",
                {"country": order.country.upper()},
            )
        else:
            template, more = "ships to a country on the hold list", {}
    elif reason == MANUAL:
        who = order.held_by or ""
        if who and order.note:
            template, more = "held by {who}: {note}", {"who": who, "note": order.note}
        elif who:
            template, more = "held by {who}", {"who": who}
        else:
            template, more = "held by an operator", {}
    elif reason == REFUND_REQUESTED:
        template, more = "the buyer asked the platform for a refund", {}
    elif reason == PLATFORM_HOLD:
        template, more = "the sales platform put the order on hold", {}
    elif reason == RISK_SCORE:
        scored = risk_words(order.risk)
        if scored is not None:
            template, more = "risk score {score} of 100", {"score": str(scored.score)}
        else:
            template, more = "a risk score at or over the hold limit", {}
    else:
        return reason
    return translate(template).format(**facts, **more)


def rule_name(reason: str, translate: Callable[[str], str]) -> str:
    return translate(RULE_NAMES[reason]) if reason in RULE_NAMES else reason
