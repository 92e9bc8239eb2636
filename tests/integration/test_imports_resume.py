"""An import killed with SIGKILL half way and started again finishes with every order
exactly once, and its counts and sums are right."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path

from tests.integration.helpers import unique
from tests.integration.imports_helpers import rows

ROOT = Path(__file__).resolve().parents[2]
N = 1000


async def _script(system, channel: str, run_key: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.imports_kill_script",
        system.settings.database_url,
        channel,
        run_key,
        str(N),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def test_an_import_killed_half_way_and_run_again_writes_every_order_once(system):
    channel, run_key = unique("kill"), unique("run")
    first = await _script(system, channel, run_key)
    assert first.stdout is not None
    seen = 0
    while seen < 200:  # five batches committed at least, the sixth under way
        line = (await asyncio.wait_for(first.stdout.readline(), 60)).decode()
        assert line.startswith("progress"), line
        seen = int(line.split()[1])
    first.send_signal(signal.SIGKILL)
    await first.wait()
    written = await rows(
        system.engine, "SELECT count(*) AS n FROM orders WHERE channel = :c", c=channel
    )
    assert 200 <= written[0].n < N  # killed half way
    run = (await rows(system.engine, "SELECT * FROM import_runs WHERE run_key = :k", k=run_key))[0]
    assert run.finished_at is None and run.committed == written[0].n

    second = await _script(system, channel, run_key)
    out, _ = await asyncio.wait_for(second.communicate(), 120)
    assert second.returncode == 0
    last = out.decode().strip().splitlines()[-1]
    result = json.loads(last.removeprefix("result "))
    assert result["resumed_after"] == run.committed
    assert result["inserted"] == N and result["refused"] == 0 and result["unchanged"] == 0

    # Every order once, with its whole history and ledger.
    counted = (
        await rows(
            system.engine,
            "SELECT count(*) AS orders, count(DISTINCT external_id) AS ids, "
            "sum(last_seq + 1) AS entries FROM orders WHERE channel = :c",
            c=channel,
        )
    )[0]
    cancelled = len([i for i in range(N) if i % 7 == 0])
    assert (counted.orders, counted.ids) == (N, N)
    events = (
        await rows(
            system.engine,
            "SELECT count(*) AS n FROM order_events e JOIN orders o ON o.id = e.order_id "
            "WHERE o.channel = :c",
            c=channel,
        )
    )[0]
    assert events.n == counted.entries == cancelled * 3 + (N - cancelled) * 6
    money = (
        await rows(
            system.engine,
            "SELECT count(*) AS n, sum(amount) AS total FROM payments p "
            "JOIN orders o ON o.id = p.order_id WHERE o.channel = :c",
            c=channel,
        )
    )[0]
    assert (money.n, money.total) == (N - cancelled, Decimal("30.00") * (N - cancelled))
    facts = await rows(
        system.engine,
        "SELECT count(*) AS n FROM order_kpi_facts WHERE channel = :c",
        c=channel,
    )
    assert facts[0].n == N
    done = (await rows(system.engine, "SELECT * FROM import_runs WHERE run_key = :k", k=run_key))[0]
    assert done.finished_at is not None and done.committed == N
