"""``oms channels``: configure sales channels, straight to the database.

    oms channels add NAME --platform P --intake push|pull|both [--mode live|shadow]
                     [--secret S | --secret-env VAR] [--credential KEY=VALUE ...]
                     [--routing R] [--shortage fail|backorder] [--split on|off]
                     [--payment-timeout S] [--pull-interval S] [--pull-lag S]
    oms channels list [--json]
    oms channels show NAME [--json]
    oms channels set NAME [--mode M] [--intake I] [--secret S | --secret-env VAR]
                     [--credential KEY=VALUE ...] [--routing R|default]
                     [--shortage fail|backorder|default] [--split on|off|default]
                     [--payment-timeout S] [--pull-interval S] [--pull-lag S] [--enable]
    oms channels disable NAME
    oms channels pull NAME       pull the channel's orders now

The database is ``DATABASE_URL`` (or ``oms dev``'s embedded one), as for ``oms migrate``;
secrets are sealed with ``OMS_PAYLOAD_KEYS`` (or ``oms dev``'s key in ``.oms/secrets.json``),
which the API and the worker must share. A secret is best given as ``--secret-env VAR``, so
that it stays out of the shell's history and the process list. Nothing prints a secret or a
credential's value. After a change of a pull channel its pull schedule is updated in
Temporal; when Temporal does not answer, the change is kept and the worker makes the
schedule at its next start. Exit 1 when the change is refused (the reason is printed),
2 when the database or Temporal cannot be used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from oms.channels.canonical import PLATFORMS
from oms.domain.routing import STRATEGIES
from oms.domain.shortage import SHORTAGE_POLICIES
from oms.settings import Settings

DEFAULT = "default"  # ``set``: follow the settings again
TEMPORAL_TIMEOUT_S = 5.0


class CommandError(RuntimeError):
    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def _payload_keys(settings: Settings) -> str | None:
    if settings.payload_keys:
        return settings.payload_keys
    secrets = Path(settings.home) / "secrets.json"
    if secrets.exists():
        return json.loads(secrets.read_text()).get("payload_keys")  # type: ignore[no-any-return]
    return None


def _secret(args: argparse.Namespace) -> str | None:
    if getattr(args, "secret_env", None):
        value = os.environ.get(args.secret_env)
        if not value:
            raise CommandError(f"--secret-env: the variable {args.secret_env} is not set")
        return value
    return getattr(args, "secret", None)


def _credentials(pairs: list[str] | None) -> dict[str, str]:
    chosen: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"--credential takes KEY=VALUE, got {pair.split('=')[0]!r}")
        chosen[key.strip()] = value
    return chosen


def _switch(value: str) -> bool:
    return value == "on"


def _describe(record: Any) -> dict[str, Any]:
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
        "webhook_path": f"/v1/channels/{cfg.name}/webhooks" if cfg.pushes else None,
        "live_countries": list(cfg.live_countries),
        "mode_changed_at": record.mode_changed_at.isoformat() if record.mode_changed_at else None,
        "mode_changed_by": record.mode_changed_by,
        "created_at": record.created_at.isoformat(),
        "created_by": record.created_by,
        "updated_at": record.updated_at.isoformat(),
        "updated_by": record.updated_by,
    }


def _text(described: dict[str, Any]) -> str:
    shown = dict(described)
    for name in ("routing", "shortage", "split"):
        if shown[name] is None:
            shown[name] = "(settings)"
    shown["secret_set"] = "yes" if shown["secret_set"] else "no"
    shown["credential_keys"] = ", ".join(shown["credential_keys"]) or "-"
    shown["live_countries"] = ", ".join(shown["live_countries"]) or "-"
    width = max(len(k) for k in shown)
    return "\n".join(f"{k.ljust(width)}  {'-' if v is None else v}" for k, v in shown.items())


def _table(items: list[dict[str, Any]]) -> str:
    columns = ("name", "platform", "intake", "mode", "enabled", "routing", "shortage", "split")
    rows = [[str(i[c]) if i[c] is not None else "-" for c in columns] for i in items]
    widths = [max([len(c), *(len(r[n]) for r in rows)]) for n, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def _by() -> str:
    return f"cli:{os.environ.get('USER') or os.environ.get('LOGNAME') or 'unknown'}"


async def _with_engine(settings: Settings, work: Callable[[Any], Awaitable[Any]]) -> Any:
    from oms import channel_registry
    from oms.db.engine import make_engine
    from oms.db.migrate import migrate

    channel_registry.configure(_payload_keys(settings))
    engine = make_engine(settings, pool_size=1)
    try:
        await migrate(engine)
        return await work(engine)
    finally:
        await engine.dispose()


async def _follow_schedule(settings: Settings, cfg: Any) -> str:
    """Update the pull schedule after a change of a pull channel; a line to print."""
    from oms import pull_schedules
    from oms.temporal_client import connect

    try:
        client = await asyncio.wait_for(connect(settings), TEMPORAL_TIMEOUT_S)
        if cfg.enabled and cfg.pulls:
            await asyncio.wait_for(
                pull_schedules.ensure_pull_schedule(client, settings, cfg), TEMPORAL_TIMEOUT_S
            )
            return "pull schedule updated"
        await asyncio.wait_for(
            pull_schedules.remove_pull_schedule(client, cfg.name), TEMPORAL_TIMEOUT_S
        )
        return "pull schedule removed"
    except Exception as exc:  # Temporal down: the change is kept all the same
        return (
            f"Temporal did not answer ({type(exc).__name__}): the pull schedule will be made "
            "at the worker's next start"
        )


async def _add(settings: Settings, args: argparse.Namespace) -> list[str]:
    from oms import channel_registry
    from oms.channels.config import ChannelConfig

    cfg = ChannelConfig(
        name=args.name,
        platform=args.platform,
        intake=args.intake,
        mode=args.mode,
        secret=_secret(args),
        credentials=_credentials(args.credential),
        routing=args.routing,
        shortage=args.shortage,
        split=_switch(args.split) if args.split else None,
        payment_timeout_s=args.payment_timeout,
        pull_interval_s=args.pull_interval,
        pull_lag_s=args.pull_lag,
    )

    async def add(engine: Any) -> ChannelConfig:
        return await channel_registry.add_channel(engine, cfg, _by())

    saved = await _with_engine(settings, add)
    lines = [f"added channel {saved.name} ({saved.platform}, {saved.intake}, {saved.mode})"]
    if saved.pushes:
        lines.append(f"webhooks go to POST /v1/channels/{saved.name}/webhooks")
    if saved.pulls:
        lines.append(await _follow_schedule(settings, saved))
    return lines


def _changes(args: argparse.Namespace) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for option, field in (("mode", "mode"), ("intake", "intake")):
        if getattr(args, option):
            changes[field] = getattr(args, option)
    secret = _secret(args)
    if secret is not None:
        changes["secret"] = secret
    if args.credential:
        changes["credentials"] = _credentials(args.credential)
    for name in ("routing", "shortage"):
        value = getattr(args, name)
        if value is not None:
            changes[name] = None if value == DEFAULT else value
    if args.split is not None:
        changes["split"] = None if args.split == DEFAULT else _switch(args.split)
    for option, field in (
        ("payment_timeout", "payment_timeout_s"),
        ("pull_interval", "pull_interval_s"),
        ("pull_lag", "pull_lag_s"),
    ):
        if getattr(args, option) is not None:
            changes[field] = getattr(args, option)
    if args.enable:
        changes["enabled"] = True
    if args.pilot is not None:
        from oms.channel_registry import ChannelInvalid, countries

        try:
            changes["live_countries"] = list(countries(args.pilot))
        except ChannelInvalid as exc:
            raise CommandError(f"--pilot: {exc.errors[0]['message']}", status=2) from exc
    if not changes:
        raise CommandError("nothing to change: give at least one option (see --help)")
    return changes


async def _set(settings: Settings, args: argparse.Namespace, changes: dict[str, Any]) -> list[str]:
    from oms import channel_registry

    async def update(engine: Any) -> Any:
        before = await channel_registry.channel_record(engine, args.name)
        await channel_registry.update_channel(engine, args.name, changes, _by())
        return before, await channel_registry.channel_record(engine, args.name)

    before, after = await _with_engine(settings, update)
    saved = after.config
    lines = [f"channel {saved.name}: set {', '.join(sorted(changes))}"]
    if "mode" in changes or "live_countries" in changes:
        lines += switch_lines(before, after)
    if saved.pulls:
        lines.append(await _follow_schedule(settings, saved))
    return lines


def switch_lines(before: Any, after: Any) -> list[str]:
    """What a change of mode or pilot did: the exact instant it applies from, and how the
    current system asks which orders are the OMS's."""
    cfg = after.config
    pilot = ", ".join(cfg.live_countries)
    now = f"{cfg.mode}" + (f" (pilot: {pilot} live)" if cfg.mode == "shadow" and pilot else "")
    if before is not None and before.mode_changed_at == after.mode_changed_at:
        return [f"no switch: the channel was already {now}"]
    at = after.mode_changed_at.isoformat()
    return [
        f"switched to {now} at {at}",
        f"orders taken from {at} on get the new mode, every earlier order keeps its own",
        f"the OMS's orders: GET /v1/orders?channel={cfg.name}&mode=live (newest first, "
        f"down to {at}); the side by side: oms shadow report --channel {cfg.name}",
    ]


