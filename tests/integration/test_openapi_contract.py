"""The OpenAPI document tells the truth: schemathesis, every check, against the live API.

Clients are generated from ``/openapi.json``, so it must say exactly what the server does:
no 5xx, every status code and header documented, bodies as documented, every error
``application/problem+json``, schema-valid requests accepted and schema-violating ones
refused, a right ``Allow`` on a 405. The run is seeded and bounded (about 20 s of requests
on two cores), and goes only to the test session's API on 127.0.0.1.

Real ids (a warehouse, a stocked SKU, a delivered order with its shipment, an order whose
workflow never started, an API key) are fed to schemathesis as dictionaries, so that most
requests reach past the 404 of an unknown id.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from pathlib import Path

from tests.conftest import ADMIN_KEY
from tests.integration.helpers import (
    order_body,
    recorded_without_workflow,
    set_stock,
    stocked,
    submit,
    unique,
    wait_for_status,
)

SEED = 20261130
MAX_EXAMPLES = 25
TIMEOUT_S = 240
HOOKS = Path(__file__).with_name("openapi_contract_hooks.py")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def _config(ids: dict[str, list[str] | list[int]]) -> str:
    """A schemathesis.toml: the admin key, the hooks, and the real ids to draw from."""
    lines = [
        f"hooks = {json.dumps(str(HOOKS))}",
        f'headers = {{ Authorization = "Bearer {ADMIN_KEY}" }}',
        "",
    ]
    for name, values in ids.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}"]
    # Real ids most of the time, generated ones (mostly 404s) the rest. Order lines always
    # name a stocked SKU: an unknown one is a 422 by design (see the hooks).
    lines += [
        "",
        "[parameters]",
        '"path.order_id" = { dictionary = "orders", probability = 0.8 }',
        '"query.order_id" = { dictionary = "orders", probability = 0.8 }',
        '"path.warehouse_id" = { dictionary = "warehouses", probability = 0.8 }',
        '"path.sku" = { dictionary = "skus", probability = 0.8 }',
        '"path.key_id" = { dictionary = "keys", probability = 0.5 }',
        '"body.lines[*].sku" = { dictionary = "skus", probability = 1.0 }',
        '"body.shipment_id" = { dictionary = "shipments", probability = 0.8 }',
        '"body.tracking_number" = { dictionary = "tracking_numbers", probability = 0.8 }',
    ]
    return "\n".join(lines) + "\n"


async def test_every_operation_answers_as_the_openapi_document_says(system, admin, tmp_path):
    warehouse_id, sku = await stocked(admin, 1_000_000)
    # Schemathesis's coverage phase takes no dictionary values: its orders name the
    # smallest SKU the pattern allows. Stocked, they are real orders too.
    await set_stock(admin, warehouse_id, "0", 1_000_000_000)
    delivered = await submit(admin, order_body([(sku, 1)]))
    shipment = (await wait_for_status(admin, delivered["id"], {"delivered"}))["shipments"][0]
    # An order whose workflow never started: its first cancel is answered 202 (it starts
    # the workflow with the cancel delivered), so that answer is checked too.
    unstarted = await recorded_without_workflow(system, order_body([(sku, 1)]), "received", 0)
    key = await admin.post("/v1/keys", json={"name": unique("contract"), "role": "operator"})
    assert key.status_code == 201, key.text
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        _config(
            {
                "orders": [delivered["id"], unstarted],
                "warehouses": [warehouse_id],
                "skus": [sku],
                "keys": [key.json()["id"]],
                "shipments": [shipment["id"]],
                "tracking_numbers": [shipment["tracking_number"]],
            }
        )
    )

    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        "--config-file",
        str(config),
        "run",
        f"{system.api_url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        # An operator action may wait 5 s for the workflow's answer, then 5 s more to record
        # it as a signal, then read the order (3 s): by design up to 13 s on a loaded
        # machine, over schemathesis's default of 10 s for one request.
        "--request-timeout",
        "30",
        "--no-color",
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    finally:
        # The run made webhook endpoints (loopback URLs): none may outlive it, or later
        # tests' orders would be delivered to them.
        for endpoint in (await admin.get("/v1/webhook-endpoints")).json()["items"]:
            await admin.delete(f"/v1/webhook-endpoints/{endpoint['id']}")
    report = out.decode(errors="replace")
    elapsed = time.monotonic() - started
    summary = report[report.find("=== SUMMARY") :] if "=== SUMMARY" in report else report
    print(f"schemathesis: exit {process.returncode} in {elapsed:.0f} s\n{summary}")

    assert process.returncode == 0, report[-20000:]
    # Every operation of the document (but the excluded ones) was tested.
    document = (await admin.get("/openapi.json")).json()
    operations = sum(
        1
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "put", "post", "delete", "patch"}
    )
    tested = re.search(r"Tested: (\d+)", report)
    assert tested and int(tested[1]) == operations, summary
