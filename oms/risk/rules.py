"""Rule points: each feature that trips adds points and a reason in words. Words carry
counts and amounts only, never a name, an address, a phone, an IP or a device id.

Each rule gives the points of the highest step it reaches (``STEPS``); the table is in
docs/intelligence-risk.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from oms.domain.messages import RiskReason


@dataclass(frozen=True)
class Rule:
    code: str
    feature: str
    steps: tuple[tuple[float, int], ...]  # (at least, points), ascending
    words: Callable[[dict[str, float]], str]
    # Only when this holds as well (e.g. the account's age is known).
    when: Callable[[dict[str, float]], bool] = lambda f: True
    below: bool = False  # the rule trips when the feature is below the step, not at or above


def _n(f: dict[str, float], name: str) -> int:
    return round(f[name])


RULES: tuple[Rule, ...] = (
    Rule(
        "shared_address",
        "buyers_at_address_7d",
        ((3, 10), (5, 20), (8, 30)),
        lambda f: f"{_n(f, 'buyers_at_address_7d')} buyers ordered to this address in 7 days",
        when=lambda f: f["locker"] == 0,
    ),
    Rule(
        "shared_phone",
        "buyers_of_phone_7d",
        ((2, 25), (4, 35)),
        lambda f: f"{_n(f, 'buyers_of_phone_7d')} buyers gave this phone number in 7 days",
    ),
    Rule(
        "phone_many_addresses",
        "addresses_of_phone_7d",
        ((3, 20), (5, 30)),
        lambda f: (
            f"this phone number came with {_n(f, 'addresses_of_phone_7d')} addresses in 7 days"
        ),
    ),
    Rule(
        "shared_device",
        "buyers_of_device_7d",
        ((2, 25), (3, 35), (5, 45)),
        lambda f: f"{_n(f, 'buyers_of_device_7d')} buyers ordered from this device in 7 days",
    ),
    Rule(
        "new_account_shared_device",
        "buyers_of_device_7d",
        ((2, 15),),
        lambda f: (
            f"a new account ({f['account_age_days']:.1f} days) on a device "
            f"{_n(f, 'buyers_of_device_7d') - 1} other buyers used in 7 days"
        ),
        when=lambda f: 0 <= f["account_age_days"] < 7,
    ),
    Rule(
        "shared_ip",
        "buyers_of_ip_24h",
        ((5, 10),),
        lambda f: f"{_n(f, 'buyers_of_ip_24h')} buyers ordered from this IP in 24 h",
    ),
    Rule(
        "buyer_velocity",
        "buyer_orders_1h",
        ((3, 15), (6, 25)),
        lambda f: f"{_n(f, 'buyer_orders_1h')} orders from this buyer in an hour",
    ),
    Rule(
        "new_account",
        "account_age_days",
        ((1, 15), (7, 10)),
        lambda f: f"the account is {f['account_age_days']:.1f} days old",
        when=lambda f: f["account_age_days"] >= 0,
        below=True,
    ),
    Rule(
        "tiny_amount",
        "tiny",
        ((1, 15),),
        lambda f: (
            f"the total ({f['total']:.2f}) is tiny for the currency or "
            f"{f['amount_vs_median']:.2f} times the shop's median"
        ),
    ),
    Rule(
        "repeated_amount",
        "same_amount_others_7d",
        ((2, 20), (4, 30)),
        lambda f: (
            f"{_n(f, 'same_amount_others_7d')} orders of other buyers with the same "
            "total to this address, phone or device in 7 days"
        ),
    ),
    Rule(
        "cheap_sku_bulk",
        "cheap_quantity",
        ((5, 15), (20, 25)),
        lambda f: f"{_n(f, 'cheap_quantity')} units of one cheap SKU",
    ),
    Rule(
        "shop_concentration",
        "shop_concentration",
        ((3, 15),),
        lambda f: (
            f"the shop took {_n(f, 'shop_orders_1h')} orders from "
            f"{_n(f, 'shop_buyers_1h')} buyers in the last hour "
            f"(concentration {f['shop_concentration']:.1f}, 3 or more is brushing)"
        ),
        when=lambda f: f["buyer_shop_orders_1h"] >= 2,
    ),
    Rule(
        "tiny_burst",
        "shop_tiny_1h",
        ((4, 15), (8, 25)),
        lambda f: f"{_n(f, 'shop_tiny_1h')} tiny orders at this shop in the last hour",
        when=lambda f: f["tiny"] >= 1,
    ),
    Rule(
        "pickup_point",
        "locker",
        ((1, 5),),
        lambda f: "the address is a parcel locker or pickup point",
    ),
    Rule(
        "incomplete_address",
        "incomplete",
        ((1, 15),),
        lambda f: "the address is incomplete",
    ),
    Rule(
        "ring_component",
        "component_buyers",
        ((4, 15), (6, 25), (10, 35)),
        lambda f: (
            f"this buyer is linked to {_n(f, 'component_buyers') - 1} other buyers "
            "by shared addresses, phones or devices"
        ),
        # Beyond the buyers of this one address (counted by shared_address already).
        when=lambda f: f["component_buyers"] > f["buyers_at_address_7d"],
    ),
    Rule(
        "young_accounts_linked",
        "young_linked_buyers",
        ((2, 20), (3, 25), (5, 30)),
        lambda f: (
            f"{_n(f, 'young_linked_buyers')} accounts younger than 7 days are linked to this order"
        ),
    ),
)


def points_of(rule: Rule, f: dict[str, float]) -> int:
    if not rule.when(f):
        return 0
    value = f[rule.feature]
    if rule.below:
        # steps ascending by bound; the smallest bound the value is under gives the points
        return next((points for bound, points in rule.steps if value < bound), 0)
    return max((points for bound, points in rule.steps if value >= bound), default=0)


def rule_reasons(f: dict[str, float]) -> list[RiskReason]:
    """Every rule that trips, the most points first (ties in ``RULES`` order)."""
    found = []
    for rule in RULES:
        points = points_of(rule, f)
        if points > 0:
            found.append(RiskReason(rule.code, rule.words(f), points))
    return sorted(found, key=lambda r: -r.points)
