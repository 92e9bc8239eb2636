"""The bare workflow of ``oms bench``: five no-op activities in a row, what the engine costs
on its own. An order is measured against it on the same Temporal server.

Importing this module starts nothing; ``oms bench`` runs its worker on ``TASK_QUEUE``.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from oms.domain.annotations import resolve_annotations
    from workflows.options import MUST_COMPLETE

TASK_QUEUE = "oms-bench-bare"
STEPS = 5


@dataclass
class BareInput:
    steps: int = STEPS


@dataclass
class BareResult:
    steps: int


@dataclass
class NoopRequest:
    step: int


@dataclass
class NoopResult:
    step: int


# As oms.domain.messages does for the order's classes: same converter cost on both sides.
resolve_annotations(globals())


@activity.defn(name="bench_noop")
async def noop(req: NoopRequest) -> NoopResult:
    """Does nothing: the activity's whole cost is the engine's round trip."""
    return NoopResult(req.step)


@workflow.defn(name="bench-bare")
class BareWorkflow:
    @workflow.run
    async def run(self, inp: BareInput) -> BareResult:
        # The same timeout and retry policy as the order's must-complete steps.
        for step in range(inp.steps):
            await workflow.execute_activity(noop, NoopRequest(step), **MUST_COMPLETE)
        return BareResult(inp.steps)
