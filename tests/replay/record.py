"""Save workflow histories for the replay tests.

    python -m tests.replay.record --address 127.0.0.1:7233 order-<id> [more ids ...]

Run it against a system started with ``make dev`` after placing the orders whose paths you
want covered; it writes ``tests/replay/histories/<workflow id>.json``. Payloads are sealed
(``oms.codec``): start that system with ``OMS_PAYLOAD_KEYS`` set to the tests' key
(``tests.conftest.TEST_PAYLOAD_KEYS``), or the replay tests cannot open them. Commit the files:
each one pins a past version of the workflow code, and the replay test keeps every new
version honest against it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from temporalio.client import Client

HISTORIES = Path(__file__).parent / "histories"


async def record(address: str, workflow_ids: list[str], out: Path) -> None:
    client = await Client.connect(address)
    out.mkdir(parents=True, exist_ok=True)
    for workflow_id in workflow_ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        (out / f"{workflow_id}.json").write_text(history.to_json())
        print(f"saved {workflow_id}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--address", default="127.0.0.1:7233")
    parser.add_argument("--out", type=Path, default=HISTORIES)
    parser.add_argument("workflow_ids", nargs="+")
    args = parser.parse_args()
    asyncio.run(record(args.address, args.workflow_ids, args.out))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
