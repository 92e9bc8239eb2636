"""`oms channels`: add, list, show, set and disable, straight to the session's database,
as a shell user runs them; the secret is taken from the environment and never printed."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from oms import channel_registry
from tests.conftest import TEST_PAYLOAD_KEYS
from tests.integration.helpers import unique

OMS = str(Path(sys.executable).parent / "oms")
SECRET = "cli-secret-" + "never-printed"


async def _oms(system: Any, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "DATABASE_URL": system.settings.database_url,
        "OMS_PAYLOAD_KEYS": TEST_PAYLOAD_KEYS,
        # Temporal is not asked for a push channel; a pull channel's schedule goes here.
        "TEMPORAL_ADDRESS": system.settings.temporal_target,
        **env,
    }
    return await asyncio.to_thread(
        subprocess.run,
        [OMS, "channels", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_a_channel_is_added_listed_changed_and_disabled_from_the_shell(system, admin):
    name = unique("cli").lower()
    added = await _oms(
        system,
        "add",
        name,
        "--platform",
        "woocommerce",
        "--intake",
        "push",
        "--mode",
        "shadow",
        "--secret-env",
        "SHOP_SECRET",
        "--shortage",
        "backorder",
        "--split",
        "off",
        SHOP_SECRET=SECRET,
    )
    listed = await _oms(system, "list")
    changed = await _oms(system, "set", name, "--mode", "live", "--routing", "nearest")
    shown = await _oms(system, "show", name, "--json")
    again = await _oms(
        system, "add", name, "--platform", "native", "--intake", "push", "--secret", "other"
    )
    disabled = await _oms(system, "disable", name)

    assert added.returncode == 0, added.stderr
    assert f"/v1/channels/{name}/webhooks" in added.stdout
    assert name in listed.stdout and "woocommerce" in listed.stdout
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.startswith(f"channel {name}: set mode, routing")
    described = json.loads(shown.stdout)
    assert (described["mode"], described["routing"], described["shortage"]) == (
        "live",
        "nearest",
        "backorder",
    )
    assert described["split"] is False and described["secret_set"] is True
    assert described["mode_changed_by"].startswith("cli:")
    assert again.returncode == 1 and "exists already" in again.stderr
    assert disabled.returncode == 0, disabled.stderr
    for done in (added, listed, changed, shown, again, disabled):
        assert SECRET not in done.stdout + done.stderr
    # The API reads what the command wrote, the secret opened with the shared payload key.
    api = (await admin.get(f"/v1/channels/{name}")).json()
    assert api["enabled"] is False and api["created_by"].startswith("cli:")
    channel_registry.forget(name)
    loaded = await channel_registry.load_channel(system.engine, name)
    assert loaded is not None and loaded.secret == SECRET


async def test_the_shell_is_told_why_a_channel_is_refused_and_nothing_is_written(system, admin):
    name = unique("cli").lower()
    no_secret = await _oms(system, "add", name, "--platform", "shopify", "--intake", "push")
    wrong_intake = await _oms(
        system, "add", name, "--platform", "jd", "--intake", "push", "--secret", "s"
    )
    unknown = await _oms(system, "set", unique("none").lower(), "--mode", "live")
    nothing = await _oms(system, "set", name)

    assert no_secret.returncode == 1 and "error: secret:" in no_secret.stderr
    assert wrong_intake.returncode == 1 and "error: intake:" in wrong_intake.stderr
    assert unknown.returncode == 1 and "no channel" in unknown.stderr
    assert nothing.returncode == 1 and "nothing to change" in nothing.stderr
    assert (await admin.get(f"/v1/channels/{name}")).status_code == 404


async def test_a_pull_channel_from_the_shell_has_its_credentials_sealed(system, admin):
    name = unique("tb").lower()
    added = await _oms(
        system,
        "add",
        name,
        "--platform",
        "taobao",
        "--intake",
        "pull",
        "--credential",
        "base_url=http://127.0.0.1:9/router",
        "--credential",
        "app_secret=very-secret",
        "--pull-interval",
        "15",
    )
    shown = (await admin.get(f"/v1/channels/{name}")).json()

    assert added.returncode == 0, added.stderr
    assert "pull schedule" in added.stdout
    assert "very-secret" not in added.stdout
    assert shown["credential_keys"] == ["app_secret", "base_url"]
    assert shown["pull_interval_s"] == 15.0


async def test_a_shadow_channel_is_compared_with_the_current_systems_export_from_the_shell(
    system, admin, tmp_path
):
    from tests.integration.helpers import stocked, wait_for_status
    from tests.integration.test_channel_push import add_channel, push, shopify_order

    wh, sku = await stocked(admin, 20)
    channel = await add_channel(admin, system, mode="shadow")
    agreed, differs = shopify_order(sku), shopify_order(sku)
    for order in (agreed, differs):
        taken = (await push(admin, channel, order)).json()
        await wait_for_status(admin, taken["order_id"], {"shadowed"})
    export = tmp_path / "current.csv"
    export.write_text(
        "external_id,held,warehouses\n"
        f"{agreed['id']},no,{wh}\n"
        f"{differs['id']},no,another-warehouse\n"
        "only-here,no,x\n"
    )

    done = await _oms(system, "compare", channel, str(export))

    assert done.returncode == 0, done.stderr
    assert "2 orders decided by both systems" in done.stdout
    assert "warehouses  1/2 agree (50.0 %)" in done.stdout
    assert "only in the current system: 1" in done.stdout
    assert f"{differs['id']}: warehouses OMS {wh} / current another-warehouse" in done.stdout
    missing = await _oms(system, "compare", channel, str(tmp_path / "nope.csv"))
    assert missing.returncode == 1 and "nope.csv" in missing.stderr
