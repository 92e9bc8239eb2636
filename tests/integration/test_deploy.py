"""A deploy with orders in flight: orders at every stage on the previous release's worker,
then today's worker in its place; every order finishes as it should.

The previous release is kept in tests/deploy/previous/ (its ``order.batched``, the frozen
``order.lean`` with its batching, and its ``bookkeep`` that took the step's name).
This is the deploy docs/workflow-changes.md describes: no worker versioning; the new
workers replay each running order's history through today's code and carry it on.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import httpx
from temporalio import activity
from temporalio.worker import Replayer, Worker

from activities.read_model import ReadModelActivities
from oms.codec import data_converter
from oms.domain.messages import DispatchRequest, DispatchResult
from tests.conftest import TEST_PAYLOAD_KEYS, System, api_of, free_port
from tests.deploy.previous.bookkeeping import previous_bookkeep
from tests.deploy.previous.order_batched import (
    PreviousBatchedOrderWorkflow as PreviousOrderWorkflow,
)
from tests.integration.helpers import (
    add_warehouse,
    order_body,
    set_stock,
    stocked,
    submit,
    unique,
    wait_for_status,
)
from worker.main import build_activities, build_worker
from worker.tuning import worker_options
from workflows.legacy.order import LegacyOrderWorkflow
from workflows.legacy.order_lean import LeanOrderWorkflow
from workflows.order import OrderWorkflow

SETTINGS = {
    "hold_high_value": "EUR:100",  # the held order
    "shortage": "default:backorder",  # the backordered order
    "release_delay_s": 3.0,  # every order waits 3 s in its cancel window
    "backorder_recheck_s": 2.0,
}
TERMINAL = {"delivered", "cancelled", "failed"}


def _previous_worker(system: System, settings: Any, dispatch_gate: asyncio.Event) -> Worker:
    """The old build: the previous ``order.batched`` and its ``bookkeep``, today's other
    activities, and a dispatch that never completes for SKUs named ``SLOW-*`` (a dispatch
    in flight when the worker stops)."""
    real = {fn.__name__: fn for fn in build_activities(system.engine, settings)}

    @activity.defn(name="dispatch_shipment")
    async def dispatch(req: DispatchRequest) -> DispatchResult:
        if any(line.sku.startswith("SLOW-") for line in req.lines):
            dispatch_gate.set()
            await asyncio.Event().wait()  # until the worker's shutdown cancels it
        result: DispatchResult = await real["dispatch_shipment"](req)
        return result

    steps = {**real, "dispatch_shipment": dispatch}
    activities = [fn for name, fn in steps.items() if name != "bookkeep"]
    activities.append(previous_bookkeep(ReadModelActivities(system.engine).write_batch, steps))
    return Worker(
        system.client,
        task_queue=settings.task_queue,
        workflows=[PreviousOrderWorkflow],
        activities=activities,
        **worker_options(settings),
    )


async def test_orders_in_flight_at_every_stage_finish_after_a_deploy(system: System):
    settings = system.settings.model_copy(
        update={"task_queue": unique("oms-test-deploy"), "api_port": free_port(), **SETTINGS}
    )
    gate = asyncio.Event()
    old = _previous_worker(system, settings, gate)
    old_run = asyncio.create_task(old.run())
    async with api_of(system, settings) as http:
        _, sku = await stocked(http, 20)
        short = unique("SKU")
        await set_stock(http, await add_warehouse(http), short, 0)
        slow = unique("SLOW")
        await set_stock(http, await add_warehouse(http), slow, 5)

        done_before = await submit(http, order_body([(sku, 1, "10.00")]))
        await wait_for_status(http, done_before["id"], {"delivered"})
        held = await submit(http, order_body([(sku, 1, "150.00")]))
        backordered = await submit(http, order_body([(short, 2, "5.00")]))
        dispatching = await submit(http, order_body([(slow, 1, "7.00")]))
        await wait_for_status(http, held["id"], {"on_hold"})
        await wait_for_status(http, backordered["id"], {"backordered"})
        await asyncio.wait_for(gate.wait(), timeout=30)  # its dispatch is running
        in_window = await submit(http, order_body([(sku, 2, "3.00")]))
        to_cancel = await submit(http, order_body([(sku, 1, "4.00")]))
        await wait_for_status(http, in_window["id"], {"reserved"})
        await wait_for_status(http, to_cancel["id"], {"reserved"})

        # The deploy: the old worker stops (its running dispatch is cancelled, to be
        # retried), today's starts on the same task queue.
        await old.shutdown()
        await asyncio.gather(old_run, return_exceptions=True)
        new = build_worker(system.client, system.engine, settings)
        new_run = asyncio.create_task(new.run())
        try:
            cancel = await http.post(f"/v1/orders/{to_cancel['id']}/cancel", json={"reason": "x"})
            assert cancel.status_code == 202, cancel.text
            approve = await http.post(f"/v1/orders/{held['id']}/approve", json={})
            assert approve.status_code == 202, approve.text
            await set_stock(http, (await _warehouse_of(http, short)), short, 5)

            orders = [done_before, held, backordered, dispatching, in_window]
            finished = {
                o["id"]: await wait_for_status(http, o["id"], TERMINAL, within=90) for o in orders
            }
            cancelled = await wait_for_status(http, to_cancel["id"], TERMINAL, within=60)
            for order in finished.values():
                assert order["status"] == "delivered", order
                await _books_balance(http, order)
            assert cancelled["status"] == "cancelled"
            assert cancelled["payment"]["status"] == "voided"
            for s in (sku, short, slow):
                stock = (await http.get(f"/v1/stock/{s}")).json()
                assert all(w["reserved"] == 0 for w in stock["warehouses"]), stock
            ids = [*finished, to_cancel["id"]]
            await _replay_on_todays_code(system, ids)
        finally:
            await new.shutdown()
            await asyncio.gather(new_run, return_exceptions=True)


async def _warehouse_of(http: httpx.AsyncClient, sku: str) -> str:
    stock = (await http.get(f"/v1/stock/{sku}")).json()
    return str(stock["warehouses"][0]["warehouse_id"])


async def _books_balance(http: httpx.AsyncClient, order: dict[str, Any]) -> None:
    """One authorization, captures adding up to the total, a timeline without gaps."""
    ledger = (await http.get("/v1/payments", params={"order_id": order["id"]})).json()["items"]
    ok = [e for e in ledger if e["status"] == "succeeded"]
    assert [e["kind"] for e in ok if e["kind"] == "authorize"] == ["authorize"], ledger
    captured = sum(Decimal(e["amount"]) for e in ok if e["kind"] == "capture")
    assert captured == Decimal(order["totals"]["total"]), ledger
    events = (await http.get(f"/v1/orders/{order['id']}/events")).json()["items"]
    assert [e["seq"] for e in events] == list(range(len(events)))


async def _replay_on_todays_code(system: System, order_ids: list[str]) -> None:
    """Each history, begun on the old build and ended on the new, replays on today's code."""
    replayer = Replayer(
        workflows=[OrderWorkflow, LeanOrderWorkflow, LegacyOrderWorkflow],
        data_converter=data_converter(TEST_PAYLOAD_KEYS),
    )
    for order_id in order_ids:
        history = await system.client.get_workflow_handle(f"order-{order_id}").fetch_history()
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, (order_id, json.dumps(str(result.replay_failure)))
