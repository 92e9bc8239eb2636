"""The configured sales channels, as every part of the OMS reads them: the intake (a push
channel's secret, its mode), the poller (which channels to pull, with what credentials),
the feedback to the platforms, the reservation (a channel's routing) and the API.

Channels live in the ``channels`` table (``oms.store.channels``), with their secret and
credentials sealed under the payload keys (``oms.channels.sealing``); a
:class:`~oms.channels.config.ChannelConfig` holds them open, in memory only.

``load_channel`` is cached per process for ``CACHE_S`` seconds (a hit costs no query, so
the intake and the reservation can ask for every order): a change made through this module
is seen at once by the process that made it, and by every other process within
``CACHE_S``. Lists are never cached.

Which intakes a platform can have is decided by what the OMS can serve: a push channel
for a platform that signs webhooks (``PUSH_PLATFORMS``), a pull channel for one whose
orders are read (``PULL_PLATFORMS``), and ``both`` only for a platform that is in both
(none today). Anything else is refused with a message naming the field.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oms.channels import sealing
from oms.channels.canonical import PLATFORMS, PULL_PLATFORMS, PUSH_PLATFORMS
from oms.channels.config import ChannelConfig, Intake, Mode
from oms.channels.cutover import parse_countries
from oms.domain.routing import STRATEGIES
from oms.domain.shortage import SHORTAGE_POLICIES
from oms.store import channels as store

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
CACHE_S = 5.0
INTAKES = tuple(i.value for i in Intake)
MODES = tuple(m.value for m in Mode)
# Bounds of the timings: a day-long pull interval is already more than any platform wants.
MAX_SECONDS = 30 * 86400.0
MIN_PULL_INTERVAL_S = 1.0

__all__ = [
    "CACHE_S",
    "ChannelExists",
    "ChannelInvalid",
    "ChannelNotFound",
    "ChannelRecord",
    "add_channel",
    "all_channels",
    "channel_record",
    "channel_records",
    "configure",
    "countries",
    "disable_channel",
    "forget",
    "intakes_for",
    "load_channel",
    "load_channel_in",
    "pull_channels",
    "update_channel",
]


class ChannelExists(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"a channel named {name!r} exists already")
        self.name = name


class ChannelNotFound(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"no channel {name!r}")
        self.name = name


class ChannelInvalid(ValueError):
    """The channel cannot be served as asked: ``errors`` names each field and why."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class ChannelRecord:
    """A channel with who made and changed it, for the API and the CLI."""

    config: ChannelConfig
    created_at: datetime
    updated_at: datetime
    created_by: str
    updated_by: str
    mode_changed_at: datetime | None
    mode_changed_by: str | None


# --- the payload keys ------------------------------------------------------------------

_keys: str | None = None
_configured = False


def configure(payload_keys: str | None) -> None:
    """The payload keys this process seals and opens channel secrets with (the API and the
    worker call it at start with ``settings.payload_keys``). Unconfigured, the keys come
    from the environment's settings."""
    global _keys, _configured
    _keys, _configured = payload_keys, True
    forget()


def _payload_keys() -> str | None:
    if _configured:
        return _keys
    from oms.settings import get_settings

    return get_settings().payload_keys


# --- the cache -------------------------------------------------------------------------

_cache: dict[str, tuple[float, ChannelConfig | None]] = {}


def forget(name: str | None = None) -> None:
    """Drop the cached channel (every channel with no name)."""
    if name is None:
        _cache.clear()
    else:
        _cache.pop(name, None)


# --- reading ---------------------------------------------------------------------------


def intakes_for(platform: str) -> tuple[str, ...]:
    """The intakes the OMS can serve for the platform."""
    pushes, pulls = platform in PUSH_PLATFORMS, platform in PULL_PLATFORMS
    return tuple(
        i
        for i, ok in ((Intake.PUSH, pushes), (Intake.PULL, pulls), (Intake.BOTH, pushes and pulls))
        if ok
    )


def _config(row: Any) -> ChannelConfig:
    keys = _payload_keys() if row.secret_sealed or row.credentials_sealed else None
    return ChannelConfig(
        name=row.name,
        platform=row.platform,
        intake=row.intake,
        mode=row.mode,
        secret=sealing.open_secret(keys, row.name, row.secret_sealed),
        credentials=sealing.open_credentials(keys, row.name, row.credentials_sealed),
        routing=row.routing,
        shortage=row.shortage,
        split=row.split,
        payment_timeout_s=row.payment_timeout_s,
        pull_interval_s=row.pull_interval_s,
        pull_lag_s=row.pull_lag_s,
        enabled=row.enabled,
        live_countries=tuple(row.live_countries or ()),
    )


def _record(row: Any) -> ChannelRecord:
    return ChannelRecord(
        _config(row),
        row.created_at,
        row.updated_at,
        row.created_by,
        row.updated_by,
        row.mode_changed_at,
        row.mode_changed_by,
    )


