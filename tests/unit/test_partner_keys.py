"""Partner keys without a server: which scopes a role may carry, what a principal may read
and submit, and the token bucket behind the rate limit per key (on a clock the test moves)."""

from __future__ import annotations

import re

import pytest

from api.deps import Principal
from api.rate_limit import RateLimits
from oms.keys import SCOPE_PATTERN, scope_errors


def test_only_partner_keys_carry_scopes_and_only_known_ones():
    assert scope_errors("partner", ["orders:read", "orders:write:shop", "stock:sync"]) == []
    assert scope_errors("partner", ["webhooks:manage", "channels:read", "orders:read:b2b"]) == []
    assert scope_errors("partner", []) == ["a partner key needs at least one scope"]
    assert scope_errors("partner", ["orders:write"]) == ["unknown scope 'orders:write'"]
    assert scope_errors("partner", ["orders:delete"]) != []
    assert scope_errors("partner", ["orders:write:Shop"]) != []  # not a channel name
    assert scope_errors("operator", ["orders:read"]) == ["only partner keys carry scopes"]
    assert scope_errors("operator", None) == []
    assert re.fullmatch(SCOPE_PATTERN, "stock:sync:shop") is None


def _partner(*scopes: str) -> Principal:
    return Principal("p", "partner", scopes=frozenset(scopes), key_id=1)


def test_a_partner_reads_and_submits_only_what_its_scopes_name():
    everything = _partner("orders:read")
    some = _partner("orders:read:a", "orders:read:b", "orders:write:a")
    stock_only = _partner("stock:sync")

    assert everything.readable_channels() is None and everything.can_see("z")
    assert some.readable_channels() == ["a", "b"]
    assert some.can_see("b") and not some.can_see("c")
    assert some.can_submit("a") and not some.can_submit("b") and not everything.can_submit("a")
    assert stock_only.readable_channels() == [] and not stock_only.can_see("a")
    assert some.has_scope("orders:read") and some.has_scope("orders:write")
    assert not some.has_scope("stock:sync") and stock_only.has_scope("stock:sync")


def test_the_other_roles_keep_their_rights():
    admin = Principal("admin", "admin")
    shop = Principal("shop", "channel", "shop")
    operator = Principal("ops", "operator")
    assert admin.has_scope("webhooks:manage") and admin.can_submit("any")
    assert shop.can_see("shop") and not shop.can_see("other") and shop.can_submit("shop")
    assert not shop.can_submit("other") and shop.readable_channels() == ["shop"]
    assert operator.can_see("any") and not operator.can_submit("any")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_gets_a_burst_of_twice_its_rate_then_waits_for_tokens():
    clock = Clock()
    limits = RateLimits(clock)
    verdicts = [limits.take(7, 5.0) for _ in range(11)]

    assert [v.allowed for v in verdicts] == [True] * 10 + [False]
    refused = verdicts[-1]
    assert refused.retry_after_s == 1 and refused.remaining == 0 and refused.limit == 5
    assert verdicts[0].remaining == 9 and verdicts[0].retry_after_s == 0
    clock.now += 0.2  # one token back
    assert limits.take(7, 5.0).allowed
    assert not limits.take(7, 5.0).allowed
    clock.now += 10  # full again, never more than the burst
    assert [limits.take(7, 5.0).allowed for _ in range(11)] == [True] * 10 + [False]


def test_each_key_has_its_own_bucket_and_a_slow_limit_says_how_long_to_wait():
    clock = Clock()
    limits = RateLimits(clock)
    # 0.25/s: a burst of one request (never less), then one every 4 s.
    assert limits.take(2, 0.25).allowed
    slow = limits.take(2, 0.25)
    assert not slow.allowed and slow.retry_after_s == 4
    assert limits.take(3, 1.0).allowed  # another key is untouched
    clock.now += 3
    assert limits.take(2, 0.25).retry_after_s == 1
    clock.now += 1
    assert limits.take(2, 0.25).allowed


@pytest.mark.parametrize("rate", [0.5, 1.0, 3.0, 50.0])
def test_retry_after_is_a_whole_number_of_seconds_of_at_least_one(rate):
    clock = Clock()
    limits = RateLimits(clock)
    while limits.take(9, rate).allowed:
        pass
    verdict = limits.take(9, rate)
    assert isinstance(verdict.retry_after_s, int) and verdict.retry_after_s >= 1
    clock.now += verdict.retry_after_s
    assert limits.take(9, rate).allowed
