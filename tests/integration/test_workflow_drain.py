"""``oms workflows drain``: open executions per order type and per live patch."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from oms.workflow_drain import PatchCount, TypeCount, drain_report, render
from tests.conftest import System, custom_stack
from tests.integration.helpers import order_body, stocked, submit, wait_for_status

HOLD_EVERYTHING = {"hold_high_value": "EUR:0.01"}
OMS = str(Path(sys.executable).parent / "oms")


async def _oms_drain(system: System) -> subprocess.CompletedProcess[str]:
    """``oms workflows drain`` as an operator runs it, against the tests' Temporal."""
    env = {
        **os.environ,
        "OMS_TEMPORAL_ADDRESS": system.settings.temporal_target,
        "OMS_PAYLOAD_KEYS": system.settings.payload_keys or "",
        "OMS_HOME": str(system.settings.home),
    }
    run = [OMS, "workflows", "drain"]
    return await asyncio.to_thread(
        subprocess.run, run, env=env, capture_output=True, text=True, timeout=60
    )


async def _report_until(system: System, ready: object) -> list[TypeCount]:
    report: list[TypeCount] = []
    for _ in range(100):  # visibility lags the history by a moment
        report = await drain_report(system.client)
        if ready(report):  # type: ignore[operator]
            return report
        await asyncio.sleep(0.2)
    raise AssertionError(render(report))


async def test_a_legacy_order_in_flight_is_counted_with_the_patches_it_took(system: System):
    async with custom_stack(system, "drain", {}, order_workflow="order", **HOLD_EVERYTHING) as http:
        _, sku = await stocked(http, 1)
        order = await submit(http, order_body([(sku, 1)]))
        await wait_for_status(http, order["id"], {"on_hold"})
        handle = system.client.get_workflow_handle(f"order-{order['id']}")
        try:

            def counted(report: list[TypeCount]) -> bool:
                legacy = next(t for t in report if t.workflow_type == "order")
                holds = next(p for p in legacy.patches if p.patch == "operator-holds")
                return legacy.open >= 1 and holds.with_marker >= 1

            report = await _report_until(system, counted)
            printed = await _oms_drain(system)
        finally:
            await handle.terminate("test over")

    legacy = next(t for t in report if t.workflow_type == "order")
    assert legacy.legacy and legacy.advice() == "in flight: keep it"
    # A new run of the legacy type takes every patched path, so it records every marker.
    assert {p.patch for p in legacy.patches if p.with_marker >= 1} >= {
        "operator-holds",
        "capture-per-shipment",
        "backorders-and-rerouting",
    }
    assert printed.returncode == 0, printed.stderr
    assert "order.batched" in printed.stdout and "in flight: keep it" in printed.stdout
    text = render(report)
    assert "order.batched" in text and "order.lean" in text and "patch operator-holds" in text


def test_the_report_says_what_may_be_deleted():
    report = [
        TypeCount("order.batched", 12, legacy=False),
        TypeCount("order.lean", 0, legacy=True),
        TypeCount("order", 3, legacy=True, patches=[PatchCount("operator-holds", 3, 0)]),
    ]
    assert [t.advice() for t in report] == [
        "current",
        "drained: delete it from workflows/legacy/",
        "in flight: keep it",
    ]
    assert "no open order on the old path: deprecate the patch" in render(report)
    report[2].patches = [PatchCount("operator-holds", 1, 2)]
    assert "orders on the old path: keep the branch" in render(report)
