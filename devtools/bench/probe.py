"""CPU and memory of the system's processes while ``oms bench`` runs, read with psutil.

A role (worker, api, temporal, postgres, ...) is a process and everything under it: the
PostgreSQL postmaster's backends come and go, so a sample adds up the live processes of the
tree and the CPU of the children each of them has already reaped.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import psutil


def process_tree(pid: int) -> list[psutil.Process] | None:
    """``pid`` and its live descendants; None if ``pid`` is gone."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return None


def tree_cpu_s(pid: int) -> float | None:
    """User and system CPU seconds of ``pid`` and its descendants, dead or alive; None if
    ``pid`` is gone."""
    procs = process_tree(pid)
    if procs is None:
        return None
    total = 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
        except psutil.Error:  # ended between the listing and now: its parent reaps it
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def rss_bytes(pid: int) -> int | None:
    """The RSS of ``pid`` and its descendants (``oms worker --processes N``: the parent and
    its N worker processes); None if ``pid`` is gone."""
    procs = process_tree(pid)
    if procs is None:
        return None
    total = 0
    for proc in procs:
        try:
            total += int(proc.memory_info().rss)
        except psutil.Error:  # ended between the listing and now
            continue
    return total


@dataclass
class Probe:
    """The roles' process ids, sampled on demand; the worker's RSS (all its processes)
    watched in between."""

    pids: dict[str, int | None]
    rss_peak: int = 0
    # Every process of a role (Target.groups): oms dev --workers 2 runs worker-1 and -2.
    groups: dict[str, list[int]] = field(default_factory=dict)

    def _members(self, name: str) -> list[int]:
        pid = self.pids.get(name)
        return self.groups.get(name) or ([pid] if pid else [])

    def cpu(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for name in self.pids:
            seconds = [s for s in map(tree_cpu_s, self._members(name)) if s is not None]
            out[name] = sum(seconds) if seconds else None
        return out

    def worker_rss(self) -> int | None:
        sizes = [b for b in map(rss_bytes, self._members("worker")) if b is not None]
        return sum(sizes) if sizes else None

    async def watch_rss(self, stop: asyncio.Event, every_s: float = 0.5) -> None:
        """Sample the worker's RSS until ``stop`` is set, keeping the peak."""
        while not stop.is_set():
            rss = self.worker_rss()
            if rss is not None:
                self.rss_peak = max(self.rss_peak, rss)
            try:
                await asyncio.wait_for(stop.wait(), timeout=every_s)
            except TimeoutError:
                pass
