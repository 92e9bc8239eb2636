"""The oms command's own errors: messages, not tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

OMS = str(Path(sys.executable).parent / "oms")


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``oms`` as a user would, but in a directory and an ``OMS_HOME`` of its own:
    never the checkout's ``.oms/``, where a developer's ``make dev`` keeps its data."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "TEMPORAL_ADDRESS") and not k.startswith("OMS_")
    }
    with tempfile.TemporaryDirectory(prefix="oms-cli-") as home:
        return subprocess.run(
            [OMS, *args],
            env={**base, "OMS_HOME": str(Path(home) / ".oms"), **env},
            cwd=home,
            capture_output=True,
            text=True,
            timeout=60,
        )


def test_a_process_without_a_database_url_says_so():
    result = _run("migrate")
    assert result.returncode == 2
    assert "DATABASE_URL is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_refuses_the_sandbox_secrets():
    result = _run("migrate", OMS_ENV="production", DATABASE_URL="postgresql://x@127.0.0.1/x")
    assert result.returncode == 2
    assert "must be set outside development" in result.stderr
    assert "Traceback" not in result.stderr


def test_keys_create_rejects_an_unknown_role():
    result = _run("keys", "create", "--role", "superuser", "--name", "x")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_keys_payload_prints_the_entry_and_says_where_it_goes():
    result = _run("keys", "payload", "--id", "k2")
    assert result.returncode == 0, result.stderr
    spec = result.stdout.strip()
    assert spec.startswith("k2:") and "\n" not in spec  # stdout is the entry alone
    assert "OMS_PAYLOAD_KEYS" in result.stderr
    assert "oms api" in result.stderr and "oms worker" in result.stderr
    assert "no request header" in result.stderr
    assert f"export OMS_PAYLOAD_KEYS='{spec}'" in result.stderr
