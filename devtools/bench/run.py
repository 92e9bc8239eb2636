"""``oms bench``: what an order costs, measured against the bare engine on the same system.

Against a running ``oms dev`` (it reads ``$OMS_HOME/run.json`` and ``secrets.json``; loopback
only) started with the simulators and the cancel window at zero (``preflight``: it refuses
to start otherwise)::

    OMS_SIM_SHIP_DELAY_S=0 OMS_SIM_CARRIER_STEP_S=0 OMS_RELEASE_DELAY_S=0 \\
        OMS_RISK_HOLD_SCORE=0 make dev

it runs three phases, one after the other:

1. bare: N workflows of five no-op activities (``devtools.bench.bare``) at concurrency C, on a
   worker of its own in this process (task queue ``oms-bench-bare``), built with the real
   worker's tuning (``worker.tuning``) and the system's payload codec;
2. full: N orders through ``POST /v1/orders`` at concurrency C: C orders in flight, each slot
   sending its next order once the last one's workflow has ended;
3. half: N more orders (``--half-orders``) arriving open loop, evenly spaced, at half the
   orders/s that phase 2 measured.

Then it reads the histories of phase 2's orders (with their shipment children) and of the
bare workflows, checks the books of its own orders through the API (every one delivered,
one authorization and captures adding up to the total, stock on_hand down by exactly the
units delivered and nothing left reserved), and prints the figures (``devtools.bench.report``).
Beside it in ``devtools.bench``: ``target`` (what it runs against), ``preflight`` (the
refusal and the progress lines), ``bare`` (the workflow), ``books`` (the shop and its
books), ``histories``, ``probe`` (CPU and RSS), ``figures`` (pure arithmetic).
Exit 1 on any violation, 2 when there is nothing to measure.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from devtools.bench.books import Shop, check_books
from devtools.bench.figures import cpu_per_unit, latency_ms
from devtools.bench.histories import pace_warnings, read_histories
from devtools.bench.preflight import progress, say
from devtools.bench.probe import Probe
from devtools.bench.target import (
    BenchError,
    Plan,
    Target,
    api_client,
    connect_client,
    settings_for,
)
from oms.domain.ids import order_workflow_id
from oms.settings import Settings

# One unit of load (an order, a bare workflow), by its number.
Unit = Callable[[int], Coroutine[Any, Any, None]]


# --- phases ------------------------------------------------------------------------------


@dataclass
class Phase:
    """One phase's runs: start latency (POST, or the workflow start), start to end, errors."""

    name: str
    units: int = 0
    ids: list[str] = field(default_factory=list)
    start_s: list[float] = field(default_factory=list)
    e2e_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    cpu: dict[str, float | None] = field(default_factory=dict)
    rate: float | None = None  # arrivals per second, for an open-loop phase

    @property
    def per_s(self) -> float:
        return len(self.e2e_s) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def figures(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "completed": len(self.e2e_s),
            "elapsed_s": round(self.elapsed_s, 2),
            "per_s": round(self.per_s, 2),
            "arrivals_per_s": None if self.rate is None else round(self.rate, 2),
            "start_ms": latency_ms(self.start_s),
            "e2e_ms": latency_ms(self.e2e_s),
            "cpu_s_per_unit": self.cpu,
            "errors": len(self.errors),
        }


async def _measured(phase: Phase, probe: Probe, load: Callable[[], Awaitable[None]]) -> None:
    before = probe.cpu()
    started = time.perf_counter()
    say(f"{phase.name}: {phase.units} to run")
    ticking = asyncio.create_task(
        progress(phase.name, phase.units, phase.e2e_s, phase.errors, started)
    )
    try:
        await load()
    finally:
        ticking.cancel()
    phase.elapsed_s = time.perf_counter() - started
    phase.cpu = cpu_per_unit(before, probe.cpu(), len(phase.e2e_s))
    say(
        f"{phase.name}: {len(phase.e2e_s)}/{phase.units} done in {phase.elapsed_s:.1f} s "
        f"({phase.per_s:.1f}/s), {len(phase.errors)} errors"
    )


