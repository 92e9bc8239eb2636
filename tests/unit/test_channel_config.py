"""Channels as configuration, without a database: secrets sealed under the payload keys
(and still opened after a key rotation), what the registry refuses, how a change applies,
and a channel's shortage and split reaching the order's input over the settings."""

from __future__ import annotations

import base64
import dataclasses

import pytest

from oms.channel_registry import ChannelInvalid, changed, intakes_for, validate
from oms.channels import sealing
from oms.channels.config import ChannelConfig
from oms.codec import PayloadKeyError, new_key_spec
from oms.domain.messages import Address, Customer, OrderView, PaymentView, Totals
from oms.order_start import order_input
from oms.settings import Settings

K1 = new_key_spec("k1")
K2 = new_key_spec("k2")


def test_a_sealed_secret_is_not_the_secret_and_opens_with_its_key():
    sealed = sealing.seal_secret(K1, "shop", "whsec-abc")
    assert sealed is not None and b"whsec-abc" not in sealed
    assert sealing.sealed_key_id(sealed) == "k1"
    assert sealing.open_secret(K1, "shop", sealed) == "whsec-abc"
    # Sealed twice, never the same bytes (a fresh nonce each time).
    assert sealing.seal_secret(K1, "shop", "whsec-abc") != sealed


def test_rows_sealed_under_an_older_key_open_after_a_rotation():
    old = sealing.seal_credentials(K1, "tb", {"base_url": "http://x", "app_secret": "s"})
    rotated = f"{K2},{K1}"
    assert sealing.open_credentials(rotated, "tb", old) == {
        "base_url": "http://x",
        "app_secret": "s",
    }
    again = sealing.seal_credentials(rotated, "tb", {"base_url": "http://x"})
    assert again is not None and sealing.sealed_key_id(again) == "k2"
    with pytest.raises(PayloadKeyError):
        sealing.open_credentials(K2, "tb", old)  # the old key no longer listed


def test_a_sealed_value_does_not_open_in_another_row_or_column_or_when_altered():
    sealed = sealing.seal_secret(K1, "shop", "whsec-abc")
    assert sealed is not None
    with pytest.raises(PayloadKeyError):
        sealing.open_secret(K1, "other-shop", sealed)
    with pytest.raises(PayloadKeyError):
        sealing.open_credentials(K1, "shop", sealed)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(PayloadKeyError):
        sealing.open_secret(K1, "shop", tampered)


def test_without_payload_keys_nothing_is_sealed_in_clear():
    with pytest.raises(sealing.SealingUnavailable):
        sealing.seal_secret(None, "shop", "whsec-abc")
    assert sealing.seal_secret(None, "shop", None) is None  # nothing to seal


def test_the_secret_and_credentials_never_appear_in_the_configs_repr():
    cfg = ChannelConfig("shop", "shopify", secret="whsec-abc", credentials={"token": "t0k"})
    assert "whsec-abc" not in repr(cfg) and "t0k" not in repr(cfg)


def _push(**changes: object) -> ChannelConfig:
    return dataclasses.replace(ChannelConfig("shop", "shopify", secret="s"), **changes)


def _pull(**changes: object) -> ChannelConfig:
    cfg = ChannelConfig("tb", "taobao", intake="pull", credentials={"base_url": "http://x"})
    return dataclasses.replace(cfg, **changes)


def _fields(exc: pytest.ExceptionInfo[ChannelInvalid]) -> list[str]:
    return [e["field"] for e in exc.value.errors]


def test_each_platform_gets_only_the_intakes_the_oms_serves():
    assert intakes_for("shopify") == ("push",)
    assert intakes_for("native") == ("push",)
    assert intakes_for("taobao") == ("pull",)
    assert intakes_for("amazon") == ("pull",)
    validate(_push())
    validate(_pull())
    for bad in (_push(intake="pull"), _push(intake="both"), _pull(intake="push")):
        with pytest.raises(ChannelInvalid) as refused:
            validate(bad)
        assert _fields(refused)[0] == "intake"
        assert "not served" in str(refused.value)


@pytest.mark.parametrize(
    ("cfg", "field"),
    [
        (_push(secret=None), "secret"),
        (_pull(credentials={}), "credentials.base_url"),
        (
            _pull(platform="amazon", credentials={"base_url": "http://x"}),
            "credentials.marketplace_id",
        ),
        (_push(name="Shop"), "name"),
        (_push(name="a" * 64), "name"),
        (_push(platform="ebay"), "platform"),
        (_push(mode="paused"), "mode"),
        (_push(routing="quickest"), "routing"),
        (_push(shortage="wait"), "shortage"),
        (_push(payment_timeout_s=0), "payment_timeout_s"),
        (_pull(pull_interval_s=0.5), "pull_interval_s"),
        (_pull(pull_lag_s=float("nan")), "pull_lag_s"),
    ],
)
def test_what_the_registry_refuses_names_the_field(cfg, field):
    with pytest.raises(ChannelInvalid) as refused:
        validate(cfg)
    assert field in _fields(refused)


def test_a_change_merges_credentials_and_keeps_the_platform():
    current = _pull(credentials={"base_url": "http://x", "app_key": "k", "token": "t"})
    after = changed(current, {"credentials": {"token": "t2", "app_key": None}, "mode": "shadow"})
    assert after.credentials == {"base_url": "http://x", "token": "t2"}
    assert after.mode == "shadow" and after.platform == "taobao"
    assert changed(current, {"platform": "taobao"}).platform == "taobao"  # unchanged: fine
    with pytest.raises(ChannelInvalid) as refused:
        changed(current, {"platform": "jd"})
    assert _fields(refused) == ["platform"]
    with pytest.raises(ChannelInvalid):
        changed(current, {"credentials": {"base_url": None}})
    with pytest.raises(ChannelInvalid) as unknown:
        changed(current, {"colour": "blue"})
    assert _fields(unknown) == ["colour"]


def _view(channel: str) -> OrderView:
    address = Address("Ada", "1 St", "Berlin", "10115", "DE")
    return OrderView(
        id="0" * 20,
        channel=channel,
        external_id="e-1",
        status="received",
        customer=Customer("c-1", "ada@example.com", "Ada"),
        shipping_address=address,
        currency="EUR",
        lines=[],
        totals=Totals("1.00", "1.00"),
        payment=PaymentView(method="card", authorized="0.00", captured="0.00"),
        created_at="2026-12-01T00:00:00+00:00",
        updated_at="2026-12-01T00:00:00+00:00",
    )


def test_the_channels_shortage_and_split_win_over_the_settings():
    settings = Settings(shortage="default:fail", split="default:on")
    plain = order_input(settings, _view("shop"), "tok")
    configured = order_input(
        settings, _view("shop"), "tok", _push(shortage="backorder", split=False)
    )
    unset = order_input(settings, _view("shop"), "tok", _push())
    other = order_input(settings, _view("other"), "tok", _push(shortage="backorder"))

    assert (plain.backorder, plain.split_shipments) == (False, True)
    assert (configured.backorder, configured.split_shipments) == (True, False)
    assert (unset.backorder, unset.split_shipments) == (False, True)  # the settings decide
    assert other.backorder is False  # another channel's config never applies


def test_the_settings_still_decide_per_channel_without_a_row():
    settings = Settings(shortage="default:fail,shop:backorder", split="shop:off")
    chosen = order_input(settings, _view("shop"), "tok", None)
    assert (chosen.backorder, chosen.split_shipments) == (True, False)


def test_payload_keys_are_32_bytes():
    assert len(base64.urlsafe_b64decode(K1.split(":")[1] + "==")) == 32
