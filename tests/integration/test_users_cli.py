"""`oms users`: accounts made, listed, changed and disabled from the shell; a password is
printed once, at creation or reset, and then signs in to the console."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.integration.console_helpers import sign_in
from tests.integration.helpers import unique

OMS = str(Path(sys.executable).parent / "oms")


async def _oms(system: Any, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DATABASE_URL": system.settings.database_url}
    return await asyncio.to_thread(
        subprocess.run,
        [OMS, "users", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_a_user_is_made_signs_in_and_is_reset_changed_and_disabled(system):
    name = unique("cs")
    made = await _oms(system, "create", name, "--role", "operator")
    assert made.returncode == 0, made.stderr
    assert f"created operator user '{name}'" in made.stdout
    password = made.stdout.strip().splitlines()[-1]
    assert len(password) >= 20
    async with httpx.AsyncClient(base_url=system.api_url) as http:
        assert (await sign_in(http, name, password)).status_code == 303

        again = await _oms(system, "create", name, "--role", "admin")
        assert again.returncode == 1 and "exists already" in again.stderr

        listed = json.loads((await _oms(system, "list", "--json")).stdout)
        mine = next(u for u in listed if u["name"] == name)
        assert mine["role"] == "operator" and mine["last_login_at"] != "-"
        assert "password" not in json.dumps(mine)

        # A new password ends the session the old one opened, and only the new one works.
        reset = await _oms(system, "reset-password", name)
        assert reset.returncode == 0
        new_password = reset.stdout.strip().splitlines()[-1]
        assert new_password != password
        assert (await http.get("/console/alerts")).status_code == 303
        assert (await sign_in(http, name, password)).status_code == 401
        assert (await sign_in(http, name, new_password)).status_code == 303

        assert (await _oms(system, "role", name, "viewer")).returncode == 0
        assert (await http.get("/console/alerts")).status_code == 303  # session ended
        assert (await sign_in(http, name, new_password)).status_code == 303
        page = await http.get("/console/alerts")
        assert f"{name} · viewer" in page.text

        assert (await _oms(system, "disable", name)).returncode == 0
        assert (await sign_in(http, name, new_password)).status_code == 401
        assert (await _oms(system, "enable", name)).returncode == 0
        assert (await sign_in(http, name, new_password)).status_code == 303


async def test_bad_names_roles_and_unknown_users_are_refused(system):
    bad = await _oms(system, "create", "no spaces please", "--role", "operator")
    assert bad.returncode == 1 and "user name" in bad.stderr
    role = await _oms(system, "create", unique("x"), "--role", "channel")
    assert role.returncode == 2 and "invalid choice" in role.stderr
    unknown = await _oms(system, "reset-password", unique("ghost"))
    assert unknown.returncode == 1 and "no user named" in unknown.stderr
