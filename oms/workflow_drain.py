"""``oms workflows drain``: which older workflow code still has orders in flight.

Frozen order types (``workflows/legacy/``) and patches stay in the code until no open
execution can replay through them. This counts, from Temporal's visibility store:

- open executions per order type, current and legacy (a legacy type with none left can be
  deleted, with its replay histories moved to the "retired" list);
- per live patch, open executions that recorded its marker and those that did not (the
  SDK writes a patch's id to the ``TemporalChangeVersion`` search attribute with the
  marker). None without the marker: the old branch can go (``deprecate_patch``); none
  with it either, after a deprecation: the call can go.

docs/workflow-changes.md states the policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio.client import Client

from oms.contract import LIVE_PATCHES, ORDER_WORKFLOWS

OPEN = "ExecutionStatus = 'Running'"


@dataclass
class PatchCount:
    patch: str
    with_marker: int  # open executions that took the patched path
    without_marker: int  # open executions still on the path before the patch


@dataclass
class TypeCount:
    workflow_type: str
    open: int
    legacy: bool
    patches: list[PatchCount] = field(default_factory=list)

    def advice(self) -> str:
        if self.legacy and self.open == 0:
            return "drained: delete it from workflows/legacy/"
        if self.legacy:
            return "in flight: keep it"
        return "current"


async def _count(client: Client, query: str) -> int:
    return (await client.count_workflows(query)).count


async def drain_report(client: Client) -> list[TypeCount]:
    report = []
    for kind in ORDER_WORKFLOWS:
        of_type = f"WorkflowType = '{kind}' AND {OPEN}"
        count = TypeCount(kind, await _count(client, of_type), legacy=kind != ORDER_WORKFLOWS[0])
        for patch in LIVE_PATCHES.get(kind, ()):
            marked = await _count(client, f"{of_type} AND TemporalChangeVersion = '{patch}'")
            count.patches.append(PatchCount(patch, marked, count.open - marked))
        report.append(count)
    return report


def render(report: list[TypeCount]) -> str:
    lines = [f"{'workflow type':<16} {'open':>6}  what to do"]
    for t in report:
        lines.append(f"{t.workflow_type:<16} {t.open:>6}  {t.advice()}")
        for p in t.patches:
            if p.without_marker == 0:
                hint = "no open order on the old path: deprecate the patch"
                if p.with_marker == 0:
                    hint = "no open order has it: the patch call can go once deprecated"
            else:
                hint = "orders on the old path: keep the branch"
            counts = f"with {p.with_marker:>5}  without {p.without_marker:>5}"
            lines.append(f"  patch {p.patch:<30} {counts}  {hint}")
    return "\n".join(lines)
