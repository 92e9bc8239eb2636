"""Shortage and split settings per sales channel."""

import pytest

from oms.domain.shortage import for_channel, parse_shortage, parse_split
from oms.settings import Settings


def test_shortage_defaults_to_failing_fast_and_is_chosen_per_channel() -> None:
    policies = parse_shortage("webshop:backorder")
    assert for_channel(policies, "webshop") == "backorder"
    assert for_channel(policies, "marketplace") == "fail"
    assert for_channel(parse_shortage("backorder"), "anything") == "backorder"


def test_split_is_on_unless_a_channel_turns_it_off() -> None:
    split = parse_split("default:on,marketplace:off")
    assert for_channel(split, "webshop") is True
    assert for_channel(split, "marketplace") is False
    assert for_channel(parse_split("off"), "webshop") is False


@pytest.mark.parametrize(
    ("name", "value"),
    [("shortage", "webshop:wait"), ("split", "webshop:maybe"), ("shortage", ":fail")],
)
def test_a_malformed_setting_is_refused_with_its_name(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"OMS_{name.upper()}"):
        Settings(**{name: value})