async def _show(settings: Settings, args: argparse.Namespace) -> str:
    from oms import channel_registry

    async def one(engine: Any) -> Any:
        return await channel_registry.channel_record(engine, args.name)

    record = await _with_engine(settings, one)
    if record is None:
        raise CommandError(f"no channel {args.name}")
    described = _describe(record)
    return json.dumps(described, indent=2) if args.json else _text(described)


async def _list(settings: Settings, args: argparse.Namespace) -> str:
    from oms import channel_registry

    records = await _with_engine(settings, channel_registry.channel_records)
    items = [_describe(r) for r in records]
    if args.json:
        return json.dumps({"items": items}, indent=2)
    return _table(items) if items else "no channels configured"


async def _pull(settings: Settings, args: argparse.Namespace) -> str:
    from oms import channel_registry, pull_schedules
    from oms.temporal_client import connect

    async def one(engine: Any) -> Any:
        return await channel_registry.load_channel(engine, args.name)

    cfg = await _with_engine(settings, one)
    if cfg is None:
        raise CommandError(f"no channel {args.name}")
    if not (cfg.enabled and cfg.pulls):
        raise CommandError(f"channel {args.name} is not an enabled pull channel")
    try:
        client = await asyncio.wait_for(connect(settings), TEMPORAL_TIMEOUT_S)
        await asyncio.wait_for(pull_schedules.pull_now(client, args.name), TEMPORAL_TIMEOUT_S)
    except pull_schedules.NoPullSchedule as exc:
        raise CommandError(
            f"channel {args.name} has no pull schedule yet (the worker makes it at its start)"
        ) from exc
    except Exception as exc:
        raise CommandError(f"could not ask Temporal: {exc}", status=2) from exc
    return f"pull of {args.name} started"


