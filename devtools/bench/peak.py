"""``oms bench --peak``: a day's profile, compressed: quiet, a ramp, a peak at twenty times
the quiet rate, a tail, then the drain.

The rates are real orders a second; only the durations are compressed. A day is taken as
four quiet hours, a two-hour ramp, the peak hour and a three-hour tail; ``--compress``
(default 60) divides them (ten minutes of load), or ``--phase-s Q,R,P,T`` gives each
stretch in seconds. The ramp rises linearly from the quiet rate to the peak's, the tail
falls back. Orders arrive open loop (``devtools.bench.arrivals``), one unit each of the
bench's own SKU, at zero simulator delay (``oms bench``'s preflight).

Per stretch: orders sent, accepted, refused (429) and anything else; the backlog (the API's
own gauges, max and at the end); the time from each order's creation to its first
dispatch (p50, p95, max) against the 2-hour target; the memory (RSS) of the API, the
worker, Temporal and PostgreSQL (the postmaster with its backends). Then an estimate of
an uncompressed peak hour from the peak's measured growth.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from devtools.bench import arrivals
from devtools.bench.books import Shop, check_books
from devtools.bench.figures import percentile
from devtools.bench.preflight import say
from devtools.bench.target import BenchError, Target
from oms.settings import Settings

STRETCHES = ("quiet", "ramp", "peak", "tail")
# A day's stretches in hours (before compression).
DAY_HOURS = (4.0, 2.0, 1.0, 3.0)
PEAK_FACTOR = 20.0
DISPATCH_TARGET_S = 7200.0


@dataclass
class PeakPlan:
    quiet_rate: float = 0.5
    compress: float = 60.0
    phase_s: tuple[float, float, float, float] | None = None
    within_s: float = 3600.0
    lengths_s: tuple[float, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        self.lengths_s = self.phase_s or tuple(h * 3600 / self.compress for h in DAY_HOURS)

    def check(self) -> None:
        if not 0.01 <= self.quiet_rate <= 50:
            raise BenchError("--quiet-rate must be between 0.01 and 50 orders/s")
        if not 1 <= self.compress <= 36_000:
            raise BenchError("--compress must be between 1 and 36000")
        if len(self.lengths_s) != 4 or not all(0.5 <= s <= 86_400 for s in self.lengths_s):
            raise BenchError("--phase-s: four lengths (quiet, ramp, peak, tail), 0.5 s or more")
        if not 10 <= self.within_s <= 86_400:
            raise BenchError("--within must be between 10 and 86400 seconds")

    def rate(self, stretch: str) -> Any:
        """The arrivals a second at t seconds into ``stretch``."""
        quiet, peak = self.quiet_rate, self.quiet_rate * PEAK_FACTOR
        length = self.lengths_s[STRETCHES.index(stretch)]
        if stretch == "ramp":
            return lambda t: quiet + (peak - quiet) * min(1.0, t / length)
        if stretch == "tail":
            return lambda t: peak - (peak - quiet) * min(1.0, t / length)
        return lambda _t: peak if stretch == "peak" else quiet


def _delays(found: dict[str, float], ids: list[str]) -> dict[str, Any]:
    values = [found[i] for i in ids if i in found]

    def at(q: float) -> float | None:
        value = percentile(values, q)
        return None if value is None else round(value, 1)

    return {
        "p50_s": at(50),
        "p95_s": at(95),
        "max_s": round(max(values), 1) if values else None,
        "n": len(values),
        "target_s": DISPATCH_TARGET_S,
        "met": bool(values) and max(values) <= DISPATCH_TARGET_S,
    }


def _completed_between(views: dict[str, dict[str, Any]], start: float, end: float) -> int:
    return sum(
        1
        for v in views.values()
        if v["status"] in arrivals.TERMINAL and start <= arrivals.epoch(v["updated_at"]) < end
    )


def estimate_peak_hour(
    arrive: float, complete: float, quiet_rate: float, limit: float | None
) -> dict[str, Any]:
    """What a peak hour at the same rates would do (an estimate: the peak's arrivals
    against what the system completed while busy, the difference carried on for an hour;
    the backlog counted in orders)."""
    growth = max(0.0, arrive - complete)
    backlog = growth * 3600
    out: dict[str, Any] = {
        "estimate": True,
        "arrivals_per_s": arrive,
        "completed_per_s": complete,
        "growth_orders_per_s": round(growth, 2),
        "backlog_after_hour_orders": round(backlog),
    }
    if limit:
        out["limit_reached_after_s"] = round(limit / growth) if growth > 0 else None
        out["refused_orders"] = round(max(0.0, backlog - limit))
        backlog = min(backlog, limit)
    # After the peak the tail's arrivals fall back to the quiet rate: the drain goes at
    # what the system completes beyond them (the quiet rate, the tail's lowest).
    net = complete - quiet_rate
    out["drain_after_peak_s"] = round(backlog / net) if net > 0 else None
    out["last_peak_order_to_dispatch_s"] = round(backlog / complete) if complete > 0 else None
    wait = out["last_peak_order_to_dispatch_s"]
    out["dispatch_target_met"] = wait is not None and wait <= DISPATCH_TARGET_S
    return out


async def run_peak(target: Target, plan: PeakPlan, settings: Settings) -> dict[str, Any]:
    del settings  # the API alone is used: the orders' ends are read from its read model
    load_before = os.getloadavg()
    expected = sum(
        plan.quiet_rate * length * {"quiet": 1, "peak": PEAK_FACTOR}.get(s, (1 + PEAK_FACTOR) / 2)
        for s, length in zip(STRETCHES, plan.lengths_s, strict=True)
    )
    async with arrivals.http_client(target.api_url, target.admin_key) as http:
        shop = Shop(http, uuid.uuid4().hex[:8])
        try:
            await shop.open(int(expected * 1.3) + 200)
        except httpx.HTTPError as exc:
            raise BenchError(f"the API at {target.api_url}: {exc}") from exc
        watch = arrivals.Watch(http, dict(target.pids), groups=target.groups)
        stop = asyncio.Event()
        watching = asyncio.create_task(watch.run(stop))
        tallies: dict[str, arrivals.Tally] = {}
        windows: dict[str, tuple[float, float]] = {}
        pending: list[asyncio.Task[None]] = []
        for stretch, length in zip(STRETCHES, plan.lengths_s, strict=True):
            tally = tallies[stretch] = arrivals.Tally(stretch)
            watch.stretch = stretch
            say(f"{stretch}: {length:g} s")
            begun = time.time()
            # The next stretch starts on time: the POSTs still under way are awaited last.
            pending += await arrivals.send(plan.rate(stretch), length, arrivals.poster(shop, tally))
            windows[stretch] = (begun, time.time())
            say(
                f"{stretch}: {tally.sent} sent, {len(tally.accepted)} accepted, "
                f"{len(tally.refused_s)} refused so far"
            )
        await asyncio.gather(*pending)
        load_end = time.time()
        watch.stretch = "drain"
        accepted = [i for tally in tallies.values() for i in tally.accepted]
        views = await arrivals.wait_done(shop, set(accepted), time.monotonic() + plan.within_s, say)
        stop.set()
        await watching
        say("reading each order's dispatch and checking the books")
        delays = await arrivals.dispatch_delays(http, views, accepted)
        violations = await check_books(shop, accepted)
        for tally in tallies.values():
            violations += [f"{i}: refused, yet recorded" for i in tally.refused_ids if i in views]
            if tally.refused_without_retry_after:
                violations.append(
                    f"{tally.name}: {tally.refused_without_retry_after} refusals without "
                    "Retry-After"
                )
            violations += [f"{tally.name}: POST answered {c} x{n}" for c, n in tally.other.items()]
    last_done = arrivals.done_at(views, accepted)
    unavailable = [i for tally in tallies.values() for i in tally.unavailable]
    stretches: dict[str, Any] = {}
    for stretch, length in zip(STRETCHES, plan.lengths_s, strict=True):
        tally = tallies[stretch]
        start, end = windows[stretch]
        figures = tally.figures()
        stretches[stretch] = {
            "length_s": round(length, 1),
            "arrivals_per_s": round(tally.sent / length, 2),
            "sent": figures["sent"],
            "accepted": figures["accepted"],
            "refused_429": figures["refused_429"],
            "other": figures["other_total"],
            "post_ms_all": figures["post_ms_all"],
            "completed_per_s": round(_completed_between(views, start, end) / (end - start), 2),
            "backlog": arrivals.backlog_figures(watch.of(stretch)),
            "order_to_dispatch": _delays(delays, list(tally.accepted)),
            "rss_mb": arrivals.memory_figures(watch.of(stretch)),
        }
    drain_s = None if last_done is None else max(0.0, last_done - load_end)
    drained = _completed_between(views, load_end, load_end + (drain_s or 0) + 1)
    drain = {
        "drain_s": None if drain_s is None else round(drain_s, 1),
        "completed_per_s": round(drained / drain_s, 2) if drain_s else None,
        "backlog": arrivals.backlog_figures(watch.of("drain")),
        "rss_mb": arrivals.memory_figures(watch.of("drain")),
    }
    limit = stretches["peak"]["backlog"]["limit"]
    # What the system completes while it has work waiting: the best of the stretches
    # from the peak on and of the drain (a stretch with no backlog shows only its arrivals).
    busy = [stretches[s]["completed_per_s"] for s in ("peak", "tail")]
    capacity = max([*busy, drain["completed_per_s"] or 0.0])
    return {
        "run": shop.run,
        "cpus": os.cpu_count(),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "quiet_rate": plan.quiet_rate,
        "peak_rate": plan.quiet_rate * PEAK_FACTOR,
        "compress": None if plan.phase_s else plan.compress,
        "stretches": stretches,
        "drain": drain,
        "all_orders_to_dispatch": _delays(delays, accepted),
        "accepted_done": sum(
            1 for i in accepted if views.get(i, {}).get("status") in arrivals.TERMINAL
        ),
        "accepted": len(accepted),
        # Answered 503 (recorded, started later): not accepted, yet followed to their end.
        "answered_503": len(unavailable),
        "answered_503_done": arrivals.ended(views, unavailable),
        "peak_hour_estimate": estimate_peak_hour(
            stretches["peak"]["arrivals_per_s"], capacity, plan.quiet_rate, limit
        ),
        "invariants": {"passed": not violations, "violations": violations[:100]},
        "ok": not violations,
    }


def render_peak(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"oms bench --peak: quiet {report['quiet_rate']:g}/s, peak "
        f"{report['peak_rate']:g}/s ({report['cpus']} CPUs)"
    )
    for column in ("stretch", "s", "in/s", "sent", "ok", "429", "other", "done/s"):
        table.add_column(column, justify="right")
    for column in ("backlog max/end", "to dispatch p50/p95/max s", "RSS MB api/wkr/tmp/pg"):
        table.add_column(column, justify="right")
    for name, s in report["stretches"].items():
        backlog = s["backlog"]["backlog"]
        d = s["order_to_dispatch"]
        rss = s["rss_mb"]
        table.add_row(
            name,
            str(s["length_s"]),
            str(s["arrivals_per_s"]),
            str(s["sent"]),
            str(s["accepted"]),
            str(s["refused_429"]),
            str(s["other"]),
            str(s["completed_per_s"]),
            f"{backlog['max']}/{backlog['end']}",
            f"{d['p50_s']}/{d['p95_s']}/{d['max_s']}",
            "/".join(str(rss[r]["max"]) for r in arrivals.MEMORY_ROLES),
        )
    Console(width=160).print(table)
    drain = report["drain"]
    Console().print(
        f"drain: {drain['drain_s']} s after the load; accepted orders done "
        f"{report['accepted_done']}/{report['accepted']}"
    )
    Console().print(f"peak hour, uncompressed (estimate): {report['peak_hour_estimate']}")
    violations = report["invariants"]["violations"]
    Console().print("invariants: " + ("passed" if not violations else "; ".join(violations[:10])))