async def load_channel(engine: AsyncEngine, name: str) -> ChannelConfig | None:
    """The channel, or None when none is configured by that name (disabled ones too: see
    ``enabled``). Cached for ``CACHE_S`` seconds in this process."""
    now = time.monotonic()
    cached = _cache.get(name)
    if cached is not None and cached[0] > now:
        return cached[1]
    row = await store.one(engine, name)
    config = _config(row) if row is not None else None
    _cache[name] = (now + CACHE_S, config)
    return config


async def load_channel_in(conn: AsyncConnection, name: str) -> ChannelConfig | None:
    """:func:`load_channel` read in the caller's transaction (the reservation step, which
    holds its locks on that connection), sharing the same cache."""
    now = time.monotonic()
    cached = _cache.get(name)
    if cached is not None and cached[0] > now:
        return cached[1]
    row = await store.one_in(conn, name)
    config = _config(row) if row is not None else None
    _cache[name] = (now + CACHE_S, config)
    return config


async def all_channels(engine: AsyncEngine) -> list[ChannelConfig]:
    """Every channel, disabled ones included, by name."""
    return [_config(row) for row in await store.every(engine)]


async def pull_channels(engine: AsyncEngine) -> list[ChannelConfig]:
    """The enabled channels whose orders are pulled (intake pull or both), by name."""
    return [c for c in await all_channels(engine) if c.enabled and c.pulls]


async def channel_record(engine: AsyncEngine, name: str) -> ChannelRecord | None:
    row = await store.one(engine, name)
    return _record(row) if row is not None else None


async def channel_records(engine: AsyncEngine) -> list[ChannelRecord]:
    return [_record(row) for row in await store.every(engine)]


# --- checking --------------------------------------------------------------------------


def _seconds(errors: list[dict[str, str]], field: str, value: Any, low: float) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or not low <= value <= MAX_SECONDS:
        errors.append(
            {"field": field, "message": f"a number of seconds from {low:g} to {MAX_SECONDS:g}"}
        )


def countries(value: Any) -> tuple[str, ...]:
    """A pilot's country codes from a list (or ``DE,AT``), normalised; ChannelInvalid."""
    ok = isinstance(value, str) or (
        isinstance(value, list | tuple) and all(isinstance(c, str) for c in value)
    )
    if not ok:
        raise ChannelInvalid([{"field": "live_countries", "message": "a list of country codes"}])
    try:
        return parse_countries(value)
    except ValueError as exc:
        raise ChannelInvalid([{"field": "live_countries", "message": str(exc)}]) from exc


def validate(cfg: ChannelConfig) -> None:
    """Raise ChannelInvalid unless the OMS can serve the channel as configured."""
    errors: list[dict[str, str]] = []
    if not NAME.fullmatch(cfg.name):
        errors.append(
            {
                "field": "name",
                "message": "1 to 63 characters: lower-case letters, digits, - and _, "
                "starting with a letter or digit",
            }
        )
    if cfg.platform not in PLATFORMS:
        errors.append({"field": "platform", "message": f"one of {', '.join(PLATFORMS)}"})
    if cfg.intake not in INTAKES:
        errors.append({"field": "intake", "message": f"one of {', '.join(INTAKES)}"})
    elif cfg.platform in PLATFORMS and cfg.intake not in intakes_for(cfg.platform):
        served = " or ".join(intakes_for(cfg.platform))
        errors.append(
            {
                "field": "intake",
                "message": f"the OMS takes {cfg.platform} orders by {served} only; "
                f"{cfg.intake} is not served for this platform",
            }
        )
    if cfg.mode not in MODES:
        errors.append({"field": "mode", "message": f"one of {', '.join(MODES)}"})
    try:
        if tuple(cfg.live_countries) != countries(cfg.live_countries):
            errors.append(
                {"field": "live_countries", "message": "upper-case codes, each once, sorted"}
            )
    except ChannelInvalid as exc:
        errors += exc.errors
    if cfg.routing is not None and cfg.routing not in STRATEGIES:
        errors.append({"field": "routing", "message": f"one of {', '.join(STRATEGIES)}"})
    if cfg.shortage is not None and cfg.shortage not in SHORTAGE_POLICIES:
        errors.append({"field": "shortage", "message": f"one of {', '.join(SHORTAGE_POLICIES)}"})
    if cfg.split is not None and not isinstance(cfg.split, bool):
        errors.append({"field": "split", "message": "true or false"})
    _seconds(errors, "payment_timeout_s", cfg.payment_timeout_s, 1.0)
    _seconds(errors, "pull_interval_s", cfg.pull_interval_s, MIN_PULL_INTERVAL_S)
    _seconds(errors, "pull_lag_s", cfg.pull_lag_s, 0.0)
    if cfg.intake in INTAKES and cfg.pushes and not cfg.secret:
        errors.append(
            {"field": "secret", "message": "a push channel needs the secret its webhooks sign with"}
        )
    if cfg.intake in INTAKES and cfg.pulls and not str(cfg.credentials.get("base_url") or ""):
        errors.append(
            {
                "field": "credentials.base_url",
                "message": "a pull channel needs the platform's base_url",
            }
        )
    if cfg.platform == "amazon" and not str(cfg.credentials.get("marketplace_id") or ""):
        errors.append(
            {
                "field": "credentials.marketplace_id",
                "message": "an Amazon channel needs its marketplace_id (shipment confirmations "
                "name it)",
            }
        )
    if errors:
        raise ChannelInvalid(errors)


