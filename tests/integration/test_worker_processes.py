"""``oms worker --processes 2``: one of the two worker processes is SIGKILLed while orders are
in flight; the other (and the one restarted in its place) finishes every order exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import httpx
import psutil
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from devtools.ports import free_port
from oms.settings import Settings
from tests.conftest import ADMIN_KEY, System, _serve
from tests.integration.helpers import TERMINAL, order_body, stocked, submit, unique, wait_for_status

ORDERS = 8


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a child process these settings."""
    env = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, dict):
            text = json.dumps(value)
        else:
            text = str(value)
        env[f"OMS_{name.upper()}"] = text
    return env


def start_workers(env: dict[str, str], processes: int) -> subprocess.Popen[bytes]:
    command = ["-m", "oms.cli", "worker", "--processes", str(processes)]
    return subprocess.Popen([sys.executable, *command], env=env)


def worker_children(parent: psutil.Process) -> dict[int, int]:
    """The worker processes under ``parent``: {index: pid}."""
    found = {}
    for child in parent.children():
        try:
            cmdline = child.cmdline()
        except psutil.Error:
            continue
        if "worker.processes" in cmdline:
            found[int(cmdline[-1])] = child.pid
    return found


async def polling_pids(system: System, task_queue: str) -> set[int]:
    """The pids of the workers polling ``task_queue`` for workflow tasks (their identity
    is ``pid@host``)."""
    answer = await system.client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=system.settings.temporal_namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return {int(p.identity.split("@")[0]) for p in answer.pollers if p.identity[:1].isdigit()}


async def _until(check: Any, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if found := await check():
            return found
        await asyncio.sleep(0.3)
    raise AssertionError(f"{what} within {within:g} s")


async def test_two_worker_processes_survive_a_kill_with_every_order_finished_once(system):
    from api.app import create_app

    settings = system.settings.model_copy(
        update={
            "task_queue": unique("oms-test-processes"),
            "api_port": free_port(),
            "release_delay_s": 2.0,
        }
    )
    env = {**os.environ, **settings_env(settings), "OMS_LOG_FORMAT": "json"}
    parent = start_workers(env, 2)
    server, server_task = await _serve(
        create_app(settings, system.engine, system.client), settings.api_port
    )
    try:
        tree = psutil.Process(parent.pid)

        async def both_polling() -> dict[int, int] | None:
            children = worker_children(tree)
            pids = await polling_pids(system, settings.task_queue)
            return children if len(children) == 2 and set(children.values()) <= pids else None

        children = await _until(both_polling, 60, "two worker processes polling")
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{settings.api_port}",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            timeout=30,
        ) as http:
            wh, sku = await stocked(http, ORDERS)
            orders = [await submit(http, order_body([(sku, 1, "5.00")])) for _ in range(ORDERS)]
            # Mid-flight: reserved and waiting for release, every order in some worker's cache.
            for order in orders:
                await wait_for_status(http, order["id"], {"reserved"}, within=60)
            os.kill(children[0], signal.SIGKILL)  # the one that also runs the singletons

            async def restarted() -> bool:
                again = worker_children(tree)
                return len(again) == 2 and again[0] != children[0]

            await _until(restarted, 30, "the killed worker process restarted")
            done = [await wait_for_status(http, o["id"], TERMINAL, within=120) for o in orders]
            ledgers = [
                (await http.get("/v1/payments", params={"order_id": o["id"]})).json()["items"]
                for o in orders
            ]
            stock = (await http.get(f"/v1/stock/{sku}")).json()
        assert parent.poll() is None, "the parent stays up"
        last = worker_children(tree)
        parent.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(parent.wait, 60) == 0
        assert not [pid for pid in last.values() if psutil.pid_exists(pid)], "children stopped"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        server.should_exit = True
        await server_task

    assert [o["status"] for o in done] == ["delivered"] * ORDERS
    for ledger in ledgers:
        assert [(p["kind"], p["amount"]) for p in ledger] == [
            ("authorize", "5.00"),
            ("capture", "5.00"),
        ]
    assert [(w["warehouse_id"], w["on_hand"], w["reserved"]) for w in stock["warehouses"]] == [
        (wh, 0, 0)
    ]