async def _closed_loop(count: int, concurrency: int, deadline: float, one: Unit) -> None:
    """``concurrency`` slots, each starting the next unit once its last one has ended; none
    is started after the deadline."""
    numbers = iter(range(count))

    async def slot() -> None:
        for n in numbers:  # shared: each number is taken by one slot
            if time.monotonic() > deadline:
                return
            await one(n)

    await asyncio.gather(*(slot() for _ in range(concurrency)))


async def _open_loop(count: int, rate: float, deadline: float, one: Unit) -> None:
    """``count`` arrivals ``1 / rate`` seconds apart, whatever is still in flight."""
    started = time.perf_counter()
    tasks: list[asyncio.Task[None]] = []
    for n in range(count):
        await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
        if time.monotonic() > deadline:
            break
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)


def _remaining(deadline: float) -> float:
    return max(0.1, deadline - time.monotonic())


async def _until_closed(client: Client, workflow_id: str, deadline: float) -> Any:
    """The workflow's result; it may not be started yet when an order was only recorded."""
    handle = client.get_workflow_handle(workflow_id)
    while True:
        try:
            return await asyncio.wait_for(handle.result(), timeout=_remaining(deadline))
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def _order_runner(shop: Shop, client: Client, phase: Phase, deadline: float) -> Unit:
    async def one(n: int) -> None:
        started = time.perf_counter()
        try:
            answer = await shop.http.post("/v1/orders", json=shop.order(phase.name, n))
        except httpx.HTTPError as exc:
            phase.errors.append(f"{phase.name} order {n}: POST failed ({type(exc).__name__})")
            return
        phase.start_s.append(time.perf_counter() - started)
        if answer.status_code != 202:
            phase.errors.append(f"{phase.name} order {n}: POST answered {answer.status_code}")
            return
        order_id = answer.json()["id"]
        phase.ids.append(order_id)
        try:
            await _until_closed(client, order_workflow_id(order_id), deadline)
        except Exception as exc:  # timed out, or the workflow failed: a finding, not a crash
            phase.errors.append(f"{order_id}: did not end ({type(exc).__name__})")
            return
        phase.e2e_s.append(time.perf_counter() - started)

    return one


def _bare_runner(client: Client, run: str, phase: Phase, deadline: float) -> Unit:
    from devtools.bench.bare import TASK_QUEUE, BareInput, BareWorkflow

    async def one(n: int) -> None:
        started = time.perf_counter()
        workflow_id = f"bench-bare-{run}-{phase.name}-{n}"
        try:
            handle = await client.start_workflow(
                BareWorkflow.run, BareInput(), id=workflow_id, task_queue=TASK_QUEUE
            )
            phase.start_s.append(time.perf_counter() - started)
            phase.ids.append(workflow_id)
            await asyncio.wait_for(handle.result(), timeout=_remaining(deadline))
        except Exception as exc:
            phase.errors.append(f"{workflow_id}: {type(exc).__name__}")
            return
        phase.e2e_s.append(time.perf_counter() - started)

    return one


async def _bare_phase(
    client: Client, settings: Settings, run: str, plan: Plan, probe: Probe, deadline: float
) -> Phase:
    from temporalio.worker import Worker

    from devtools.bench.bare import TASK_QUEUE, BareWorkflow, noop

    # The worker package is not imported at module level: this core package stays
    # importable without it, as the oms command starts the worker by module path.
    from worker.tuning import worker_options

    worker = Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[BareWorkflow],
        activities=[noop],
        **worker_options(settings),
    )
    phase = Phase("bare", units=plan.orders)
    async with worker:
        # Not measured: the first workflow pays for the sandbox's imports.
        await _bare_runner(client, run, Phase("warmup"), deadline)(0)
        one = _bare_runner(client, run, phase, deadline)
        await _measured(
            phase, probe, lambda: _closed_loop(plan.orders, plan.concurrency, deadline, one)
        )
    return phase


