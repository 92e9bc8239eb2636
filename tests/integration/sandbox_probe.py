"""A workflow that reads the wall clock, which workflow code must never do: the sandbox
refuses it (tests/integration/test_sandbox.py). Kept apart, so that the sandbox imports
nothing but this module."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow


@workflow.defn(name="sandbox-probe")
class ClockReadingWorkflow:
    @workflow.run
    async def run(self) -> str:
        return datetime.now().isoformat()  # not workflow.now(): not deterministic
