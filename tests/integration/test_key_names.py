"""A key's name is unique among the active keys: a second ``webshop`` key is refused (409
from the API, a message from ``oms keys create``) until the first one is revoked."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from tests.integration.helpers import unique

OMS = str(Path(sys.executable).parent / "oms")


async def test_a_second_active_key_with_the_name_is_a_409_problem(admin):
    name = unique("webshop")
    first = await admin.post("/v1/keys", json={"name": name, "role": "operator"})
    assert first.status_code == 201, first.text
    again = await admin.post("/v1/keys", json={"name": name, "role": "channel"})
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    problem = again.json()
    assert problem["type"].endswith("/conflict")
    assert problem["status"] == 409
    assert name in problem["detail"]
    assert problem["key_id"] == first.json()["id"]
    named = [k for k in (await admin.get("/v1/keys")).json()["items"] if k["name"] == name]
    assert len(named) == 1


async def test_revoking_a_key_frees_its_name(admin):
    name = unique("webshop")
    first = await admin.post("/v1/keys", json={"name": name, "role": "operator"})
    assert (await admin.delete(f"/v1/keys/{first.json()['id']}")).status_code == 204
    second = await admin.post("/v1/keys", json={"name": name, "role": "operator"})
    assert second.status_code == 201, second.text
    assert second.json()["id"] != first.json()["id"]


async def test_concurrent_creations_of_one_name_make_one_key(admin):
    name = unique("race")
    answers = await asyncio.gather(
        *(admin.post("/v1/keys", json={"name": name, "role": "operator"}) for _ in range(6))
    )
    assert sorted(a.status_code for a in answers) == [201] + [409] * 5


async def test_the_cli_refuses_a_second_key_with_a_message(system):
    name = unique("webshop")
    env = {**os.environ, "DATABASE_URL": system.settings.database_url}

    def create() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [OMS, "keys", "create", "--role", "channel", "--name", name],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    first = await asyncio.to_thread(create)
    assert first.returncode == 0, first.stderr
    second = await asyncio.to_thread(create)
    assert second.returncode == 1
    assert f"an active API key named '{name}' exists already" in second.stderr
    assert "revoke it first" in second.stderr
    assert "Traceback" not in second.stderr
    assert second.stdout == ""
