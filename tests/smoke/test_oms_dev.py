"""Boot ``oms dev`` as a user would, on free ports and a fresh home, and use it over HTTP.

Also: stopping it with an order in flight and starting it again lets the order finish.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from devtools.ports import free_port

OMS = str(Path(sys.executable).parent / "oms")


class DevSystem:
    def __init__(self, home: Path, ports: dict[str, int]) -> None:
        self.home = home
        self.ports = ports
        self.proc: subprocess.Popen[str] | None = None
        self.reader: threading.Thread | None = None
        self.output: list[str] = []

    @property
    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "TEMPORAL_ADDRESS", "OMS_ADMIN_API_KEY")
        }
        env.update(
            {
                "OMS_HOME": str(self.home),
                "OMS_API_PORT": str(self.ports["api"]),
                "OMS_SIM_PORT": str(self.ports["sim"]),
                "OMS_TEMPORAL_PORT": str(self.ports["temporal"]),
                "OMS_TEMPORAL_UI_PORT": str(self.ports["ui"]),
                "OMS_SIM_SHIP_DELAY_S": "1",
                "OMS_SIM_CARRIER_STEP_S": "0.5",
                "OMS_RELEASE_DELAY_S": "1",
                "OMS_LOG_FORMAT": "json",
                "OMS_DEV_SEED": "1",
            }
        )
        return env

    def start(self, *args: str) -> str:
        """Start and wait for the banner; returns the admin key it prints. From then on a
        thread keeps reading the output: a full pipe would block oms dev and its children."""
        self.proc = subprocess.Popen(
            [OMS, "dev", *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 120
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if "Admin API key" in line:
                self.reader = threading.Thread(target=self._drain, daemon=True)
                self.reader.start()
                return line.split()[-1]
        self.stop()
        raise AssertionError("oms dev did not come up:\n" + "".join(self.output[-40:]))

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.reader is not None:
            self.reader.join(timeout=10)
            self.reader = None
        elif self.proc.stdout is not None:
            self.output.append(self.proc.stdout.read())
        return self.proc.returncode

    def http(self, key: str) -> httpx.Client:
        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.ports['api']}",
            timeout=30,
            headers={"Authorization": f"Bearer {key}"},
        )


@pytest.fixture
def dev(tmp_path: Path):
    ports = {name: free_port() for name in ("api", "sim", "temporal", "ui")}
    system = DevSystem(tmp_path / "oms-home", ports)
    yield system
    if system.proc is not None and system.proc.poll() is None:
        system.stop()


def _json_records(output: str) -> list[dict]:
    """The JSON log records in the output of several processes sharing one pipe, where a
    busy machine can run two records together on one line."""
    decoder = json.JSONDecoder()
    records = []
    for line in output.splitlines():
        at = line.find("{")
        while at != -1:
            try:
                record, end = decoder.raw_decode(line, at)
            except ValueError:
                break
            if isinstance(record, dict):
                records.append(record)
            at = line.find("{", end)
    return records


def _order(external_id: str) -> dict:
    return {
        "channel": "webshop",
        "external_id": external_id,
        "customer": {"id": "c-1", "email": "ada@example.com", "name": "Ada"},
        "shipping_address": {
            "name": "Ada",
            "line1": "1 Main St",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
        },
        "currency": "EUR",
        "lines": [{"sku": "DEMO-TSHIRT", "quantity": 1, "unit_price": "19.90"}],
        "payment": {"method": "card", "token": "tok_ok"},
    }


def _wait(http: httpx.Client, order_id: str, statuses: set[str], within: float = 90) -> dict:
    deadline = time.monotonic() + within
    order: dict = {}
    while time.monotonic() < deadline:
        order = http.get(f"/v1/orders/{order_id}").json()
        if order.get("status") in statuses:
            return order
        time.sleep(0.3)
    raise AssertionError(f"order stayed {order.get('status')}")


def test_oms_dev_boots_and_delivers_an_order_over_http(dev):
    key = dev.start()
    banner = "".join(dev.output)
    assert f"http://127.0.0.1:{dev.ports['api']}/docs" in banner
    assert f"http://127.0.0.1:{dev.ports['ui']}" in banner
    assert "seeded demo data" in banner and "demo-berlin" in banner and "DEMO-MUG" in banner
    # Where the metrics are (the lines after the admin key, read by the thread by now).
    deadline = time.monotonic() + 10
    while "Worker metrics" not in "".join(dev.output) and time.monotonic() < deadline:
        time.sleep(0.1)
    banner = "".join(dev.output)
    api_metrics = f"http://127.0.0.1:{dev.ports['api']}/metrics"
    assert f"API metrics    {api_metrics}" in banner
    worker_metrics = next(
        line.split()[-1] for line in banner.splitlines() if "Worker metrics" in line
    )
    assert "oms_metrics_db_up 1.0" in httpx.get(api_metrics, timeout=10).text
    deadline = time.monotonic() + 30  # the worker's pollers start once it is connected
    while "temporal_num_pollers" not in httpx.get(worker_metrics, timeout=10).text:
        assert time.monotonic() < deadline, worker_metrics
        time.sleep(0.5)
    # oms bench refuses a system whose simulators and cancel window make orders wait, and
    # says how to start one for a benchmark.
    bench = subprocess.run([OMS, "bench"], env=dev.env, capture_output=True, text=True, timeout=60)
    assert bench.returncode == 2, bench.stdout + bench.stderr
    assert "OMS_SIM_SHIP_DELAY_S=1" in bench.stderr and "OMS_RELEASE_DELAY_S=1" in bench.stderr
    start_line = (
        "OMS_SIM_SHIP_DELAY_S=0 OMS_SIM_CARRIER_STEP_S=0 OMS_RELEASE_DELAY_S=0 "
        "OMS_RISK_HOLD_SCORE=0 make dev"
    )
    assert start_line in bench.stderr
    # As in the README: a channel key from the command line, while oms dev runs.
    made = subprocess.run(
        [OMS, "keys", "create", "--role", "channel", "--name", "webshop"],
        env=dev.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    shop_key = made.stdout.strip().splitlines()[-1]
    with dev.http(key) as admin:
        listed = admin.get("/v1/keys").json()["items"]
    assert [(k["name"], k["role"], k["channel"]) for k in listed] == [
        ("webshop", "channel", "webshop")
    ]
    with dev.http(shop_key) as http:
        assert http.get("/health").json()["status"] == "ok"
        order = http.post("/v1/orders", json=_order("smoke-1"))
        assert order.status_code == 202, order.text
        done = _wait(http, order.json()["id"], {"delivered", "failed", "cancelled"})
    assert done["status"] == "delivered"
    # The demo sales channels: the simulator sells on Tmall (pulled) and Shopify (pushed)
    # as the banner says, and the orders arrive and ship.
    assert "Sales channels demo-shopify, demo-woo, demo-tmall" in banner
    sim = f"http://127.0.0.1:{dev.ports['sim']}/sim/market/orders"
    sold = {}
    for platform in ("taobao", "shopify"):
        body = {"platform": platform, "count": 2, "skus": ["DEMO-TSHIRT"], "paid_ratio": 1.0}
        body |= {"unpaid_then_paid_ratio": 0.0, "closed_ratio": 0.0}
        made = httpx.post(sim, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert made.status_code == 201, made.text
        sold[platform] = {str(i) for i in made.json()["ids"]}
    with dev.http(key) as admin:
        for channel, platform in (("demo-tmall", "taobao"), ("demo-shopify", "shopify")):
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                items = admin.get("/v1/orders", params={"channel": channel}).json()["items"]
                if {o["external_id"] for o in items} >= sold[platform]:
                    break
                time.sleep(0.5)
            assert {o["external_id"] for o in items} == sold[platform], channel
            for item in items:  # on its way (the sandbox carrier takes its time to deliver)
                done = _wait(admin, item["id"], {"shipped", "delivered", "failed", "cancelled"})
                assert done["status"] in ("shipped", "delivered")
    assert httpx.get(f"http://127.0.0.1:{dev.ports['ui']}", timeout=10).status_code == 200
    # The console, with the account and password the banner prints.
    banner = "".join(dev.output)
    assert f"Console        http://127.0.0.1:{dev.ports['api']}/console" in banner
    password = next(li for li in banner.splitlines() if "sign in as admin / " in li).split()[-1]
    with httpx.Client(base_url=f"http://127.0.0.1:{dev.ports['api']}", timeout=30) as browser:
        login = browser.get("/console/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
        assert token is not None
        signed = browser.post(
            "/console/login",
            data={"csrf_token": token.group(1), "name": "admin", "password": password},
        )
        assert signed.status_code == 303, signed.text
        assert browser.get("/console/alerts").status_code == 200
    assert dev.stop() == 0
    assert (dev.home / "secrets.json").exists()
    # JSON log lines off a terminal, and the lines about the order carry its id.
    lines = _json_records("".join(dev.output))
    about_order = [line for line in lines if line.get("order_id") == done["id"]]
    assert {"request", "order_event", "stock_reserved"} <= {line["event"] for line in about_order}


def test_an_order_in_flight_when_oms_dev_stops_finishes_after_a_restart(dev):
    key = dev.start()
    with dev.http(key) as http:
        order = http.post("/v1/orders", json=_order("smoke-restart")).json()
        _wait(http, order["id"], {"dispatched", "shipped", "partially_shipped"})
    assert dev.stop() == 0

    assert dev.start() == key  # the same admin key, kept under the home folder
    with dev.http(key) as http:
        done = _wait(http, order["id"], {"delivered", "failed", "cancelled"})
        stock = http.get("/v1/stock/DEMO-TSHIRT").json()
    assert done["status"] == "delivered"
    assert stock["available"] == 139  # 140 seeded once, one shipped; not seeded twice


def test_a_port_in_use_is_a_clear_message_not_a_traceback(dev):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", dev.ports["api"]))
        busy.listen()
        result = subprocess.run(
            [OMS, "dev"], env=dev.env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 2
    assert f"port {dev.ports['api']}" in result.stderr
    assert "OMS_API_PORT" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_after_oms_dev_is_killed_it_starts_again_and_then_stops_cleanly(dev):
    key = dev.start()
    assert dev.proc is not None
    dev.proc.kill()  # kill -9: no clean-up of its own
    dev.proc.wait()
    time.sleep(1)

    assert dev.start() == key  # no orphan holds a port
    assert dev.stop() == 0
    # PostgreSQL went down with it, though a dead run was still listed as using it.
    assert not (dev.home / "pgdata" / "postmaster.pid").exists()


def _kill_everything(dev: DevSystem) -> None:
    """Power loss: SIGKILL oms dev, every process under it and every PostgreSQL process,
    all at once; nothing gets to clean up."""
    import psutil

    from devtools.embedded_pg import server_processes

    assert dev.proc is not None
    root = psutil.Process(dev.proc.pid)
    victims = [root, *root.children(recursive=True), *server_processes(dev.home / "pgdata")]
    for proc in victims:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(victims, timeout=10)
    dev.proc.wait()


def test_after_a_power_loss_the_first_oms_dev_comes_up_and_orders_go_on(dev):
    key = dev.start()
    with dev.http(key) as http:
        order = http.post("/v1/orders", json=_order("smoke-power-loss")).json()
        _wait(http, order["id"], {"reserved", "dispatched", "shipped", "partially_shipped"})
    _kill_everything(dev)
    # As after a reboot: postmaster.pid names a process that runs but is no PostgreSQL.
    unrelated = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        pid_file = dev.home / "pgdata" / "postmaster.pid"
        lines = pid_file.read_text().splitlines()
        pid_file.write_text("\n".join([str(unrelated.pid), *lines[1:]]) + "\n")

        assert dev.start() == key  # the first start after the crash comes up
        with dev.http(key) as http:
            done = _wait(http, order["id"], {"delivered", "failed", "cancelled"})
        assert done["status"] == "delivered"
        assert dev.stop() == 0
    finally:
        unrelated.kill()
        unrelated.wait()
    assert "removed postmaster.pid" in "".join(dev.output)


def test_a_child_that_dies_is_restarted_and_the_system_goes_on(dev):
    key = dev.start("--workers", "2")
    run = json.loads((dev.home / "run.json").read_text())
    assert run["worker_processes"] == 2
    # Two worker processes, each an oms worker supervised on its own by oms dev.
    assert "worker" not in run["pids"]
    first_pid, second_pid = run["pids"]["worker-1"], run["pids"]["worker-2"]
    # Each worker process serves its metrics on a port of its own, as run.json says.
    first, second = run["metrics"]["workers"]
    assert first != second
    for url in (first, second):
        deadline = time.monotonic() + 30
        while "temporal_num_pollers" not in httpx.get(url, timeout=10).text:
            assert time.monotonic() < deadline, url
            time.sleep(0.5)
    os.kill(first_pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run = json.loads((dev.home / "run.json").read_text())
        if run["pids"]["worker-1"] not in (None, first_pid):
            break
        time.sleep(0.3)
    assert run["pids"]["worker-1"] not in (None, first_pid)
    assert run["pids"]["worker-2"] == second_pid  # the other one worked on
    with dev.http(key) as http:
        order = http.post("/v1/orders", json=_order("smoke-child-restart")).json()
        done = _wait(http, order["id"], {"delivered", "failed", "cancelled"})
    assert done["status"] == "delivered"
    assert dev.stop() == 0
    assert "worker-1 exited unexpectedly" in "".join(dev.output)
    assert not (dev.home / "run.json").exists()


def test_oms_chaos_short_form_finds_nothing_lost(dev):
    """The CI form of `oms chaos`: a few worker kills, a Temporal and a PostgreSQL crash,
    simulator faults on, then the books must balance (it exits 1 on any violation)."""
    dev.start()
    result = subprocess.run(
        [
            OMS,
            "chaos",
            "--orders",
            "16",
            "--concurrency",
            "4",
            "--kills",
            "3",
            "--window",
            "20",
            "--settle-timeout",
            "240",
            "--seed",
            "5",
        ],
        env=dev.env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "violations             0" in report
    assert "worker kills           3" in report
    assert "Temporal restarts      1" in report
    assert "PostgreSQL restarts    1" in report
    assert dev.stop() == 0


def test_no_personal_data_lies_in_clear_in_the_temporal_database_files(dev):
    key = dev.start()
    body = _order("smoke-pii")
    body["customer"] = {"id": "c-pii", "email": "pii-smoke-7731@example.com", "name": "Zelda Q"}
    body["shipping_address"]["line1"] = "77 Hidden Lane"
    # The risk inputs are personal data too: the phone, the IP address, the device.
    body["shipping_address"]["phone"] = "+49 30 7731 9946"
    body["client"] = {"ip": "198.51.100.77", "device_id": "dev-pii-7731"}
    body["customer"]["created_at"] = "2024-03-01T10:00:00Z"
    with dev.http(key) as http:
        order = http.post("/v1/orders", json=body).json()
        done = _wait(http, order["id"], {"delivered", "failed", "cancelled"})
    assert done["status"] == "delivered"
    # The Web UI is wired to the API's codec endpoint, so operators read orders in clear.
    ui = httpx.get(f"http://127.0.0.1:{dev.ports['ui']}/api/v1/settings", timeout=10).json()
    assert ui["Codec"]["Endpoint"] == f"http://127.0.0.1:{dev.ports['api']}/codec"
    assert dev.stop() == 0

    files = sorted(dev.home.glob("temporal.db*"))
    assert files, "the dev server keeps its history in temporal.db"
    stored = b"".join(path.read_bytes() for path in files)
    assert done["id"].encode() in stored  # the history is there...
    assert done["client"] == {"ip": "198.51.100.77", "device_id": "dev-pii-7731"}
    personal = (
        "pii-smoke-7731@example.com",
        "Zelda Q",
        "77 Hidden Lane",
        "tok_ok",
        "7731 9946",
        "198.51.100.77",
        "dev-pii-7731",
    )
    for value in personal:
        assert value.encode() not in stored, value  # ...its personal data is not
    logs = "".join(dev.output)
    assert done["id"] in logs
    for value in personal:
        assert value not in logs, value  # logs carry ids, never personal data
