"""The ``oms`` command.

    oms dev                      everything on embedded defaults (make dev)
    oms api | worker | sim       one production process each
    oms front --port P --backend HOST:PORT ...   round-robin HTTP front for API processes
    oms migrate                  create or update the schema
    oms chaos                    break a running oms dev under load, then check the books
    oms bench                    an order's cost against the bare engine, on a running oms dev
    oms orders list|show|approve|reject|cancel   the operator's commands (through the API)
    oms returns list|show|approve|reject   returns; oms refunds give ORDER   (through the API)
    oms report kpis [--from D] [--to D] [--channel C] [--csv]   the KPIs (through the API)
    oms insights forecast|backtest|lead-time   demand forecasts and replenishment (database)
    oms stock import FILE.csv    absolute stock levels from a file (to the database)
    oms import orders FILE... --channel C [--format F] [--dry-run]   historical orders
    oms import sample --format F DIR   sample export files (canonical, shopify, taobao)
    oms import verify FILE... --channel C   the files against the database; start: open orders
    oms channels add|list|show|set|disable|pull   sales channels (to the database)
    oms keys create --role R --name N [--channel C] [--scope S ...] [--rate-limit N]
    oms users create NAME --role operator|admin|viewer   console accounts (to the database)
    oms routing learn|times|costs|compare|evaluate   learned routing (to the database)
    oms keys payload [--id K]    a new payload encryption key (OMS_PAYLOAD_KEYS)
    oms workflows drain          open orders per workflow type and patch: what may be deleted
    oms risk generate|train|evaluate|models   fake-order risk: data, model, figures

Configuration comes from the environment (see ``oms.settings``). This core package holds
``migrate``, ``keys``, ``channels``, ``orders``, ``stock`` and ``workflows``; ``api`` comes
from ``api``, ``worker`` from ``worker``, ``sim`` from ``simulators`` and ``dev``,
``chaos`` and ``bench`` from ``devtools``, each declared as an entry point
(``oms.commands``, see ``oms.commands``), so that the core never imports the packages
above it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from oms.commands import AddCommand, contributed
from oms.commands import exit_now as _exit
from oms.settings import Settings, get_settings


def _settings_with_database() -> Settings:
    """The settings, pointing at the embedded PostgreSQL of ``oms dev`` when no
    ``DATABASE_URL`` is set and ``OMS_HOME`` holds one (running or not)."""
    settings = get_settings()
    pgdata = settings.home / "pgdata"
    if settings.database_url or not (pgdata / "PG_VERSION").exists():
        return settings
    import warnings

    warnings.filterwarnings("ignore", module="platformdirs")
    import pgserver

    # Attaches to the server oms dev runs; started here only if it is down, and then
    # stopped again when this command exits (pgserver counts the processes using it).
    server = pgserver.get_server(pgdata.resolve(), cleanup_mode="stop")
    return settings.model_copy(update={"database_url": server.get_uri()})


async def _migrate() -> None:
    from oms.db.engine import make_engine
    from oms.db.migrate import migrate

    engine = make_engine(_settings_with_database(), pool_size=1)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


def cmd_migrate(_: argparse.Namespace) -> None:
    asyncio.run(_migrate())
    print("schema is up to date")


async def _create_key(args: argparse.Namespace) -> None:
    from oms.db.engine import make_engine
    from oms.db.migrate import migrate
    from oms.keys import NameTaken, create_key

    engine = make_engine(_settings_with_database(), pool_size=1)
    try:
        await migrate(engine)
        new = await create_key(
            engine,
            name=args.name,
            role=args.role,
            channel=args.channel,
            scopes=args.scopes,
            rate_limit_per_s=args.rate_limit,
        )
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(1) from exc
    except NameTaken as exc:
        sys.stderr.write(
            f"error: {exc}; revoke it first (DELETE /v1/keys/{exc.key_id}) or choose "
            "another --name\n"
        )
        raise SystemExit(1) from exc
    finally:
        await engine.dispose()
    scope = f" for channel {new.channel}" if new.channel else ""
    if new.scopes:
        scope += f" with scopes {' '.join(new.scopes)}"
    print(f"created {new.role} key #{new.id} '{new.name}'{scope}; it is shown only once:")
    print(new.key)


def cmd_keys_create(args: argparse.Namespace) -> None:
    asyncio.run(_create_key(args))


def cmd_orders(args: argparse.Namespace) -> None:
    from oms.operator_cli import run

    _exit(run(args, get_settings()))


def cmd_returns(args: argparse.Namespace) -> None:
    from oms.returns_cli import run

    _exit(run(args, get_settings()))


def cmd_report(args: argparse.Namespace) -> None:
    from oms.report_cli import run

    _exit(run(args, get_settings()))


def cmd_stock(args: argparse.Namespace) -> None:
    from oms.stock_cli import run

    sys.exit(run(args, _settings_with_database()))


def cmd_insights(args: argparse.Namespace) -> None:
    from oms.insights_cli import run

    if args.action == "backtest" and not args.from_db:  # generated history: no database
        _exit(run(args, get_settings()))
    _exit(run(args, _settings_with_database()))


def cmd_import(args: argparse.Namespace) -> None:
    from oms.imports.cli import run

    if args.action == "sample":  # files only: no database
        _exit(run(args))
    _exit(run(args, _settings_with_database()))


def cmd_channels(args: argparse.Namespace) -> None:
    from oms.channels_cli import run

    _exit(run(args, _settings_with_database()))


def cmd_shadow(args: argparse.Namespace) -> None:
    from oms.shadow_cli import run

    _exit(run(args, _settings_with_database()))


def cmd_risk(args: argparse.Namespace) -> None:
    from oms.risk_cli import run

    offline = args.action == "generate" or (
        args.action == "evaluate" and (args.train_on or args.rules_only)
    )
    _exit(run(args, get_settings() if offline else _settings_with_database()))


def cmd_routing(args: argparse.Namespace) -> None:
    from oms.routing_cli import evaluate, run

    if args.action == "evaluate":  # a simulation: no database
        _exit(evaluate(args))
    _exit(run(args, _settings_with_database()))


def cmd_users(args: argparse.Namespace) -> None:
    from oms.users_cli import run

    _exit(run(args, _settings_with_database()))


def cmd_keys_payload(args: argparse.Namespace) -> None:
    from oms.codec import key_spec_use, new_key_spec

    spec = new_key_spec(args.id)
    print(spec)  # alone on stdout: OMS_PAYLOAD_KEYS=$(oms keys payload) takes it as it is
    sys.stderr.write(key_spec_use(spec))


def cmd_workflows_drain(args: argparse.Namespace) -> None:
    from oms.temporal_client import connect
    from oms.workflow_drain import drain_report, render

    async def report() -> str:
        return render(await drain_report(await connect(get_settings())))

    try:
        print(asyncio.run(report()))
    except Exception as exc:  # Temporal unreachable: say so, no traceback
        sys.stderr.write(f"error: could not ask Temporal: {exc}\n")
        _exit(1)
    _exit(0)


def cmd_front(args: argparse.Namespace) -> None:
    from oms.front import serve
    from oms.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    try:
        serve(args.port, args.backends, args.host or settings.host)
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        _exit(2)
    _exit(0)


def _add_front(sub: Any) -> None:
    front = sub.add_parser(
        "front", help="a round-robin HTTP front for several API processes (docs/performance.md)"
    )
    front.add_argument("--port", type=int, required=True, help="where the front listens")
    front.add_argument(
        "--backend",
        dest="backends",
        action="append",
        required=True,
        metavar="HOST:PORT",
        help="an API process (repeat for each); a host name with several addresses counts "
        "as several",
    )
    front.add_argument("--host", help="the address to listen on (default OMS_HOST)")
    front.set_defaults(fn=cmd_front)


def _add_workflows(sub: Any) -> None:
    workflows = sub.add_parser(
        "workflows", help="the order workflow types and patches in the code"
    ).add_subparsers(dest="action", required=True)
    workflows.add_parser(
        "drain",
        help="open executions per order type and per live patch, and what may be deleted",
    ).set_defaults(fn=cmd_workflows_drain)


# The order of ``oms --help``; the commands come from this package and the packages above
# it (``oms.commands``), and one a package does not contribute is simply not offered.
HELP_ORDER = (
    "dev",
    "api",
    "front",
    "worker",
    "sim",
    "migrate",
    "orders",
    "returns",
    "refunds",
    "report",
    "insights",
    "stock",
    "import",
    "chaos",
    "bench",
    "channels",
    "shadow",
    "routing",
    "keys",
    "users",
    "workflows",
    "risk",
)


def _add_migrate(sub: Any) -> None:
    sub.add_parser("migrate", help="create or update the schema").set_defaults(fn=cmd_migrate)


def _add_orders(sub: Any) -> None:
    from oms.operator_cli import add_parser as add_orders_parser

    add_orders_parser(sub)
    sub.choices["orders"].set_defaults(fn=cmd_orders)


def _add_returns(sub: Any) -> None:
    from oms.returns_cli import add_parsers

    add_parsers(sub)
    sub.choices["returns"].set_defaults(fn=cmd_returns)
    sub.choices["refunds"].set_defaults(fn=cmd_returns)


def _add_report(sub: Any) -> None:
    from oms.report_cli import add_parser as add_report_parser

    add_report_parser(sub)
    sub.choices["report"].set_defaults(fn=cmd_report)


def _add_insights(sub: Any) -> None:
    from oms.insights_cli import add_parser as add_insights_parser

    add_insights_parser(sub)
    sub.choices["insights"].set_defaults(fn=cmd_insights)


def _add_stock(sub: Any) -> None:
    from oms.stock_cli import add_parser as add_stock_parser

    add_stock_parser(sub)
    sub.choices["stock"].set_defaults(fn=cmd_stock)


def _add_import(sub: Any) -> None:
    from oms.imports.cli import add_parser as add_import_parser

    add_import_parser(sub)
    sub.choices["import"].set_defaults(fn=cmd_import)


def _add_channels(sub: Any) -> None:
    from oms.channels_cli import add_parser as add_channels_parser

    add_channels_parser(sub)
    sub.choices["channels"].set_defaults(fn=cmd_channels)


def _add_shadow(sub: Any) -> None:
    from oms.shadow_cli import add_parser as add_shadow_parser

    add_shadow_parser(sub)
    sub.choices["shadow"].set_defaults(fn=cmd_shadow)


def _add_risk(sub: Any) -> None:
    from oms.risk_cli import add_parser as add_risk_parser

    add_risk_parser(sub)
    sub.choices["risk"].set_defaults(fn=cmd_risk)


def _add_routing(sub: Any) -> None:
    from oms.routing_cli import add_parser as add_routing_parser

    add_routing_parser(sub)
    sub.choices["routing"].set_defaults(fn=cmd_routing)


def _add_users(sub: Any) -> None:
    from oms.users_cli import add_parser as add_users_parser

    add_users_parser(sub)
    sub.choices["users"].set_defaults(fn=cmd_users)


def _add_keys(sub: Any) -> None:
    keys = sub.add_parser("keys", help="manage API keys").add_subparsers(
        dest="action", required=True
    )
    create = keys.add_parser("create", help="create an API key and print it")
    create.add_argument(
        "--role", required=True, choices=["channel", "operator", "admin", "partner"]
    )
    create.add_argument("--name", required=True)
    create.add_argument("--channel", help="sales channel of a channel key (default: the name)")
    create.add_argument(
        "--scope",
        action="append",
        dest="scopes",
        metavar="SCOPE",
        help="a partner key's scope (orders:read[:CHANNEL], orders:write:CHANNEL, stock:sync, "
        "webhooks:manage, channels:read, reports:read); repeat for each",
    )
    create.add_argument(
        "--rate-limit", type=float, metavar="N", help="requests a second (default: the setting)"
    )
    create.set_defaults(fn=cmd_keys_create)
    payload = keys.add_parser(
        "payload", help="print a new payload encryption key entry for OMS_PAYLOAD_KEYS"
    )
    payload.add_argument("--id", default="k1", help="the key's id (e.g. k2 when rotating)")
    payload.set_defaults(fn=cmd_keys_payload)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="oms", description="Order management system")
    sub = p.add_subparsers(dest="command", required=True)
    commands: dict[str, AddCommand] = {
        **contributed(),
        "migrate": _add_migrate,
        "orders": _add_orders,
        "returns": _add_returns,
        "report": _add_report,
        "insights": _add_insights,
        "stock": _add_stock,
        "import": _add_import,
        "channels": _add_channels,
        "shadow": _add_shadow,
        "routing": _add_routing,
        "keys": _add_keys,
        "users": _add_users,
        "risk": _add_risk,
        "workflows": _add_workflows,
        "front": _add_front,
    }
    place = {name: n for n, name in enumerate(HELP_ORDER)}
    for name in sorted(commands, key=lambda name: (place.get(name, len(place)), name)):
        commands[name](sub)
    return p


def main(argv: list[str] | None = None) -> None:
    from pydantic import ValidationError

    from oms.settings import SettingsError

    args = parser().parse_args(argv)
    try:
        args.fn(args)
    except (SettingsError, ValidationError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        _exit(2)


if __name__ == "__main__":
    main()
