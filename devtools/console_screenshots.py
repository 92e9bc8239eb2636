"""Screenshots of the operator console for docs/console.md, taken in Debian's Chromium.

    python -m devtools.console_screenshots                  # boots oms dev in a temporary home
    python -m devtools.console_screenshots --home .oms      # against a running `make dev`

Without ``--home`` it starts ``oms dev`` on free ports in a temporary home (its own
PostgreSQL and Temporal, the demo warehouses and SKUs) and stops it at the end. With
``--home`` it uses the system that ``oms dev`` runs from that home (``run.json``) and the
console account and admin key it keeps there (``secrets.json``).

Either way it adds a few orders in states worth showing (delivered, held for approval,
cancelled, failed, an open and an acknowledged alert), signs in through the login form as
``admin`` and saves a PNG of each page (1280x800) in ``docs/console/`` (``--out``): the
sign-in page, Today, Orders, an Order, a Customer, Approvals, Alerts, Stock, Channels,
Reports, Insights (after a forecast run), Returns (a return of a delivered order, closed)
and Today in Chinese. A page the server does not have (404) is left out and said.

It needs Debian's Chromium (``apt-get install chromium``) and, for the Chinese page, a font
with Chinese glyphs (``apt-get install fonts-wqy-microhei``), without which Chromium draws
empty boxes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from devtools.ports import free_port

CHROMIUM = os.environ.get("OMS_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TERMINAL = {"delivered", "cancelled", "failed"}


def say(message: str) -> None:
    print(f"console_screenshots: {message}", file=sys.stderr, flush=True)


@dataclass
class Target:
    api_url: str
    admin_key: str
    console_user: str
    console_password: str
    database_url: str


# Starting or finding the system ----------------------------------------------------------


@contextmanager
def own_system() -> Iterator[Target]:
    """``oms dev`` in a temporary home, on free ports; stopped (Ctrl-C) at the end."""
    home = Path(tempfile.mkdtemp(prefix="oms-screenshots-"))
    ports = {name: free_port() for name in ("api", "sim", "temporal", "ui")}
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "TEMPORAL_ADDRESS", "OMS_ADMIN_API_KEY")
    }
    env.update(
        {
            "OMS_HOME": str(home),
            "OMS_API_PORT": str(ports["api"]),
            "OMS_SIM_PORT": str(ports["sim"]),
            "OMS_TEMPORAL_PORT": str(ports["temporal"]),
            "OMS_TEMPORAL_UI_PORT": str(ports["ui"]),
            "OMS_SIM_SHIP_DELAY_S": "0.5",
            "OMS_SIM_CARRIER_STEP_S": "0.3",
            "OMS_RELEASE_DELAY_S": "1",
            "OMS_LOG_FORMAT": "json",
            "OMS_LOG_LEVEL": "warning",
            "OMS_DEV_SEED": "1",
        }
    )
    oms = str(Path(sys.executable).parent / "oms")
    say(f"starting oms dev in {home}")
    proc = subprocess.Popen(
        [oms, "dev"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 180
    up = False
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        output.append(line)
        if "Admin API key" in line:
            up = True
            break
    # Keep reading: a full pipe would block oms dev and its children.
    reader = threading.Thread(target=lambda: output.extend(proc.stdout or []), daemon=True)
    reader.start()
    try:
        if not up:
            raise SystemExit("oms dev did not come up:\n" + "".join(output[-30:]))
        yield _target_of(home)
    finally:
        say("stopping oms dev")
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _target_of(home: Path) -> Target:
    try:
        run = json.loads((home / "run.json").read_text())
        secrets = json.loads((home / "secrets.json").read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"no running oms dev in {home} ({exc}): start it with make dev") from exc
    password = secrets.get("console_admin_password")
    if not password:
        raise SystemExit(f"{home / 'secrets.json'} keeps no console password for admin")
    return Target(
        api_url=run["api_url"],
        admin_key=secrets["admin_api_key"],
        console_user="admin",
        console_password=password,
        database_url=run["database_url"],
    )


# Orders worth showing ---------------------------------------------------------------------


@dataclass
class Seeded:
    held: str
    customer: str


def _order(
    customer: tuple[str, str, str], lines: list[tuple[str, int, str]], token: str = "tok_ok"
) -> dict[str, Any]:
    customer_id, name, street = customer
    return {
        "channel": "webshop",
        "external_id": f"WEB-{uuid.uuid4().hex[:8].upper()}",
        "customer": {
            "id": customer_id,
            "email": f"{customer_id}@example.com",
            "name": name,
        },
        "shipping_address": {
            "name": name,
            "line1": street,
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
        },
        "currency": "EUR",
        "lines": [{"sku": s, "quantity": q, "unit_price": p} for s, q, p in lines],
        "payment": {"method": "card", "token": token},
    }


async def seed(target: Target) -> Seeded:
    ada = ("ada-lovelace", "Ada Lovelace", "1 Analytical St")
    grace = ("grace-hopper", "Grace Hopper", "9 Compiler Way")
    charles = ("charles-babbage", "Charles Babbage", "5 Difference Rd")
    headers = {"Authorization": f"Bearer {target.admin_key}"}
    async with httpx.AsyncClient(base_url=target.api_url, headers=headers, timeout=30) as http:

        async def submit(body: dict[str, Any]) -> str:
            answer = await http.post("/v1/orders", json=body)
            if answer.status_code != 202:
                raise SystemExit(f"POST /v1/orders answered {answer.status_code}: {answer.text}")
            return str(answer.json()["id"])

        async def settle(order_id: str, statuses: set[str], within: float = 60) -> None:
            deadline = time.monotonic() + within
            while time.monotonic() < deadline:
                status = (await http.get(f"/v1/orders/{order_id}")).json()["status"]
                if status in statuses:
                    return
                await asyncio.sleep(0.3)
            say(f"order {order_id} did not reach {sorted(statuses)} (it shows as it is)")

        delivered = [
            await submit(_order(ada, [("DEMO-TSHIRT", 2, "19.90")])),
            await submit(_order(ada, [("DEMO-MUG", 1, "12.50"), ("DEMO-POSTER", 1, "8.00")])),
            await submit(_order(charles, [("DEMO-TSHIRT", 1, "19.90")])),
        ]
        held = await submit(_order(ada, [("DEMO-TSHIRT", 60, "19.90")]))  # high value
        first_big = await submit(_order(grace, [("DEMO-MUG", 40, "14.00")]))  # a new customer
        cancelled = await submit(_order(grace, [("DEMO-POSTER", 70, "16.00")]))
        declined = await submit(_order(charles, [("DEMO-MUG", 1, "12.50")], token="tok_declined"))
        short = await submit(_order(ada, [("DEMO-POSTER", 300, "1.00")]))
        for order_id in (held, first_big, cancelled):
            await settle(order_id, {"on_hold"} | TERMINAL)
        answer = await http.post(
            f"/v1/orders/{cancelled}/cancel",
            json={"reason": "customer_request", "note": "the customer called to cancel"},
        )
        if answer.status_code >= 300:
            say(f"cancel of {cancelled} answered {answer.status_code}: {answer.text}")
        for order_id in [*delivered, cancelled, declined, short]:
            await settle(order_id, TERMINAL)
        # A return of one T-shirt (inside the window: approved, received, refunded).
        answer = await http.post(
            f"/v1/orders/{delivered[0]}/returns",
            json={
                "lines": [{"sku": "DEMO-TSHIRT", "quantity": 1}],
                "reason": "too small",
                "resolution": "refund",
            },
        )
        if answer.status_code != 201:
            say(f"the return of {delivered[0]} answered {answer.status_code}: {answer.text}")
        else:
            return_id = answer.json()["id"]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if (await http.get(f"/v1/returns/{return_id}")).json()["status"] == "closed":
                    break
                await asyncio.sleep(0.5)
    await _alerts(target, delivered[2], first_big)
    _forecast(target)
    return Seeded(held=held, customer=ada[0])


def _forecast(target: Target) -> None:
    """The nightly demand forecast, now, so that the Insights page has a run to show."""
    env = {**os.environ, "DATABASE_URL": target.database_url}
    done = subprocess.run(
        [sys.executable, "-m", "oms.cli", "insights", "forecast"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        say(f"oms insights forecast exited {done.returncode}: {done.stderr.strip()[-300:]}")


async def _alerts(target: Target, silent_order: str, held_order: str) -> None:
    """One open alert and one acknowledged, through the alert store the worker uses."""
    from oms.db.engine import make_engine
    from oms.settings import Settings
    from oms.store import alerts as alert_store

    engine = make_engine(Settings(database_url=target.database_url), pool_size=1)
    try:
        await alert_store.open_alert(
            engine,
            silent_order,
            "shipment-1",
            "shipment_silent",
            json.dumps({"carrier": "sim-carrier", "silent_for": "2 d"}),
        )
        row, _ = await alert_store.open_alert(
            engine,
            held_order,
            "",
            "hold_stale",
            json.dumps({"rule": "new_customer_value"}),
        )
        await alert_store.acknowledge(engine, int(row.id), "admin", "checked with the customer")
    finally:
        await engine.dispose()


# The pages --------------------------------------------------------------------------------


async def shoot(target: Target, seeded: Seeded, out: Path) -> list[Path]:
    from playwright.async_api import Page, ViewportSize, async_playwright

    viewport = ViewportSize(width=1280, height=800)
    saved: list[Path] = []

    async def save(page: Page, path: str, name: str) -> None:
        answer = await page.goto(path)
        if answer is None or answer.status == 404:
            say(f"left out {name}: {path} is not there (404)")
            return
        await page.wait_for_load_state("networkidle")
        whole = False
        if name == "stock" and await page.locator("#stock-import").count():
            await _import(page)
            whole = True
        file = out / f"{name}.png"
        await page.screenshot(path=str(file), full_page=whole)
        saved.append(file)
        say(f"{file} ({file.stat().st_size // 1024} KB)")

    async def sign_in(page: Page) -> None:
        await page.goto("/console/login")
        await page.fill("input[name=name]", target.console_user)
        await page.fill("input[name=password]", target.console_password)
        async with page.expect_navigation():
            await page.click("form[action='/console/login'] button[type=submit]")
        if "/console/login" in page.url:
            raise SystemExit(f"could not sign in as {target.console_user}")

    async with async_playwright() as driver:
        browser = await driver.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        english = await browser.new_context(
            base_url=target.api_url, viewport=viewport, locale="en-US", timezone_id="UTC"
        )
        page = await english.new_page()
        await save(page, "/console/login", "login")
        await sign_in(page)
        for path, name in [
            ("/console/today", "today"),
            ("/console/orders", "orders"),
            (f"/console/orders/{seeded.held}", "order"),
            (f"/console/customers/{seeded.customer}", "customer"),
            ("/console/approvals", "approvals"),
            ("/console/alerts?status=all", "alerts"),
            ("/console/stock", "stock"),
            ("/console/channels", "channels"),
            ("/console/reports", "reports"),
            ("/console/insights", "insights"),
            ("/console/returns?status=closed", "returns"),
        ]:
            await save(page, path, name)
        chinese = await browser.new_context(
            base_url=target.api_url, viewport=viewport, locale="zh-CN", timezone_id="UTC"
        )
        page = await chinese.new_page()
        await sign_in(page)
        await save(page, "/console/today", "today-zh")
        await browser.close()
    return saved


# A level for a SKU of its own (it changes no level that orders use) and a line in error:
# the Stock page shows the import's report.
_LEVELS = (
    "warehouse_id,sku,on_hand,as_of\n"
    "demo-berlin,DEMO-SCARF,30,{now}\n"
    "demo-berlin,DEMO-HAT,lots,{now}\n"
)


async def _import(page: Any) -> None:
    from datetime import UTC, datetime

    form = page.locator("#stock-import")
    content = _LEVELS.format(now=datetime.now(UTC).isoformat()).encode()
    await form.locator("input[type=file]").set_input_files(
        files=[{"name": "levels.csv", "mimeType": "text/csv", "buffer": content}]
    )
    await form.locator("input[name=skip_invalid]").check()
    await form.locator("input[name=note]").fill("stock take")
    await form.locator("button[type=submit]").click()
    await page.locator("#import-progress[data-status=done]").wait_for(timeout=30_000)


def _has_chinese_font() -> bool:
    try:
        found = subprocess.run(
            ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False
        )
    except OSError:
        return True  # no fontconfig tools to ask: let Chromium try
    return bool(found.stdout.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.console_screenshots", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--home", type=Path, help="the home of a running oms dev (default: start one)"
    )
    parser.add_argument("--out", type=Path, default=Path("docs/console"))
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        say(f"{CHROMIUM} is missing: apt-get install chromium (or set OMS_CHROMIUM)")
        return 2
    if not _has_chinese_font():
        say(
            "no font with Chinese glyphs: the Chinese page would show boxes "
            "(apt-get install fonts-wqy-microhei)"
        )
        return 2

    args.out.mkdir(parents=True, exist_ok=True)

    async def run(target: Target) -> list[Path]:
        return await shoot(target, await seed(target), args.out)

    if args.home is not None:
        saved = asyncio.run(run(_target_of(args.home.resolve())))
    else:
        with own_system() as target:
            saved = asyncio.run(run(target))
    say(f"{len(saved)} screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
