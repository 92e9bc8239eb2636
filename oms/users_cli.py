"""``oms users``: the people who sign in to the console, straight to the database.

    oms users create NAME --role operator|admin|viewer   prints a new password, once
    oms users list [--json]
    oms users reset-password NAME                        prints a new password, once
    oms users role NAME operator|admin|viewer
    oms users disable NAME | enable NAME

The database is ``DATABASE_URL`` (or ``oms dev``'s embedded one), as for ``oms migrate``.
A new password, a new role and disabling end the user's open sessions. Exit 1 when the
change is refused (the reason is printed), 2 when the database cannot be used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from oms.settings import Settings
from oms.users import ROLES, UserError


def add_parser(sub: Any) -> None:
    users = sub.add_parser("users", help="people who sign in to the console").add_subparsers(
        dest="action", required=True
    )
    create = users.add_parser("create", help="create a user and print a password once")
    create.add_argument("name")
    create.add_argument("--role", required=True, choices=ROLES)
    lst = users.add_parser("list", help="every user, with role and last sign-in")
    lst.add_argument("--json", action="store_true")
    reset = users.add_parser("reset-password", help="a new password, printed once")
    reset.add_argument("name")
    role = users.add_parser("role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    for verb, text in (("disable", "refuse the user's sign-ins"), ("enable", "allow them again")):
        users.add_parser(verb, help=text).add_argument("name")


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from oms import users
    from oms.db.engine import make_engine
    from oms.db.migrate import migrate
    from oms.store import users as store

    engine = make_engine(settings, pool_size=1)
    try:
        await migrate(engine)
        if args.action == "create":
            new = await users.create_user(engine, args.name, args.role, by="oms users")
            print(f"created {new.role} user '{new.name}'; the password is shown only once:")
            print(new.password)
        elif args.action == "reset-password":
            print(f"new password for '{args.name}' (shown only once; their sessions ended):")
            print(await users.reset_password(engine, args.name))
        elif args.action == "role":
            await users.change_role(engine, args.name, args.role)
            print(f"'{args.name}' is now {args.role} (their sessions ended)")
        elif args.action in ("disable", "enable"):
            await users.set_disabled(engine, args.name, args.action == "disable")
            print(f"'{args.name}' {args.action}d")
        else:
            rows = await store.all_users(engine)
            if args.json:
                print(
                    json.dumps(
                        [
                            {
                                "name": r.name,
                                "role": r.role,
                                "created_at": _when(r.created_at),
                                "last_login_at": _when(r.last_login_at),
                                "disabled": r.disabled_at is not None,
                            }
                            for r in rows
                        ],
                        indent=2,
                    )
                )
            else:
                for r in rows:
                    state = " (disabled)" if r.disabled_at is not None else ""
                    print(f"{r.name:24} {r.role:9} last sign-in {_when(r.last_login_at)}{state}")
                if not rows:
                    print("no users yet: oms users create NAME --role operator")
    except UserError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except (OSError, ConnectionError) as exc:
        sys.stderr.write(f"error: the database cannot be used: {exc}\n")
        return 2
    finally:
        await engine.dispose()
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_run(args, settings))