# --- the run -----------------------------------------------------------------------------


@dataclass
class Phases:
    bare: Phase
    warmup: Phase
    full: Phase
    half: Phase


async def _run_phases(
    client: Client, shop: Shop, settings: Settings, plan: Plan, probe: Probe, deadline: float
) -> Phases:
    """bare, then a warm-up order, then full and half load, one after the other."""
    bare = await _bare_phase(client, settings, shop.run, plan, probe, deadline)
    warmup = Phase("warmup")  # one order first, not measured, as for the bare workflow
    await _order_runner(shop, client, warmup, deadline)(0)
    full = Phase("full", units=plan.orders)
    one = _order_runner(shop, client, full, deadline)
    await _measured(full, probe, lambda: _closed_loop(plan.orders, plan.concurrency, deadline, one))
    half = plan.orders if plan.half_orders is None else plan.half_orders
    slow = Phase("half", units=half, rate=max(full.per_s / 2, 0.05) if half else None)
    if half:
        paced = _order_runner(shop, client, slow, deadline)
        await _measured(slow, probe, lambda: _open_loop(half, slow.rate or 1, deadline, paced))
    return Phases(bare, warmup, full, slow)


def _shortfall(phase: Phase) -> list[str]:
    missing = phase.units - len(phase.e2e_s)
    return [f"{phase.name}: {missing} of {phase.units} did not complete"] if missing > 0 else []


def _incomplete(phases: Phases) -> list[str]:
    runs = (phases.warmup, phases.bare, phases.full, phases.half)
    return [e for p in runs for e in p.errors] + [s for p in runs for s in _shortfall(p)]


async def run_bench(target: Target, plan: Plan, settings: Settings) -> dict[str, Any]:
    """Every phase, the histories and the books; the report as a dict (``ok`` says whether
    the books balance)."""
    settings = settings_for(target, settings)
    deadline = time.monotonic() + plan.within_s
    load_before = os.getloadavg()
    client = await connect_client(target, settings)
    async with api_client(target, plan.concurrency) as http:
        shop = Shop(http, uuid.uuid4().hex[:8])
        half = plan.orders if plan.half_orders is None else plan.half_orders
        try:
            await shop.open(plan.orders + half + 1)
        except httpx.HTTPError as exc:
            raise BenchError(f"the API at {target.api_url}: {exc}") from exc
        probe, stop = Probe(target.pids, groups=target.groups), asyncio.Event()
        watching = asyncio.create_task(probe.watch_rss(stop))
        phases = await _run_phases(client, shop, settings, plan, probe, deadline)
        stop.set()
        await watching
        rss_end, load_after = probe.worker_rss(), os.getloadavg()
        say("reading the histories and checking the books")
        histories = await read_histories(client, phases.full.ids, phases.bare.ids)
        submitted = [*phases.warmup.ids, *phases.full.ids, *phases.half.ids]
        violations = _incomplete(phases) + await check_books(shop, submitted)
    bare, full = phases.bare, phases.full
    return {
        "run": shop.run,
        "orders": plan.orders,
        "concurrency": plan.concurrency,
        "cpus": os.cpu_count(),
        "load_average": {"before": load_before, "after": load_after},
        "orders_per_s": round(full.per_s, 2),
        "bare_per_s": round(bare.per_s, 2),
        "ratio": round(full.per_s / bare.per_s, 3) if bare.per_s else None,
        "phases": {"bare": bare.figures(), "full": full.figures(), "half": phases.half.figures()},
        "history": histories.figures(),
        "worker_rss_mb": {
            "peak": round(probe.rss_peak / 2**20, 1) if probe.rss_peak else None,
            "end": round(rss_end / 2**20, 1) if rss_end else None,
        },
        "warnings": pace_warnings(histories),
        "invariants": {"passed": not violations, "violations": violations[:100]},
        "ok": not violations,
    }
