"""``oms bench --channels-pull``: orders pulled from Taobao, JD, PDD and Amazon (the
marketplace simulator) while the worker that pulls them is killed, and whether every one
arrived once, and how late.

Against a running ``oms dev`` whose marketplace lets a poller keep up (PDD's and Amazon's
minimum lags and Amazon's rate limit are the real platforms' by default: 3 and 2 minutes,
one listing a minute; ``preflight`` refuses them with the line to start ``oms dev`` with),
it

1. adds four pull channels of its own (``bench-<platform>-<run>``), pulled every
   ``--pull-interval`` seconds with a ``--pull-lag`` lag, and a warehouse with SKUs stocked
   for every order;
2. has the simulator make N paid orders over the four platforms in batches every second
   at ``--rate`` orders/s, so their modification times are spread as a day's would be;
3. meanwhile SIGKILLs the worker ``--kills`` times, evenly over the making (``oms dev``'s
   supervisor starts it again; the worker pid is read from ``run.json`` each time);
4. waits until every order made is in the OMS, then checks through the database: per
   channel the distinct external ids equal the orders made (none lost), and no order has
   more than one ``platform`` ledger row or ``order_received`` timeline entry (none taken
   twice).

Intake lag: the OMS order's ``created_at`` less the order's modification time on the
platform (the simulator's listing; an order changed since, shipped for instance, is timed
from when the bench asked for its batch, which is when the simulator made it). The target
is p99 at most 60 s. The orders are left to run their course (delivery is not waited for).
Exit 1 on loss or duplication.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from devtools.bench.channels_push import (
    MAX_CHANNEL_ORDERS,
    ChannelTarget,
    Stockroom,
    admin_client,
    channel_orders,
    checked,
    close_channels,
    count_by_channel,
    engine_for,
    intake_problems,
    lags_s,
    paced_batches,
    platform_rows,
    received_events,
    rows,
    seconds_figures,
    unix,
)
from devtools.bench.preflight import say
from devtools.bench.target import BenchError
from oms.settings import Settings

PULL_PLATFORMS = ("taobao", "jd", "pdd", "amazon")
LAG_TARGET_S = 60.0
# The marketplace settings a pull bench needs, and the values the start line gives them.
START_VALUES = {
    "OMS_SIM_MARKET_PDD_LAG_S": 2.0,
    "OMS_SIM_MARKET_AMAZON_LAG_S": 2.0,
    "OMS_SIM_MARKET_AMAZON_RATE": 50.0,
    "OMS_SIM_MARKET_AMAZON_BURST": 100.0,
}
MIN_AMAZON_RATE = 5.0  # listings a second: a page of 100 every 0.2 s keeps up with any rate here
START_LINE = " ".join(f"{k}={v:g}" for k, v in START_VALUES.items()) + " make dev"


# --- pure arithmetic ---------------------------------------------------------------------


def market_problems(market: Mapping[str, float] | None, pull_lag_s: float) -> list[str]:
    """What in the running marketplace would hold the pull back: a platform lag longer than
    the channels' own (the platform would refuse their windows), Amazon's rate limit too
    low to keep up, the platform clock moved."""
    if market is None:
        return ["the running oms dev does not record its marketplace settings (restart it)"]
    problems = []
    for name in ("OMS_SIM_MARKET_PDD_LAG_S", "OMS_SIM_MARKET_AMAZON_LAG_S"):
        if float(market.get(name, 0)) > pull_lag_s:
            problems.append(f"{name}={float(market[name]):g} (above the pull lag {pull_lag_s:g} s)")
    rate = float(market.get("OMS_SIM_MARKET_AMAZON_RATE", 0))
    if rate < MIN_AMAZON_RATE:
        problems.append(f"OMS_SIM_MARKET_AMAZON_RATE={rate:g} (under {MIN_AMAZON_RATE:g}/s)")
    if float(market.get("OMS_SIM_MARKET_AMAZON_BURST", 0)) < 10:
        problems.append(f"OMS_SIM_MARKET_AMAZON_BURST={market.get('OMS_SIM_MARKET_AMAZON_BURST')}")
    if float(market.get("OMS_SIM_MARKET_CLOCK_OFFSET_S", 0)) != 0:
        problems.append(f"OMS_SIM_MARKET_CLOCK_OFFSET_S={market['OMS_SIM_MARKET_CLOCK_OFFSET_S']}")
    return problems


def market_refusal(problems: list[str]) -> str:
    return (
        "the marketplace holds its orders back on purpose ("
        + ", ".join(problems)
        + "): the bench would measure the platforms' own limits, not the intake.\n"
        "Stop oms dev (Ctrl-C) and start it for this benchmark:\n\n    " + START_LINE + "\n"
    )


def kill_times(kills: int, span_s: float) -> list[float]:
    """``kills`` moments spread evenly over ``span_s`` seconds, none at its very start."""
    if kills <= 0:
        return []
    step = span_s / (kills + 1)
    return [round(step * (n + 1), 3) for n in range(kills)]


def duplicates(counts: Mapping[str, int]) -> list[str]:
    """The keys counted more than once."""
    return sorted(key for key, n in counts.items() if n > 1)


def modified_times(
    listing: Sequence[Mapping[str, Any]], asked: Mapping[str, float]
) -> tuple[dict[str, float], int]:
    """Each order's modification time (UNIX) as the platform lists it, for an order not
    changed since it was made (``version`` 1); for the others the time its batch was asked
    for. Only the orders in ``asked``. Also how many came from the listing."""
    times = dict(asked)
    listed = 0
    for order in listing:
        key = str(order["id"])
        if key in times and order.get("version") == 1:
            times[key] = datetime.fromisoformat(order["modified"]).timestamp()
            listed += 1
    return times, listed


# --- the run -----------------------------------------------------------------------------


@dataclass
class PullPlan:
    orders: int = 10_000
    kills: int = 10
    within_s: float = 1800.0
    pull_lag_s: float = 5.0
    pull_interval_s: float = 2.0
    rate: float = 20.0

    def check(self) -> None:
        if not 4 <= self.orders <= MAX_CHANNEL_ORDERS:
            raise BenchError(f"--orders must be between 4 and {MAX_CHANNEL_ORDERS}")
        if not 0 <= self.kills <= 100:
            raise BenchError("--kills must be between 0 and 100")
        if not 0 <= self.pull_lag_s <= 600:
            raise BenchError("--pull-lag must be between 0 and 600 seconds")
        if not 0.5 <= self.rate <= 1000:
            raise BenchError("--rate must be between 0.5 and 1000 orders/s")
        if not 1 <= self.within_s <= 86_400:
            raise BenchError("--within must be between 1 and 86400 seconds")


@dataclass
class Kills:
    done: list[float] = field(default_factory=list)  # seconds into the run
    missed: int = 0


async def _add_pull_channel(
    engine: AsyncEngine,
    http: httpx.AsyncClient,
    target: ChannelTarget,
    settings: Settings,
    platform: str,
    run: str,
    plan: PullPlan,
) -> str:
    name = f"bench-{platform}-{run}"
    # The first pull reads from now, not a day back: the simulator keeps the orders of
    # earlier runs, which are not this run's to count (and a day of them is a load of its
    # own). The cursor is set before the channel exists, so no pull can start before it.
    from oms.store.pull_cursors import set_cursor

    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    await set_cursor(engine, name, start)
    credentials = {"base_url": f"{target.sim_url}/{platform}"}
    if platform in ("taobao", "jd", "pdd"):
        credentials |= {
            "app_key": settings.sim_market_app_key,
            "app_secret": settings.sim_market_app_secret,
        }
    else:
        # The marketplace is needed for the shipment confirmations sent back.
        credentials |= {"access_token": f"bench-{run}", "marketplace_id": "ATVPDKIKX0DER"}
    body = {
        "name": name,
        "platform": platform,
        "intake": "pull",
        "mode": "live",
        "credentials": credentials,
        "pull_interval_s": plan.pull_interval_s,
        "pull_lag_s": plan.pull_lag_s,
    }
    await checked(http.post("/v1/channels", json=body), f"adding channel {name}")
    return name


def _worker_pid(target: ChannelTarget, settings: Settings) -> int | None:
    from devtools.dev import read_run_file

    run = read_run_file(settings.home.resolve()) or {}
    pid = (run.get("pids") or {}).get("worker")
    return pid if isinstance(pid, int) else None


async def _killer(
    target: ChannelTarget, settings: Settings, moments: list[float], started: float, kills: Kills
) -> None:
    """SIGKILL the worker at each moment (seconds after ``started``), once it is back."""
    for moment in moments:
        await asyncio.sleep(max(0.0, started + moment - time.monotonic()))
        pid = None
        for _ in range(100):  # the supervisor may still be starting it again
            pid = _worker_pid(target, settings)
            if pid:
                break
            await asyncio.sleep(0.3)
        try:
            if not pid:
                raise ProcessLookupError
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            kills.missed += 1
            continue
        kills.done.append(round(time.monotonic() - started, 1))
        say(f"worker {pid} killed ({len(kills.done)}/{len(moments)})")
        for _ in range(200):  # until run.json names the new one
            if _worker_pid(target, settings) not in (None, pid):
                break
            await asyncio.sleep(0.3)


async def _until_all_in(
    engine: AsyncEngine, expected: Mapping[str, int], deadline: float, started: float
) -> float:
    """Until each channel has its orders (or the time is up); seconds from ``started``."""
    last = 0.0
    while time.monotonic() < deadline:
        counts = await count_by_channel(engine, list(expected))
        if all(counts.get(c, 0) >= n for c, n in expected.items()):
            break
        if time.monotonic() - last > 10:
            got, want = sum(counts.values()), sum(expected.values())
            say(f"in the OMS {got}/{want} after {time.monotonic() - started:.0f} s")
            last = time.monotonic()
        await asyncio.sleep(1)
    else:
        say("the time is up before every order was taken")
    return time.monotonic() - started


DEMO_PREFIX = "demo-"


async def pause_demo_pulls(http: httpx.AsyncClient) -> list[str]:
    """oms dev's demo pull channels (devtools.dev_channels) read the same simulated
    platforms: they would take this run's orders first and ship them, so that the run's
    own channels see them shipped. They are disabled for the run and enabled after it."""
    listed = await checked(http.get("/v1/channels"), "reading the channels")
    paused = []
    for channel in listed["items"]:
        name = str(channel["name"])
        pulls = channel.get("intake") in ("pull", "both")
        if name.startswith(DEMO_PREFIX) and pulls and channel.get("enabled"):
            await checked(
                http.patch(f"/v1/channels/{name}", json={"enabled": False}), f"pausing {name}"
            )
            paused.append(name)
    if paused:
        say(f"paused the demo channels {', '.join(paused)} for the run")
    return paused


async def resume_demo_pulls(http: httpx.AsyncClient, names: list[str]) -> None:
    for name in names:
        try:
            await http.patch(f"/v1/channels/{name}", json={"enabled": True})
        except httpx.HTTPError as exc:
            say(f"could not enable {name} again: {exc!r}")


async def run_channels_pull(
    target: ChannelTarget, plan: PullPlan, settings: Settings
) -> dict[str, Any]:
    problems = market_problems(target.market, plan.pull_lag_s)
    if problems:
        raise BenchError(market_refusal(problems))
    deadline = time.monotonic() + plan.within_s
    run = uuid.uuid4().hex[:6]
    engine = engine_for(target)
    key = target.base.admin_key
    kills = Kills()
    try:
        async with (
            admin_client(target.base.api_url, key) as http,
            admin_client(target.sim_url, key) as sim,
        ):
            room = Stockroom(run)
            await room.open(http, plan.orders)
            channels: dict[str, str] = {}
            paused = await pause_demo_pulls(http)
            try:
                for p in PULL_PLATFORMS:
                    channels[p] = await _add_pull_channel(
                        engine, http, target, settings, p, run, plan
                    )
                parts = await _measure_pull(
                    engine, sim, target, settings, plan, run, room, channels, deadline, kills
                )
            finally:
                # Disabled, its schedule goes: the channels are not pulled after the run.
                await close_channels(http, sim, channels.values())
                await resume_demo_pulls(http, paused)
    finally:
        await engine.dispose()
    return pull_report(run, plan, channels, kills, **parts)


async def _measure_pull(
    engine: AsyncEngine,
    sim: httpx.AsyncClient,
    target: ChannelTarget,
    settings: Settings,
    plan: PullPlan,
    run: str,
    room: Stockroom,
    channels: dict[str, str],
    deadline: float,
    kills: Kills,
) -> dict[str, Any]:
    making_s = plan.orders / plan.rate
    say(
        f"channels {', '.join(channels.values())}; {plan.orders} orders at "
        f"{plan.rate:g}/s (about {making_s:.0f} s), {plan.kills} worker kills"
    )
    started = time.monotonic()
    killing = asyncio.create_task(
        _killer(target, settings, kill_times(plan.kills, making_s), started, kills)
    )
    made_at: dict[str, dict[str, float]] = {}
    try:
        await paced_batches(
            sim, PULL_PLATFORMS, plan.orders, plan.rate, room.skus, int(run, 16), deadline, made_at
        )
        made_s = time.monotonic() - started
        expected = {channels[p]: len(made_at.get(p, {})) for p in PULL_PLATFORMS}
        taken_s = await _until_all_in(engine, expected, deadline, started)
    finally:
        killing.cancel()
    listings = {
        p: (await checked(sim.get(f"/sim/market/orders/{p}"), f"{p} listing"))["orders"]
        for p in PULL_PLATFORMS
    }
    found = await channel_orders(engine, list(channels.values()))
    ids = [r.id for r in found]
    taken = await rows(
        engine,
        "SELECT channel, taken FROM pull_cursors WHERE channel = ANY(:c)",
        c=list(channels.values()),
    )
    return {
        "made_at": made_at,
        "listings": listings,
        "found": found,
        "ledger": await platform_rows(engine, ids),
        "received": await received_events(engine, ids),
        "taken_counts": {c: int(n) for c, n in taken},
        "times": {"made": made_s, "taken": taken_s},
    }


def pull_report(
    run: str,
    plan: PullPlan,
    channels: Mapping[str, str],
    kills: Kills,
    *,
    made_at: Mapping[str, Mapping[str, float]],
    listings: Mapping[str, Sequence[Mapping[str, Any]]],
    found: Sequence[Any],
    ledger: Mapping[str, int],
    received: Mapping[str, int],
    taken_counts: Mapping[str, int],
    times: Mapping[str, float],
) -> dict[str, Any]:
    violations: list[str] = []
    per_channel: dict[str, Any] = {}
    all_lags: list[float] = []
    listed_total = 0
    for platform, name in channels.items():
        mine = [r for r in found if r.channel == name]
        asked = made_at.get(platform, {})
        violations += intake_problems(name, asked, [r.external_id for r in mine])
        modified, listed = modified_times(listings.get(platform, []), asked)
        listed_total += listed
        lags = lags_s(modified, {r.external_id: unix(r.created_at) for r in mine})
        all_lags += lags
        per_channel[name] = {
            "platform": platform,
            "generated": len(asked),
            "taken": len({r.external_id for r in mine}),
            "cursor_taken": taken_counts.get(name),
            "intake_lag_s": seconds_figures(lags),
        }
    ids = [r.id for r in found]
    twice_paid = duplicates({i: ledger.get(i, 0) for i in ids})
    twice_received = duplicates({i: received.get(i, 0) for i in ids})
    if twice_paid:
        violations.append(f"{len(twice_paid)} orders with more than one platform ledger row")
    if twice_received:
        violations.append(f"{len(twice_received)} orders received more than once")
    lag = seconds_figures(all_lags)
    generated = sum(len(v) for v in made_at.values())
    return {
        "run": run,
        "orders": plan.orders,
        "generated": generated,
        "taken": sum(c["taken"] for c in per_channel.values()),
        "lost": max(0, generated - sum(c["taken"] for c in per_channel.values())),
        "duplicated": len(set(twice_paid) | set(twice_received)),
        "rate": plan.rate,
        "pull_interval_s": plan.pull_interval_s,
        "pull_lag_s": plan.pull_lag_s,
        "channels": per_channel,
        "intake_lag_s": lag,
        "lag_target_met": lag["p99"] is not None and lag["p99"] <= LAG_TARGET_S,
        "modification_times_from_listing": listed_total,
        "kills": {"planned": plan.kills, "done": len(kills.done), "at_s": kills.done},
        "elapsed_s": {k: round(v, 1) for k, v in times.items()},
        "taken_per_s": round(generated / times["taken"], 2) if times["taken"] else None,
        "invariants": {"passed": not violations, "violations": violations[:100]},
        "ok": not violations,
    }


def render_pull(report: Mapping[str, Any]) -> None:
    print(
        f"channels pull bench, run {report['run']}: {report['generated']} orders at "
        f"{report['rate']:g}/s, pulled every {report['pull_interval_s']:g} s with a "
        f"{report['pull_lag_s']:g} s lag"
    )
    for name, c in report["channels"].items():
        lag = c["intake_lag_s"]
        print(
            f"  {name}: generated {c['generated']}, taken {c['taken']} (cursor count "
            f"{c['cursor_taken']}), lag p50 {lag['p50']} s p99 {lag['p99']} s max {lag['max']} s"
        )
    lag = report["intake_lag_s"]
    print(
        f"  generated {report['generated']}, taken {report['taken']}, lost {report['lost']}, "
        f"duplicated {report['duplicated']}"
    )
    print(
        f"  intake lag p50 {lag['p50']} s, p99 {lag['p99']} s, max {lag['max']} s "
        f"(target p99 <= {LAG_TARGET_S:g} s: {'met' if report['lag_target_met'] else 'NOT met'})"
    )
    k = report["kills"]
    print(f"  worker kills {k['done']}/{k['planned']} at {k['at_s']} s")
    print(f"  elapsed {report['elapsed_s']}, {report['taken_per_s']} orders/s taken")
    inv = report["invariants"]
    print("  invariants: " + ("passed" if inv["passed"] else "VIOLATED"))
    for line in inv["violations"]:
        print(f"    {line}")