def _export(path: str) -> Any:
    """The current system's decisions from its CSV export (oms.channels.shadow)."""
    from oms.channels.shadow import BadExport, read_current

    try:
        return read_current(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, BadExport) as exc:
        raise CommandError(f"{path}: {exc}") from exc


async def _compare(settings: Settings, args: argparse.Namespace, current: Any) -> str:
    """A shadow channel's decisions against the current system's CSV export."""
    from datetime import UTC, datetime

    from oms.channels.shadow import compare, oms_decision
    from oms.store import orders

    async def rows(engine: Any) -> Any:
        return await orders.shadowed(engine, args.name, datetime(1970, 1, 1, tzinfo=UTC), 10**7)

    decided = await _with_engine(settings, rows)
    result = compare((oms_decision(r.external_id, r.shadow) for r in decided), current)
    lines = [f"{args.name}: {result.orders} orders decided by both systems"]
    for aspect, (agreed, compared) in sorted(result.agreement.items()):
        lines.append(f"  {aspect:<11} {agreed}/{compared} agree ({100 * agreed / compared:.1f} %)")
    lines.append(f"  only in the OMS: {len(result.only_oms)}")
    lines.append(f"  only in the current system: {len(result.only_current)}")
    for ext, aspect, ours, theirs in result.differences[: args.show]:
        lines.append(f"  {ext}: {aspect} OMS {ours} / current {theirs}")
    if len(result.differences) > args.show:
        lines.append(f"  ... {len(result.differences) - args.show} more differences")
    return "\n".join(lines)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import DBAPIError

    from oms.channel_registry import ChannelExists, ChannelInvalid, ChannelNotFound
    from oms.channels.sealing import SealingUnavailable
    from oms.codec import PayloadKeyError

    try:
        if args.action == "add":
            out = "\n".join(asyncio.run(_add(settings, args)))
        elif args.action == "set":
            out = "\n".join(asyncio.run(_set(settings, args, _changes(args))))
        elif args.action == "disable":
            args.enable = False
            out = "\n".join(asyncio.run(_set(settings, args, {"enabled": False})))
        elif args.action == "show":
            out = asyncio.run(_show(settings, args))
        elif args.action == "list":
            out = asyncio.run(_list(settings, args))
        elif args.action == "compare":
            out = asyncio.run(_compare(settings, args, _export(args.file)))
        else:
            out = asyncio.run(_pull(settings, args))
    except ChannelInvalid as exc:
        for error in exc.errors:
            sys.stderr.write(f"error: {error['field']}: {error['message']}\n")
        return 1
    except (ChannelExists, ChannelNotFound) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except (SealingUnavailable, PayloadKeyError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except CommandError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exc.status
    except (OSError, DBAPIError) as exc:  # the database is not there
        sys.stderr.write(f"error: could not reach the database: {exc}\n")
        return 2
    print(out)
    return 0


def _seconds(value: str) -> float:
    try:
        return float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from exc


def _secret_options(parser: argparse.ArgumentParser) -> None:
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument("--secret", help="the webhook signing secret (better: --secret-env)")
    secret.add_argument("--secret-env", metavar="VAR", help="read the secret from $VAR")
    parser.add_argument(
        "--credential",
        action="append",
        metavar="KEY=VALUE",
        help="a platform credential (base_url, app_key, ...); repeat for each",
    )


def add_parser(sub: Any) -> None:
    channels = sub.add_parser("channels", help="configure sales channels").add_subparsers(
        dest="action", required=True
    )
    add = channels.add_parser("add", help="add a channel")
    add.add_argument("name")
    add.add_argument("--platform", required=True, choices=PLATFORMS)
    add.add_argument("--intake", required=True, choices=("push", "pull", "both"))
    add.add_argument("--mode", default="live", choices=("live", "shadow"))
    _secret_options(add)
    add.add_argument("--routing", choices=STRATEGIES, help="default: OMS_ROUTING")
    add.add_argument("--shortage", choices=SHORTAGE_POLICIES, help="default: OMS_SHORTAGE")
    add.add_argument("--split", choices=("on", "off"), help="default: OMS_SPLIT")
    add.add_argument("--payment-timeout", type=_seconds, default=86400.0, metavar="S")
    add.add_argument("--pull-interval", type=_seconds, default=30.0, metavar="S")
    add.add_argument("--pull-lag", type=_seconds, default=180.0, metavar="S")

    listing = channels.add_parser("list", help="every channel")
    listing.add_argument("--json", action="store_true")
    show = channels.add_parser("show", help="one channel (never its secret)")
    show.add_argument("name")
    show.add_argument("--json", action="store_true")

    change = channels.add_parser("set", help="change a channel")
    change.add_argument("name")
    change.add_argument("--mode", choices=("live", "shadow"))
    change.add_argument("--intake", choices=("push", "pull", "both"))
    _secret_options(change)
    change.add_argument("--routing", choices=(*STRATEGIES, DEFAULT))
    change.add_argument("--shortage", choices=(*SHORTAGE_POLICIES, DEFAULT))
    change.add_argument("--split", choices=("on", "off", DEFAULT))
    change.add_argument("--payment-timeout", type=_seconds, metavar="S")
    change.add_argument("--pull-interval", type=_seconds, metavar="S")
    change.add_argument("--pull-lag", type=_seconds, metavar="S")
    change.add_argument("--enable", action="store_true", help="enable a disabled channel")
    change.add_argument(
        "--pilot",
        metavar="CC,CC",
        help="a shadow channel's pilot: orders shipping to these countries (ISO codes) "
        "are handled live from now on; '' ends the pilot",
    )

    disable = channels.add_parser("disable", help="disable a channel (its row stays)")
    disable.add_argument("name")
    pull = channels.add_parser("pull", help="pull the channel's orders now")
    pull.add_argument("name")
    compare = channels.add_parser(
        "compare", help="a shadow channel's decisions against the current system's CSV export"
    )
    compare.add_argument("name")
    compare.add_argument("file", help="CSV: external_id, held (yes/no), warehouses (a;b)")
    compare.add_argument("--show", type=int, default=20, help="differences to list")
