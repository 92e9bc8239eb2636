"""Events out, the pure parts: Standard Webhooks signatures (checked by the
``standardwebhooks`` package, an independent implementation), secret rotation, the SSRF
address rules, the retry schedule, the catalogue against the migration, sealed secrets."""

from __future__ import annotations

import asyncio
import importlib.util
import ipaddress
import json
import random
import time
import typing
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from oms.events_out import catalogue, signing
from oms.events_out.schedule import (
    DEFAULT_SCHEDULE,
    JITTER,
    next_wait,
    parse_retry_after,
    parse_schedule,
)
from oms.events_out.sealing import open_secret, seal
from oms.events_out.ssrf import AddressNotAllowed, check_url, refusal, split_url
from oms.settings import Settings
from tests.conftest import TEST_PAYLOAD_KEYS

ROOT = Path(__file__).resolve().parents[2]


# --- signing -------------------------------------------------------------------------------


def _body() -> bytes:
    data = {"order_id": "o1", "status": "shipped", "seq": 7, "tracking_number": "TRK-1"}
    return json.dumps(catalogue.body("order.shipped", "2026-12-03T10:00:00+00:00", data)).encode()


def test_a_signature_verifies_with_the_standard_webhooks_package():
    secret = signing.new_secret()
    body = _body()
    headers = signing.headers([secret], "evt_1", int(time.time()), body)
    assert Webhook(secret).verify(body, headers)["data"]["tracking_number"] == "TRK-1"


def test_a_changed_body_id_or_secret_does_not_verify():
    secret = signing.new_secret()
    body = _body()
    headers = signing.headers([secret], "evt_1", int(time.time()), body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"TRK-1", b"TRK-2"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, {**headers, "webhook-id": "evt_2"})
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)


def test_an_old_timestamp_is_refused_by_the_receiver():
    secret = signing.new_secret()
    body = _body()
    headers = signing.headers([secret], "evt_1", int(time.time()) - 3600, body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, headers)


def test_after_a_rotation_both_secrets_sign_and_either_verifies():
    old, new = signing.new_secret(), signing.new_secret()
    body = _body()
    headers = signing.headers([new, old], "evt_9", int(time.time()), body)
    parts = headers["webhook-signature"].split(" ")
    assert len(parts) == 2 and all(p.startswith("v1,") for p in parts)
    assert Webhook(new).verify(body, headers)
    assert Webhook(old).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)


def test_secrets_are_whsec_and_32_random_bytes():
    a, b = signing.new_secret(), signing.new_secret()
    assert a != b and a.startswith("whsec_")
    assert len(signing.secret_bytes(a)) == 32
    with pytest.raises(signing.SecretError):
        signing.secret_bytes("not-a-secret")
    with pytest.raises(signing.SecretError):
        signing.headers([], "evt", 1, b"{}")


# --- SSRF ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),  # unique local
        ("fd12:3456::1", "private"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("100.64.0.1", "not global"),  # carrier-grade NAT
    ],
)
def test_inward_addresses_are_refused(address, why):
    assert refusal(ipaddress.ip_address(address)) == why


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1::1", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/", "file:///etc/passwd", "http://user:pw@example.com/", "http://[::1"],
)
def test_only_plain_http_and_https_urls_pass(url):
    with pytest.raises(AddressNotAllowed):
        split_url(url)


def test_a_private_literal_is_refused_unless_allowed_and_the_ip_is_pinned():
    with pytest.raises(AddressNotAllowed, match="address not allowed"):
        asyncio.run(check_url("http://127.0.0.1:9/hook", allow_private=False))
    pinned = asyncio.run(check_url("http://127.0.0.1:9/hook?x=1", allow_private=True))
    assert pinned.url == "http://127.0.0.1:9/hook?x=1" and pinned.host_header == "127.0.0.1:9"
    assert pinned.sni_hostname is None
    pinned = asyncio.run(check_url("https://[::1]/h", allow_private=True))
    assert pinned.url == "https://[::1]/h" and pinned.sni_hostname == "::1"


def test_loopback_only_refuses_everything_else_without_resolving_names():
    with pytest.raises(AddressNotAllowed, match="only loopback"):
        asyncio.run(check_url("http://93.184.216.34/", allow_private=True, loopback_only=True))
    with pytest.raises(AddressNotAllowed, match="only loopback"):
        asyncio.run(check_url("https://example.com/", allow_private=True, loopback_only=True))
    pinned = asyncio.run(check_url("http://localhost:8/x", allow_private=True, loopback_only=True))
    assert ipaddress.ip_address(pinned.ip).is_loopback and pinned.host_header == "localhost:8"


# --- retry schedule --------------------------------------------------------------------------


