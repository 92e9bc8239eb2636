"""A stand-in for ``oms import orders``: writes N generated closed orders for a channel
as one run, printing each batch's progress; the resumability test kills it with SIGKILL
half way and starts it again.

    python -m tests.integration.imports_kill_script DATABASE_URL CHANNEL RUN_KEY N
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from dataclasses import asdict

from oms.db.engine import make_engine
from oms.imports.model import Order
from oms.imports.writer import write_orders
from oms.settings import Settings
from tests.integration.imports_helpers import S, imported


def generated(channel: str, n: int) -> Iterator[Order]:
    for i in range(n):
        status = S.CANCELLED if i % 7 == 0 else S.DELIVERED
        yield imported(f"{channel}-{i:06d}", status)


async def main(url: str, channel: str, run_key: str, n: int) -> None:
    engine = make_engine(Settings(database_url=url), pool_size=2)
    try:
        result = await write_orders(
            engine,
            channel,
            generated(channel, n),
            run_key=run_key,
            batch_size=40,
            progress=lambda done: print(f"progress {done}", flush=True),
        )
    finally:
        await engine.dispose()
    print("result " + json.dumps(asdict(result)), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
