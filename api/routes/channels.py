"""Sales channels as configuration: add, list, show, change and disable a channel.

Admins change channels; operators and partner keys with ``channels:read`` read them. A
channel's secret and credentials go in and never come out: the answers say whether a secret
is set and which credentials are, nothing more. A pull channel's Temporal Schedule follows
each change (``oms.pull_schedules``); when Temporal does not answer, the channel is saved
all the same and the answer says the schedule is ``pending``: the worker makes it at its
next start.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Annotated, Any

from fastapi import APIRouter, Path
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.service import RPCError

from api.deps import Admin, ChannelReader, EngineDep, JsonRoute, MaybeTemporalDep, SettingsDep
from api.errors import Problem
from api.schemas import answer, problems
from api.schemas.channels import (
    NAME_PATTERN,
    ChannelChange,
    ChannelCreate,
    ChannelInfo,
    ChannelList,
)
from oms import channel_registry, pull_schedules
from oms.channel_registry import (
    ChannelExists,
    ChannelInvalid,
    ChannelNotFound,
    ChannelRecord,
)
from oms.channels.config import ChannelConfig
from oms.channels.sealing import SealingUnavailable
from oms.logging import get_logger
from oms.settings import Settings

router = APIRouter(prefix="/v1/channels", tags=["channels"], route_class=JsonRoute)
log = get_logger(__name__)
_AUTH = problems(401, 403, 503)
ChannelPath = Annotated[str, Path(pattern=NAME_PATTERN)]
SCHEDULE_TIMEOUT_S = 5.0
RESETTABLE = ("routing", "shortage", "split")


def webhook_path(cfg: ChannelConfig) -> str | None:
    return f"/v1/channels/{cfg.name}/webhooks" if cfg.pushes else None


def channel_answer(record: ChannelRecord, **extra: Any) -> dict[str, Any]:
    cfg = record.config
    return {
        "name": cfg.name,
        "platform": cfg.platform,
        "intake": str(cfg.intake),
        "mode": str(cfg.mode),
        "enabled": cfg.enabled,
        "secret_set": bool(cfg.secret),
        "credential_keys": sorted(cfg.credentials),
        "routing": cfg.routing,
        "shortage": cfg.shortage,
        "split": cfg.split,
        "payment_timeout_s": cfg.payment_timeout_s,
        "pull_interval_s": cfg.pull_interval_s,
        "pull_lag_s": cfg.pull_lag_s,
        "webhook_path": webhook_path(cfg),
        "live_countries": list(cfg.live_countries),
        "mode_changed_at": record.mode_changed_at.isoformat() if record.mode_changed_at else None,
        "mode_changed_by": record.mode_changed_by,
        "created_at": record.created_at.isoformat(),
        "created_by": record.created_by,
        "updated_at": record.updated_at.isoformat(),
        "updated_by": record.updated_by,
        "pull_status": None,
        "pull_schedule": None,
        **extra,
    }


async def pull_status(engine: AsyncEngine, name: str) -> dict[str, Any] | None:
    """The poller's report on a pull channel (``oms.store.pull_cursors.pull_status``),
    when the poller is installed and has one; None otherwise."""
    try:
        module = importlib.import_module("oms.store.pull_cursors")
    except ImportError:
        return None
    report = getattr(module, "pull_status", None)
    if report is None:
        return None
    status = await report(engine, name)
    if status is None or isinstance(status, dict):
        return status
    return dict(vars(status)) if hasattr(status, "__dict__") else None


async def follow_schedule(
    client: Client | None, settings: Settings, cfg: ChannelConfig
) -> str | None:
    """Make, update or remove the channel's pull schedule: ``ensured``, ``removed``,
    ``pending`` (Temporal down), or None for a channel that never pulled."""
    pulls = cfg.enabled and cfg.pulls
    try:
        if client is None:
            raise TimeoutError("no connection to Temporal")
        if pulls:
            await asyncio.wait_for(
                pull_schedules.ensure_pull_schedule(client, settings, cfg), SCHEDULE_TIMEOUT_S
            )
            return "ensured"
        await asyncio.wait_for(
            pull_schedules.remove_pull_schedule(client, cfg.name), SCHEDULE_TIMEOUT_S
        )
    except (RPCError, TimeoutError) as exc:
        log.warning("pull_schedule_pending", channel=cfg.name, error=type(exc).__name__)
        return "pending" if pulls else None
    return "removed" if cfg.pulls else None


def _invalid(exc: ChannelInvalid) -> Problem:
    return Problem(
        422,
        f"the channel cannot be served as configured: {exc}",
        kind="channel-invalid",
        title="Invalid channel",
        errors=exc.errors,
    )


def _unsealable(exc: SealingUnavailable) -> Problem:
    return Problem(
        503,
        f"channel secrets cannot be stored: {exc}",
        kind="sealing-unavailable",
        headers={"Retry-After": "60"},
        dependency="payload-keys",
    )


async def _record(engine: AsyncEngine, name: str) -> ChannelRecord:
    record = await channel_registry.channel_record(engine, name)
    if record is None:
        raise Problem(404, f"no channel {name}", kind="not-found")
    return record


_CHANNEL_422 = (
    "The body is invalid (``validation-error``), or the channel could not be served as "
    "configured (``channel-invalid``, ``errors`` names each field)."
)


@router.post(
    "",
    status_code=201,
    response_model=None,
    responses={
        201: answer(ChannelInfo, "The channel, without its secret."),
        **_AUTH,
        **problems(
            409, 413, 422, _409="A channel has this name already (``conflict``).", _422=_CHANNEL_422
        ),
    },
)
async def create_channel(
    body: ChannelCreate,
    caller: Admin,
    engine: EngineDep,
    client: MaybeTemporalDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    cfg = ChannelConfig(
        name=body.name,
        platform=body.platform,
        intake=body.intake,
        mode=body.mode,
        secret=body.secret,
        credentials=dict(body.credentials or {}),
        routing=body.routing,
        shortage=body.shortage,
        split=body.split,
        payment_timeout_s=body.payment_timeout_s,
        pull_interval_s=body.pull_interval_s,
        pull_lag_s=body.pull_lag_s,
    )
    try:
        saved = await channel_registry.add_channel(engine, cfg, caller.name)
    except ChannelInvalid as exc:
        raise _invalid(exc) from exc
    except ChannelExists as exc:
        raise Problem(409, str(exc), kind="conflict") from exc
    except SealingUnavailable as exc:
        raise _unsealable(exc) from exc
    log.info("channel_added", channel=saved.name, platform=saved.platform, by=caller.name)
    schedule = await follow_schedule(client, settings, saved) if saved.pulls else None
    return channel_answer(await _record(engine, saved.name), pull_schedule=schedule)


@router.get(
    "",
    response_model=None,
    responses={200: answer(ChannelList, "Every channel, by name."), **_AUTH},
)
async def read_channels(caller: ChannelReader, engine: EngineDep) -> dict[str, Any]:
    records = await channel_registry.channel_records(engine)
    return {"items": [channel_answer(r) for r in records], "next_cursor": None}


@router.get(
    "/{name}",
    response_model=None,
    responses={
        200: answer(ChannelInfo, "The channel, with the poller's report for a pull channel."),
        **_AUTH,
        **problems(404, 422, _404="No such channel (``not-found``)."),
    },
)
async def read_channel(
    name: ChannelPath, caller: ChannelReader, engine: EngineDep
) -> dict[str, Any]:
    record = await _record(engine, name)
    status = await pull_status(engine, name) if record.config.pulls else None
    return channel_answer(record, pull_status=status)


@router.patch(
    "/{name}",
    response_model=None,
    responses={
        200: answer(ChannelInfo, "The channel after the change."),
        **_AUTH,
        **problems(404, 413, 422, _404="No such channel (``not-found``).", _422=_CHANNEL_422),
    },
)
async def change_channel(
    name: ChannelPath,
    body: ChannelChange,
    caller: Admin,
    engine: EngineDep,
    client: MaybeTemporalDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Change what is given. A switch of ``mode`` (live, shadow) is recorded with who made
    it and when, and applies to the orders that arrive after it."""
    # Null resets only what has a default to fall back to (the settings').
    changes = {
        k: v
        for k, v in body.model_dump(exclude_unset=True).items()
        if v is not None or k in RESETTABLE
    }
    try:
        saved = await channel_registry.update_channel(engine, name, changes, caller.name)
    except ChannelNotFound as exc:
        raise Problem(404, f"no channel {name}", kind="not-found") from exc
    except ChannelInvalid as exc:
        raise _invalid(exc) from exc
    except SealingUnavailable as exc:
        raise _unsealable(exc) from exc
    log.info("channel_changed", channel=name, fields=sorted(changes), by=caller.name)
    schedule = await follow_schedule(client, settings, saved) if saved.pulls else None
    return channel_answer(await _record(engine, name), pull_schedule=schedule)


@router.delete(
    "/{name}",
    response_model=None,
    responses={
        200: answer(ChannelInfo, "The channel, disabled."),
        **_AUTH,
        **problems(404, 422, _404="No such channel (``not-found``)."),
    },
)
async def disable_channel(
    name: ChannelPath,
    caller: Admin,
    engine: EngineDep,
    client: MaybeTemporalDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Disable the channel. The row stays (its orders keep their channel); a pull
    channel's schedule is removed. Disabling twice is harmless."""
    try:
        saved = await channel_registry.disable_channel(engine, name, caller.name)
    except ChannelNotFound as exc:
        raise Problem(404, f"no channel {name}", kind="not-found") from exc
    except ChannelInvalid as exc:
        raise _invalid(exc) from exc
    log.info("channel_disabled", channel=name, by=caller.name)
    schedule = await follow_schedule(client, settings, saved) if saved.pulls else None
    return channel_answer(await _record(engine, name), pull_schedule=schedule)