def test_the_default_schedule_is_the_published_one_about_three_days():
    schedule = parse_schedule(DEFAULT_SCHEDULE)
    assert schedule == (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
    assert 2.9 < sum(schedule) / 86400 < 3.2
    assert Settings().webhook_schedule() == schedule


def test_each_wait_is_within_twenty_percent_and_the_schedule_ends():
    schedule = parse_schedule(DEFAULT_SCHEDULE)
    rng = random.Random(7)
    for attempts in range(1, len(schedule)):
        waits = [next_wait(attempts, schedule, rng=rng) for _ in range(300)]
        nominal = schedule[attempts]
        assert all(nominal * (1 - JITTER) <= w <= nominal * (1 + JITTER) for w in waits)  # type: ignore[operator]
        assert max(waits) > nominal * 1.1 and min(waits) < nominal * 0.9  # type: ignore[type-var]
    assert next_wait(len(schedule), schedule) is None


def test_retry_after_lengthens_a_wait_but_never_shortens_it():
    schedule = (0.0, 5.0, 300.0)
    assert next_wait(1, schedule, retry_after_s=60) == 60
    assert next_wait(2, schedule, retry_after_s=1) >= 240  # type: ignore[operator]
    assert parse_retry_after("12") == 12 and parse_retry_after("soon") is None
    assert parse_retry_after(None) is None and parse_retry_after("-3") is None


@pytest.mark.parametrize("spec", ["", "a,b", "0,-5"])
def test_a_bad_schedule_is_refused(spec):
    with pytest.raises(ValueError):
        parse_schedule(spec)
    with pytest.raises(ValueError, match="OMS_WEBHOOK_RETRY_SCHEDULE"):
        Settings(webhook_retry_schedule=spec)


# --- catalogue -------------------------------------------------------------------------------


def _migration(name: str = "0008_events_out"):  # type: ignore[no-untyped-def]
    path = ROOT / f"oms/db/migrations/versions/{name}.py"
    spec = importlib.util.spec_from_file_location(f"migration_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migrations_mapping_is_the_catalogues():
    # 0020 is the latest revision that maps the timeline (it added ``order_edited``).
    migration = _migration("0020_order_edited_event")
    assert migration.TIMELINE_EVENTS == catalogue.TIMELINE_EVENTS
    assert migration.PERSONAL_KEYS == catalogue.PERSONAL_KEYS
    function = migration._order_trigger(migration.TIMELINE_EVENTS)
    for timeline_type, event_type in catalogue.TIMELINE_EVENTS.items():
        assert f"WHEN '{timeline_type}' THEN '{event_type}'" in function


def test_the_edited_event_changes_only_the_mapping_of_0008():
    first, edited = _migration(), _migration("0020_order_edited_event")
    assert first.TIMELINE_EVENTS == edited.BEFORE
    assert first.PERSONAL_KEYS == edited.PERSONAL_KEYS
    # Its downgrade puts back exactly the function 0008 made.
    assert edited._order_trigger(edited.BEFORE) == first._order_trigger()


def test_the_returns_migration_maps_the_catalogues_order_and_return_events():
    path = ROOT / "oms/db/migrations/versions/0022_returns.py"
    spec = importlib.util.spec_from_file_location("migration_0022", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert migration.TIMELINE_EVENTS == catalogue.TIMELINE_EVENTS
    assert migration.RETURN_TIMELINE_EVENTS == catalogue.RETURN_TIMELINE_EVENTS
    assert migration.PERSONAL_KEYS == catalogue.PERSONAL_KEYS
    both = migration.order_trigger(
        {**migration.TIMELINE_EVENTS, **migration.RETURN_TIMELINE_EVENTS}
    )
    for mapping in (catalogue.TIMELINE_EVENTS, catalogue.RETURN_TIMELINE_EVENTS):
        for timeline_type, event_type in mapping.items():
            assert f"WHEN '{timeline_type}' THEN '{event_type}'" in both
            assert event_type in catalogue.DESCRIPTIONS
    sources = "".join(
        (ROOT / p).read_text()
        for p in ("workflows/returns.py", "activities/returns.py", "oms/store/returns.py")
    )
    for timeline_type in catalogue.RETURN_TIMELINE_EVENTS:
        assert f'"{timeline_type}"' in sources


def test_every_timeline_type_mapped_is_one_the_order_workflow_writes():
    sources = (
        "".join(p.read_text() for p in (ROOT / "workflows").glob("order*.py"))
        + (ROOT / "api/intake.py").read_text()
        + (ROOT / "oms/store/orders.py").read_text()
    )
    for timeline_type in catalogue.TIMELINE_EVENTS:
        if timeline_type.startswith("shipment_"):
            assert 'f"shipment_{event.status}"' in sources  # shipment_dispatched, _shipped
        else:
            assert f'"{timeline_type}"' in sources or f"'{timeline_type}'" in sources


def test_the_api_offers_exactly_the_catalogues_types():
    from api.schemas.webhooks import EventType

    assert set(typing.get_args(EventType)) == {"*", *catalogue.EVENT_TYPES}
    assert catalogue.unknown_types(["order.shipped", "*", "order.exploded"]) == ["order.exploded"]


def test_personal_keys_never_reach_a_body():
    data = {"customer": {"email": "a@b"}, "name": "Ada", "shipment_id": "s1"}
    assert catalogue.public_data(data) == {"shipment_id": "s1"}


# --- sealed secrets ---------------------------------------------------------------------------


def test_secrets_are_sealed_under_the_payload_keys_and_open_again():
    secret = signing.new_secret()
    stored = seal(secret, TEST_PAYLOAD_KEYS)
    assert secret not in stored and stored.startswith("gcm:test1:")
    assert open_secret(stored, TEST_PAYLOAD_KEYS) == secret
    assert seal(secret, TEST_PAYLOAD_KEYS) != stored  # a fresh nonce each time
    assert open_secret(seal(secret, None), None) == secret
