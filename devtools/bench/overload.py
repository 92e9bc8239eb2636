"""``oms bench --overload``: more orders than the system can take, for minutes, and what it
does with them.

Against a running ``oms dev`` at zero simulator delay (as ``oms bench``):

1. capacity: C orders in flight (closed loop, as ``oms bench``'s full phase) for
   ``--capacity-s`` seconds; the orders completed a second is the capacity (or
   ``--capacity R`` skips it);
2. overload: orders arriving open loop at ``--factor`` x capacity for ``--minutes``, each
   POST timed and sorted: accepted (202/200), refused (429, with or without
   ``Retry-After``), anything else (which must not happen);
3. drain: the wait until every accepted order has ended; the drain time runs from the end
   of the load to the last accepted order's end.

Then the books of every accepted order (delivered, paid, stock) and of every refused one
(nothing recorded). The API's backlog gauges and the processes' memory are sampled every
second. Exit 1 on any violation, 2 when there is nothing to measure.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from devtools.bench import arrivals
from devtools.bench.books import Shop, check_books
from devtools.bench.preflight import say
from devtools.bench.run import Phase, _closed_loop, _order_runner
from devtools.bench.target import BenchError, Target, connect_client
from oms.settings import Settings

POST_P99_TARGET_MS = 500.0


@dataclass
class OverloadPlan:
    factor: float = 3.0
    minutes: float = 10.0
    capacity: float | None = None  # orders/s; None: measured first
    capacity_s: float = 60.0
    concurrency: int = 20
    within_s: float = 3600.0  # the drain's bound

    def check(self) -> None:
        if not 1 <= self.factor <= 20:
            raise BenchError("--factor must be between 1 and 20")
        if not 0.05 <= self.minutes <= 240:
            raise BenchError("--minutes must be between 0.05 and 240")
        if self.capacity is not None and not 0.1 <= self.capacity <= 1000:
            raise BenchError("--capacity must be between 0.1 and 1000 orders/s")
        if not 5 <= self.capacity_s <= 600:
            raise BenchError("--capacity-s must be between 5 and 600")
        if not 1 <= self.concurrency <= 500:
            raise BenchError("--concurrency must be between 1 and 500")
        if not 10 <= self.within_s <= 86_400:
            raise BenchError("--within must be between 10 and 86400 seconds")


async def measure_capacity(
    shop: Shop, target: Target, settings: Settings, plan: OverloadPlan
) -> dict[str, Any]:
    """Orders completed a second with ``concurrency`` in flight for ``capacity_s``."""
    client = await connect_client(target, settings)
    deadline = time.monotonic() + plan.capacity_s
    warmup = Phase("warmup")
    await _order_runner(shop, client, warmup, deadline + 60)(0)
    phase = Phase("capacity", units=1_000_000)
    one = _order_runner(shop, client, phase, deadline + 120)
    say(f"capacity: {plan.concurrency} orders in flight for {plan.capacity_s:g} s")
    started = time.perf_counter()
    await _closed_loop(phase.units, plan.concurrency, deadline, one)
    phase.elapsed_s = time.perf_counter() - started
    say(f"capacity: {len(phase.e2e_s)} orders in {phase.elapsed_s:.1f} s = {phase.per_s:.2f}/s")
    return {
        "orders_per_s": round(phase.per_s, 2),
        "completed": len(phase.e2e_s),
        "elapsed_s": round(phase.elapsed_s, 1),
        "errors": phase.errors[:20],
        "ids": [*warmup.ids, *phase.ids],
    }


async def run_overload(target: Target, plan: OverloadPlan, settings: Settings) -> dict[str, Any]:
    load_before = os.getloadavg()
    rate_guess = plan.capacity or 20.0
    # Stock for every order that could arrive (one unit each), with room to spare.
    units = int(rate_guess * plan.factor * plan.minutes * 60 * 1.5 + rate_guess * 400 + 500)
    async with arrivals.http_client(target.api_url, target.admin_key) as http:
        shop = Shop(http, uuid.uuid4().hex[:8])
        try:
            await shop.open(units)
        except httpx.HTTPError as exc:
            raise BenchError(f"the API at {target.api_url}: {exc}") from exc
        watch = arrivals.Watch(http, dict(target.pids), stretch="capacity", groups=target.groups)
        stop = asyncio.Event()
        watching = asyncio.create_task(watch.run(stop))
        capacity: dict[str, Any] = {"orders_per_s": plan.capacity, "given": True}
        before_ids: list[str] = []
        if plan.capacity is None:
            capacity = await measure_capacity(shop, target, settings, plan)
            before_ids = capacity.pop("ids")
            if not capacity["orders_per_s"]:
                raise BenchError("no order completed while measuring the capacity")
        rate = float(capacity["orders_per_s"]) * plan.factor
        duration_s = plan.minutes * 60
        tally = arrivals.Tally("overload")
        watch.stretch = "overload"
        say(f"overload: {rate:.1f} orders/s ({plan.factor:g} x capacity) for {duration_s:g} s")
        progress = asyncio.create_task(_progress(tally, time.perf_counter()))
        tasks = await arrivals.send(lambda _t: rate, duration_s, arrivals.poster(shop, tally))
        load_end = time.time()
        await asyncio.gather(*tasks)
        progress.cancel()
        say(f"overload: {len(tally.accepted)} accepted, {len(tally.refused_s)} refused (429)")
        watch.stretch = "drain"
        accepted = list(tally.accepted)
        views = await arrivals.wait_done(shop, set(accepted), time.monotonic() + plan.within_s, say)
        stop.set()
        await watching
        last_done = arrivals.done_at(views, accepted)
        say("checking the books")
        violations = await check_books(shop, [*before_ids, *accepted])
        violations += [f"{i}: refused, yet recorded" for i in tally.refused_ids if i in views]
        if tally.refused_without_retry_after:
            violations.append(f"{tally.refused_without_retry_after} refusals without Retry-After")
        violations += [f"POST answered {code} x{n}" for code, n in tally.other.items()]
    posts = tally.figures()
    p99 = posts["post_ms_all"]["p99"]
    return {
        "run": shop.run,
        "cpus": os.cpu_count(),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "capacity": capacity,
        "factor": plan.factor,
        "rate_per_s": round(rate, 2),
        "minutes": plan.minutes,
        "posts": posts,
        "accepted_per_s": round(len(tally.accepted) / duration_s, 2),
        "post_p99_target_ms": POST_P99_TARGET_MS,
        "post_p99_met": p99 is not None and p99 < POST_P99_TARGET_MS,
        "drain_s": None if last_done is None else round(max(0.0, last_done - load_end), 1),
        "accepted_done": sum(
            1 for i in accepted if views.get(i, {}).get("status") in arrivals.TERMINAL
        ),
        "answered_503": len(tally.unavailable),
        "answered_503_done": arrivals.ended(views, tally.unavailable),
        "backlog": {
            "overload": arrivals.backlog_figures(watch.of("overload")),
            "drain": arrivals.backlog_figures(watch.of("drain")),
        },
        "rss_mb": {
            "overload": arrivals.memory_figures(watch.of("overload")),
            "drain": arrivals.memory_figures(watch.of("drain")),
        },
        "invariants": {"passed": not violations, "violations": violations[:100]},
        "ok": not violations,
    }


async def _progress(tally: arrivals.Tally, started: float) -> None:
    while True:
        await asyncio.sleep(10)
        say(
            f"overload: {tally.sent} sent after {time.perf_counter() - started:.0f} s, "
            f"{len(tally.accepted)} accepted, {len(tally.refused_s)} refused, "
            f"{sum(tally.other.values())} other"
        )


def render_overload(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    posts = report["posts"]
    table = Table(
        title=f"oms bench --overload: {report['factor']:g} x {report['capacity']['orders_per_s']} "
        f"orders/s for {report['minutes']:g} min ({report['cpus']} CPUs)"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("note")

    def ms(spread: dict[str, Any]) -> str:
        return f"{spread['p50']} / {spread['p95']} / {spread['p99']}"

    capacity_note = "given" if report["capacity"].get("given") else "closed loop, measured"
    table.add_row("capacity orders/s", str(report["capacity"]["orders_per_s"]), capacity_note)
    table.add_row("arrivals orders/s", str(report["rate_per_s"]), "open loop")
    table.add_row("POSTs sent", str(posts["sent"]), "")
    table.add_row("accepted (202/200)", str(posts["accepted"]), f"{report['accepted_per_s']}/s")
    table.add_row(
        "refused (429)",
        str(posts["refused_429"]),
        f"{posts['refused_without_retry_after']} without Retry-After",
    )
    table.add_row("anything else", str(posts["other_total"]), str(posts["other"] or ""))
    table.add_row("POST ms p50/p95/p99 accepted", ms(posts["post_ms_accepted"]), "")
    table.add_row("POST ms p50/p95/p99 refused", ms(posts["post_ms_refused"]), "")
    met = "met" if report["post_p99_met"] else "NOT met"
    table.add_row("POST ms p50/p95/p99 all", ms(posts["post_ms_all"]), f"p99 < 500: {met}")
    retry = posts["retry_after_s"]
    table.add_row(
        "Retry-After s min/median/max", f"{retry['min']}/{retry['median']}/{retry['max']}", ""
    )
    backlog = report["backlog"]["overload"]
    table.add_row(
        "backlog max (tasks / unstarted orders)",
        f"{backlog['backlog']['max']} ({backlog['temporal_tasks']['max']} / "
        f"{backlog['unstarted_orders']['max']})",
        f"limit {backlog['limit']}",
    )
    table.add_row("drain s", str(report["drain_s"]), "end of load to the last accepted done")
    table.add_row(
        "accepted orders done", f"{report['accepted_done']}/{posts['accepted']}", "none lost"
    )
    for role, figures in report["rss_mb"]["overload"].items():
        table.add_row(f"RSS MB max, {role}", str(figures["max"]), "")
    Console().print(table)
    violations = report["invariants"]["violations"]
    Console().print("invariants: " + ("passed" if not violations else "; ".join(violations[:10])))