def _sealed(cfg: ChannelConfig) -> dict[str, Any]:
    keys = _payload_keys()
    return {
        "secret_sealed": sealing.seal_secret(keys, cfg.name, cfg.secret),
        "credentials_sealed": sealing.seal_credentials(keys, cfg.name, cfg.credentials),
    }


def _columns(cfg: ChannelConfig) -> dict[str, Any]:
    return {
        "intake": str(cfg.intake),
        "mode": str(cfg.mode),
        "routing": cfg.routing,
        "shortage": cfg.shortage,
        "split": cfg.split,
        "payment_timeout_s": float(cfg.payment_timeout_s),
        "pull_interval_s": float(cfg.pull_interval_s),
        "pull_lag_s": float(cfg.pull_lag_s),
        "enabled": cfg.enabled,
        "live_countries": list(cfg.live_countries),
        **_sealed(cfg),
    }


# --- writing ---------------------------------------------------------------------------


async def add_channel(engine: AsyncEngine, cfg: ChannelConfig, by: str) -> ChannelConfig:
    """Store a new channel; ChannelInvalid if it cannot be served, ChannelExists if the
    name is taken, SealingUnavailable when it has a secret and no payload keys are set."""
    validate(cfg)
    row = await store.insert(
        engine, {"name": cfg.name, "platform": cfg.platform, "by": by, **_columns(cfg)}
    )
    if row is None:
        raise ChannelExists(cfg.name)
    forget(cfg.name)
    return _config(row)


# What ``update_channel`` takes; ``platform`` is accepted only unchanged.
CHANGES = (
    "platform",
    "intake",
    "mode",
    "secret",
    "credentials",
    "routing",
    "shortage",
    "split",
    "payment_timeout_s",
    "pull_interval_s",
    "pull_lag_s",
    "enabled",
    "live_countries",
)


def changed(current: ChannelConfig, changes: dict[str, Any]) -> ChannelConfig:
    """The channel with ``changes`` applied, checked. ``credentials`` are merged into the
    current ones (a key given null is removed); ``routing``, ``shortage`` and ``split``
    given null fall back to the settings again."""
    unknown = sorted(set(changes) - set(CHANGES))
    errors = [{"field": name, "message": "not a channel setting"} for name in unknown]
    if "platform" in changes and changes["platform"] != current.platform:
        errors.append(
            {
                "field": "platform",
                "message": "fixed once the channel exists: disable it and add a new channel",
            }
        )
    if errors:
        raise ChannelInvalid(errors)
    values = {k: v for k, v in changes.items() if k not in ("platform", "credentials")}
    if "credentials" in changes:
        merged = dict(current.credentials)
        for key, value in (changes["credentials"] or {}).items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        values["credentials"] = merged
    if "enabled" in values and not isinstance(values["enabled"], bool):
        raise ChannelInvalid([{"field": "enabled", "message": "true or false"}])
    if values.get("live_countries") is not None:
        values["live_countries"] = countries(values["live_countries"])
    else:
        values.pop("live_countries", None)
        if values.get("mode") == Mode.LIVE and current.mode != Mode.LIVE:
            # The whole channel goes live: its pilot is over (moving back starts without).
            values["live_countries"] = ()
    after = replace(current, **values)
    validate(after)
    return after


async def update_channel(
    engine: AsyncEngine, name: str, changes: dict[str, Any], by: str
) -> ChannelConfig:
    """Apply ``changes`` (see :func:`changed`); ChannelNotFound, ChannelInvalid. A switch
    of ``mode`` is recorded with who and when, and applies to orders arriving after it."""
    row = await store.one(engine, name)
    if row is None:
        raise ChannelNotFound(name)
    after = changed(_config(row), changes)
    columns = _columns(after)
    if "secret" not in changes:
        columns.pop("secret_sealed")  # left as it is: not sealed again
    if "credentials" not in changes:
        columns.pop("credentials_sealed")
    updated = await store.update(engine, name, columns, by)
    if updated is None:
        raise ChannelNotFound(name)
    forget(name)
    return _config(updated)


async def disable_channel(engine: AsyncEngine, name: str, by: str) -> ChannelConfig:
    """Disable the channel: its row stays, its orders keep their channel."""
    return await update_channel(engine, name, {"enabled": False}, by)
