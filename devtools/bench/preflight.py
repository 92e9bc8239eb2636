"""Before ``oms bench`` measures anything: is the system started for a benchmark? And while
it runs: a line on stderr now and then, so a long run is never silent.

The simulators' delays (a shipment leaves ``OMS_SIM_SHIP_DELAY_S`` after its dispatch, the
carrier moves every ``OMS_SIM_CARRIER_STEP_S``) and the cancel window
(``OMS_RELEASE_DELAY_S``, 10 s under ``oms dev``) make an order wait on purpose: a run
against them measures those waits, not what an order costs, and takes minutes to say so.
The risk score (``OMS_RISK_HOLD_SCORE``) holds the bench's orders for an operator: one
buyer's burst of one cheap unit each to one address is what a brushing ring looks like.
(What scoring costs an order is measured on its own: ``python -m devtools.bench.risk``.)
``oms dev`` writes the values its children run with into ``run.json``; the bench refuses to
start unless each is zero.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Mapping
from typing import Any

START_LINE = (
    "OMS_SIM_SHIP_DELAY_S=0 OMS_SIM_CARRIER_STEP_S=0 OMS_RELEASE_DELAY_S=0 "
    "OMS_RISK_HOLD_SCORE=0 make dev"
)
PROGRESS_EVERY_S = 5.0


def say(message: str) -> None:
    sys.stderr.write(f"[bench] {message}\n")
    sys.stderr.flush()


def pace_problems(pace: Mapping[str, Any] | None) -> list[str]:
    """The settings of the running ``oms dev`` (its ``run.json`` ``pace``) that are not zero;
    one line when it does not say them (an ``oms dev`` from before this check)."""
    if pace is None:
        return ["the running oms dev does not record its simulator delays (restart it)"]
    return [f"{name}={float(value):g}" for name, value in pace.items() if float(value) != 0]


def refusal(problems: list[str]) -> str:
    return (
        "the running system waits or holds on purpose ("
        + ", ".join(problems)
        + "): the figures would measure those waits, not what an order costs.\n"
        "Stop it (Ctrl-C) and start it for a benchmark:\n\n    " + START_LINE + "\n"
    )


async def progress(name: str, units: int, done: Any, errors: Any, started: float) -> None:
    """Every few seconds until cancelled: ``name: done/units, rate, errors``; ``done`` and
    ``errors`` are read when each line is written (lists that grow as the phase runs)."""
    while True:
        await asyncio.sleep(PROGRESS_EVERY_S)
        elapsed = time.perf_counter() - started
        count = len(done)
        say(
            f"{name}: {count}/{units} done after {elapsed:.0f} s "
            f"({count / elapsed:.1f}/s), {len(errors)} errors"
        )
