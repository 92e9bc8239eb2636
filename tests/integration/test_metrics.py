"""Metrics (docs/metrics.md): the API's /metrics (requests per route template and status,
the business gauges read from PostgreSQL, a database that is down), its optional token,
the worker's Temporal SDK metrics, and the alert rules and dashboard under deploy/, whose
every metric must be one these scrapes produce."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from devtools.ports import free_port
from oms.db.engine import make_engine
from oms.db.migrate import migrate
from oms.settings import Settings
from tests.conftest import System, served_api
from tests.integration.helpers import order_body, stocked, submit, unique, wait_for_status

ROOT = Path(__file__).resolve().parents[2]
ALERTS_YML = ROOT / "deploy" / "prometheus" / "alerts.yml"
PROMETHEUS_YML = ROOT / "deploy" / "prometheus" / "prometheus.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "oms-dashboard.json"


# --- scraping ------------------------------------------------------------------------------


@dataclass
class Scrape:
    text: str
    # (sample name, sorted labels) -> value
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]

    @property
    def names(self) -> set[str]:
        return {name for name, _ in self.samples}

    def value(self, name: str, **labels: str) -> float | None:
        return self.samples.get((name, tuple(sorted(labels.items()))))

    def total(self, name: str, **labels: str) -> float:
        """The sum over every series of ``name`` whose labels include ``labels``."""
        return sum(
            v
            for (n, have), v in self.samples.items()
            if n == name and set(labels.items()) <= set(have)
        )


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(body: str) -> Scrape:
    """The samples of a scrape in the text format, by the names the scrape wrote (a
    client library's parser renames counters, adding ``_total``)."""
    samples = {}
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        found = _SAMPLE.match(line)
        assert found, line
        name, labels, value = found.groups()
        pairs = tuple(sorted(_LABEL.findall(labels or "")))
        samples[(name, pairs)] = float(value)
    return Scrape(body, samples)


async def scrape(http: httpx.AsyncClient, url: str = "/metrics", **headers: str) -> Scrape:
    response = await http.get(url, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


@asynccontextmanager
async def api_with(
    system: System, engine: AsyncEngine | None = None, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """An API of its own (its own metrics registry) on ``engine`` with ``overrides``."""
    settings = system.settings.model_copy(update={"api_port": free_port(), **overrides})
    async with served_api(system, settings, engine) as (_, http):
        yield http


# --- requests per route --------------------------------------------------------------------

REQUESTS = "oms_http_requests_total"
LATENCY_COUNT = "oms_http_request_duration_seconds_count"
LATENCY_INF = "oms_http_request_duration_seconds_bucket"


async def test_requests_are_counted_per_route_template_and_status(system: System) -> None:
    async with api_with(system, max_body_bytes=1000) as http:
        missing = uuid.uuid4().hex[:20]
        for _ in range(3):
            assert (await http.get(f"/v1/orders/{missing}")).status_code == 404
        assert (await http.get("/v1/orders", params={"limit": 1})).status_code == 200
        assert (await http.get("/no/such/path")).status_code == 404
        big = await http.post("/v1/orders", content=b"x" * 2000)
        assert big.status_code == 413  # refused by a middleware, before routing
        assert (await http.get("/v1/orders", headers={"Authorization": ""})).status_code == 401

        found = await scrape(http)

    one = {"method": "GET", "route": "/v1/orders/{order_id}", "status": "404"}
    assert found.value(REQUESTS, **one) == 3
    assert found.value(LATENCY_COUNT, **one) == 3
    assert found.value(LATENCY_INF, le="+Inf", **one) == 3
    assert found.value(REQUESTS, method="GET", route="/v1/orders", status="200") == 1
    assert found.value(REQUESTS, method="GET", route="/v1/orders", status="401") == 1
    assert found.value(REQUESTS, method="POST", route="/v1/orders", status="413") == 1
    assert found.value(REQUESTS, method="GET", route="unmatched", status="404") == 1
    # The raw paths never become labels: an id would make a series per order.
    assert missing not in found.text and "/no/such/path" not in found.text
    # Latencies are seconds, in the buckets the histogram declares.
    assert 0 < found.total("oms_http_request_duration_seconds_sum", **one) < 30
    assert found.value(LATENCY_INF, le="0.005", **one) is not None
    assert found.value("process_resident_memory_bytes") is not None


async def test_metrics_stay_out_of_the_openapi_document(admin: httpx.AsyncClient) -> None:
    paths = (await admin.get("/openapi.json")).json()["paths"]
    assert "/metrics" not in paths and "/v1/orders" in paths


async def test_a_metrics_token_is_required_once_set(system: System) -> None:
    async with api_with(system, metrics_token="scrape-secret") as http:
        refused = await http.get("/metrics", headers={"Authorization": ""})
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["status"] == 401
        # The admin API key is not the metrics token.
        assert (await http.get("/metrics")).status_code == 401
        found = await scrape(http, Authorization="Bearer scrape-secret")
    assert found.value("oms_metrics_db_up") == 1


async def test_without_a_token_metrics_are_open(system: System) -> None:
    async with api_with(system) as http:
        found = await scrape(http, Authorization="")
    assert found.value("oms_metrics_db_up") == 1


# --- business gauges -----------------------------------------------------------------------


@pytest.fixture
async def own_db(engine: AsyncEngine, settings: Settings) -> AsyncIterator[AsyncEngine]:
    """A migrated database of its own, so the gauges count only what the test writes."""
    name = f"metrics_{uuid.uuid4().hex[:8]}"
    async with engine.connect() as conn:
        admin = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await admin.execute(text(f"CREATE DATABASE {name}"))
    assert settings.database_url is not None
    url = settings.database_url.replace("/postgres?", f"/{name}?", 1)
    db = make_engine(settings.model_copy(update={"database_url": url}), pool_size=2)
    await migrate(db)
    yield db
    await db.dispose()
    async with engine.connect() as conn:
        admin = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await admin.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))


async def _order(conn: Any, status: str, view: dict[str, Any] | None = None) -> str:
    order_id = uuid.uuid4().hex[:20]
    await conn.execute(
        text(
            "INSERT INTO orders (id, channel, external_id, request_hash, customer_id, status, "
            "last_seq, view, created_at, updated_at) VALUES (:id, 'webshop', :id, 'h', 'c-1', "
            ":status, 1, CAST(:view AS jsonb), now(), now())"
        ),
        {"id": order_id, "status": status, "view": json.dumps(view or {})},
    )
    return order_id


def _hold(minutes_ago: int) -> dict[str, Any]:
    return {"hold": {"since": f"{_ago(minutes_ago * 60)}", "reasons": ["high_value"]}}


def _ago(seconds: float) -> str:
    from datetime import UTC, datetime

    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat()


async def _fill(db: AsyncEngine) -> dict[str, str]:
    """Orders, holds, late orders, alerts, backorders, webhook deliveries and pull cursors
    whose gauges are known by hand."""
    async with db.begin() as conn:
        for _ in range(3):
            await _order(conn, "received")
        held = await _order(conn, "on_hold", _hold(120))  # the oldest hold: two hours
        await _order(conn, "on_hold", _hold(30))
        await _order(conn, "dispatched", {"late": True})
        await _order(conn, "reserved", {"late": False})
        await _order(conn, "delivered", {"late": True})  # ended: no longer counts as late
        backordered = await _order(conn, "backordered")
        for kind, status in (
            ("activity_retrying", "open"),
            ("activity_retrying", "open"),
            ("order_late", "open"),
            ("hold_stale", "acknowledged"),
        ):
            await conn.execute(
                text(
                    "INSERT INTO alerts (order_id, subject, kind, status, detail, created_at) "
                    "VALUES (:o, :s, :k, :st, '{}', now())"
                ),
                {"o": held, "s": unique("subject"), "k": kind, "st": status},
            )
        for order_id, sku, quantity in (
            (backordered, "SKU-A", 5),
            (backordered, "SKU-B", 2),
            (held, "SKU-A", 4),
        ):
            await conn.execute(
                text(
                    "INSERT INTO backorder_lines (order_id, sku, quantity, ordered_at, "
                    "created_at) VALUES (:o, :s, :q, now(), now())"
                ),
                {"o": order_id, "s": sku, "q": quantity},
            )
        for endpoint, enabled, failing in (("we_live", True, True), ("we_off", False, False)):
            await conn.execute(
                text(
                    "INSERT INTO webhook_endpoints (id, url, events, enabled, secret, "
                    "failing_since, created_at, updated_at) VALUES (:id, 'http://127.0.0.1:9/x', "
                    "ARRAY['order.delivered'], :on, 's', "
                    "CASE WHEN :failing THEN now() END, now(), now())"
                ),
                {"id": endpoint, "on": enabled, "failing": failing},
            )
        deliveries = [
            ("we_live", "failed", 600),
            ("we_live", "failed", 60),
            ("we_live", "pending", 10),
            ("we_live", "delivered", 3600),
            ("we_live", "exhausted", 7200),
            ("we_off", "failed", 9000),  # a disabled endpoint's: not counted
        ]
        for endpoint, status, age in deliveries:
            await conn.execute(
                text(
                    "INSERT INTO webhook_deliveries (endpoint_id, event_id, status, attempts, "
                    "created_at, updated_at) VALUES (:e, :ev, :st, 1, "
                    "now() - make_interval(secs => :age), now())"
                ),
                {"e": endpoint, "ev": unique("evt"), "st": status, "age": age},
            )
        for channel, enabled, lag, failing in (
            ("tmall-main", True, 120, True),
            ("jd-main", True, 30, False),
            ("pdd-old", False, 99999, True),  # disabled: not shown
        ):
            await conn.execute(
                text(
                    "INSERT INTO channels (name, platform, intake, mode, payment_timeout_s, "
                    "pull_interval_s, pull_lag_s, enabled, created_at, updated_at, created_by, "
                    "updated_by) VALUES (:n, 'taobao', 'pull', 'live', 60, 60, 0, :on, now(), "
                    "now(), 'test', 'test')"
                ),
                {"n": channel, "on": enabled},
            )
            await conn.execute(
                text(
                    "INSERT INTO pull_cursors (channel, cursor, taken, updated_at, "
                    "failing_since) VALUES (:n, now() - make_interval(secs => :lag), 0, now(), "
                    "CASE WHEN :failing THEN now() END)"
                ),
                {"n": channel, "lag": lag, "failing": failing},
            )
    return {"held": held}


async def test_business_gauges_equal_what_the_database_holds(
    system: System, own_db: AsyncEngine
) -> None:
    await _fill(own_db)
    async with api_with(system, own_db, metrics_cache_s=0) as http:
        found = await scrape(http)

    assert found.value("oms_metrics_db_up") == 1
    by_status = {
        dict(labels)["status"]: v for (n, labels), v in found.samples.items() if n == "oms_orders"
    }
    assert by_status["received"] == 3 and by_status["on_hold"] == 2
    assert by_status["dispatched"] == 1 and by_status["delivered"] == 1
    assert by_status["cancelled"] == 0  # every status is there, 0 when none
    assert found.value("oms_holds_waiting") == 2
    assert 7200 <= found.value("oms_hold_oldest_age_seconds") < 7260  # type: ignore[operator]
    assert found.value("oms_orders_late") == 1
    assert found.value("oms_alerts_open", kind="activity_retrying") == 2
    assert found.value("oms_alerts_open", kind="order_late") == 1
    assert found.value("oms_alerts_open", kind="hold_stale") is None  # acknowledged
    assert found.value("oms_backorder_units") == 11
    assert found.value("oms_backorder_orders") == 2
    assert found.value("oms_webhook_deliveries_failing") == 2
    assert found.value("oms_webhook_deliveries_pending") == 1
    assert 600 <= found.value("oms_webhook_delivery_oldest_age_seconds") < 660  # type: ignore[operator]
    assert found.value("oms_webhook_endpoints_failing") == 1
    assert found.value("oms_webhook_endpoints_disabled") == 1
    assert 120 <= found.value("oms_channel_pull_lag_seconds", channel="tmall-main") < 180  # type: ignore[operator]
    assert 30 <= found.value("oms_channel_pull_lag_seconds", channel="jd-main") < 90  # type: ignore[operator]
    assert found.value("oms_channel_pull_failing", channel="tmall-main") == 1
    assert found.value("oms_channel_pull_failing", channel="jd-main") == 0
    assert found.value("oms_channel_pull_lag_seconds", channel="pdd-old") is None
    # No personal data in any label: the customer, the address and the email never appear.
    assert "c-1" not in found.text


async def test_the_gauges_are_read_once_per_cache_period(
    system: System, own_db: AsyncEngine
) -> None:
    await _fill(own_db)
    async with api_with(system, own_db, metrics_cache_s=60) as http:
        first = await scrape(http)
        async with own_db.begin() as conn:
            await _order(conn, "on_hold", _hold(1))
        # A storm of scrapes within the period: one read, the same figures for all.
        storm = await asyncio.gather(*(scrape(http) for _ in range(20)))
    assert first.value("oms_holds_waiting") == 2
    assert {s.value("oms_holds_waiting") for s in storm} == {2}
    async with api_with(system, own_db, metrics_cache_s=0) as http:
        assert (await scrape(http)).value("oms_holds_waiting") == 3


async def test_a_database_that_is_down_gives_200_and_db_up_0(system: System) -> None:
    nowhere = f"postgresql://oms:oms@127.0.0.1:{free_port()}/oms"
    async with api_with(system, database_url=nowhere, metrics_cache_s=0) as http:
        assert (await http.get("/v1/orders")).status_code == 503
        found = await scrape(http)
        again = await scrape(http)
    assert found.value("oms_metrics_db_up") == 0 and again.value("oms_metrics_db_up") == 0
    assert not any(name.startswith("oms_orders") for name in found.names)
    assert found.value("oms_holds_waiting") is None
    # The requests are still counted, the failed ones included.
    assert found.value(REQUESTS, method="GET", route="/v1/orders", status="503") == 1


# --- the worker's Temporal metrics ---------------------------------------------------------


@workflow.defn(name="metrics-test-fails", sandboxed=False)
class FailingWorkflow:
    @workflow.run
    async def run(self) -> None:
        raise ApplicationError("refused on purpose", non_retryable=True)


@workflow.defn(name="metrics-test-task-fails", sandboxed=False)
class BrokenTaskWorkflow:
    @workflow.run
    async def run(self) -> None:
        raise RuntimeError("a bug in workflow code: the task fails and is retried")


ORDER = "order.batched"


@pytest.fixture(scope="module")
async def worker_scrape(system: System) -> Scrape:
    """The real worker, on a task queue of its own and an SDK runtime that serves metrics,
    after it ran an order whose authorization fails twice before it is delivered; beside
    it, on the same runtime, a workflow that fails and one whose task fails, so that the
    failure metrics exist too."""
    from oms.temporal_client import connect
    from worker.main import build_worker, worker_runtime

    port = free_port()
    settings = system.settings.model_copy(
        update={
            "task_queue": unique("oms-metrics"),
            "api_port": free_port(),
            "worker_metrics_address": f"127.0.0.1:{port - 1}",
        }
    )
    runtime = worker_runtime(settings, process=1)  # process 1 serves on port + 1
    assert runtime is not None
    client = await connect(settings, runtime)
    worker = build_worker(client, system.engine, settings)
    side_queue = unique("metrics-side")
    side = Worker(client, task_queue=side_queue, workflows=[FailingWorkflow, BrokenTaskWorkflow])
    async with served_api(system, settings, system.engine) as (_, http), worker, side:
        _, sku = await stocked(http, 10)
        order = await submit(http, order_body([(sku, 1)], token="tok_flaky"))
        await wait_for_status(http, order["id"], {"delivered"})
        with pytest.raises(Exception, match="failed"):
            await client.execute_workflow(
                FailingWorkflow.run, id=unique("metrics-fails"), task_queue=side_queue
            )
        broken = await client.start_workflow(
            BrokenTaskWorkflow.run, id=unique("metrics-task-fails"), task_queue=side_queue
        )
        scraped = Scrape("", {})
        async with httpx.AsyncClient(timeout=10) as plain:
            for _ in range(100):  # the SDK updates its metrics as tasks complete
                response = await plain.get(f"http://127.0.0.1:{port}/metrics")
                assert response.status_code == 200
                scraped = parse(response.text)
                done = scraped.total("temporal_workflow_completed", workflow_type=ORDER)
                if (
                    done
                    and {
                        "temporal_workflow_task_execution_failed",
                        "temporal_activity_execution_failed",
                        "temporal_workflow_failed",
                    }
                    <= scraped.names
                ):
                    break
                await asyncio.sleep(0.1)
        await broken.terminate("the test is over")
    return scraped


async def test_the_worker_serves_temporal_metrics_after_running_an_order(
    worker_scrape: Scrape,
) -> None:
    found = worker_scrape
    assert found.total("temporal_workflow_completed", workflow_type=ORDER) >= 1
    # The flaky gateway failed the authorization twice.
    assert found.total("temporal_activity_execution_failed", activity_type="authorize_payment") == 2
    assert found.total("temporal_activity_execution_latency_count") > 0
    assert found.total("temporal_workflow_task_schedule_to_start_latency_count") > 0
    assert found.total("temporal_num_pollers", poller_type="workflow_task") >= 1
    assert found.total("temporal_worker_task_slots_available", worker_type="ActivityWorker") > 0
    assert found.total("temporal_workflow_failed", workflow_type="metrics-test-fails") == 1
    assert found.total("temporal_workflow_task_execution_failed") >= 1
    # Durations in seconds: an activity of this stack takes well under a minute.
    count = found.total("temporal_activity_execution_latency_count")
    assert found.total("temporal_activity_execution_latency_sum") / count < 60
    assert all(dict(labels).get("service") == "oms-worker" for _, labels in found.samples)


async def test_a_metrics_port_in_use_leaves_the_worker_without_metrics(system: System) -> None:
    from oms.temporal_client import metrics_runtime
    from worker.main import worker_runtime

    address = f"127.0.0.1:{free_port()}"
    holder = metrics_runtime(address)  # holds the port while the test runs
    taken = system.settings.model_copy(update={"worker_metrics_address": address})
    assert worker_runtime(taken) is None
    assert worker_runtime(system.settings) is None  # not set: off
    assert holder is not None


# --- deploy/: the rules and the dashboard name only metrics that exist ---------------------

# PromQL words that are not metric names.
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset", "inf", "nan", "sum", "min", "max", "avg", "count", "stddev",
    "stdvar", "topk", "bottomk", "quantile", "count_values", "group",
}  # fmt: skip
# Series Prometheus itself makes for every target.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads: identifiers that are not functions (followed
    by a parenthesis), keywords, label names or strings."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\$\w+|\$\{[^}]*\}", "", expr)  # Grafana variables
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", expr):
        word, call = match.group(1), match.group(2)
        if call or word in PROMQL_WORDS or re.fullmatch(r"\d+[smhdwy]", word):
            continue
        names.add(word)
    return names


def test_the_metric_name_extraction_reads_promql() -> None:
    expr = (
        'sum by (route) (rate(oms_http_requests_total{status=~"5..", route!="x"}[5m])) '
        "/ ignoring(status) group_left sum(rate(oms_http_requests_total[5m])) > 0.05 "
        'and on(job) absent(temporal_num_pollers{poller_type="workflow_task"}) '
        "or histogram_quantile(0.99, sum by (le) (rate(x_bucket[$__rate_interval])))"
    )
    assert metric_names(expr) == {"oms_http_requests_total", "temporal_num_pollers", "x_bucket"}


def _rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(ALERTS_YML.read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    exprs = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            exprs.extend(t["expr"] for t in panel.get("targets", []) if t.get("expr"))
            walk(panel.get("panels", []))

    walk(board["panels"])
    for variable in board.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue  # a datasource or interval variable names no metric
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if isinstance(query, str) and query:
            found = re.search(r"label_values\(([^,)]+)", query)
            exprs.append(found.group(1) if found else query)
    return exprs


def test_the_rules_and_the_dashboard_are_valid() -> None:
    rules = _rules()
    assert len(rules) >= 6
    for rule in rules:
        assert rule["alert"] and rule["expr"] and rule["annotations"]["summary"]
        assert rule["labels"]["severity"] in {"page", "ticket"}
        assert rule["annotations"]["runbook"].startswith("docs/metrics.md#")
    scrape_config = yaml.safe_load(PROMETHEUS_YML.read_text())
    assert scrape_config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"] for job in scrape_config["scrape_configs"]}
    assert {"oms-api", "oms-worker"} <= jobs
    board = json.loads(DASHBOARD.read_text())
    assert board["title"] and board["panels"] and board["uid"]
    assert len(_dashboard_exprs()) >= 15


async def test_every_metric_the_rules_and_dashboard_use_is_one_the_system_produces(
    system: System, worker_scrape: Scrape
) -> None:
    from api.metrics import BUSINESS_GAUGES

    async with api_with(system) as http:
        assert (await http.get("/v1/orders", params={"limit": 1})).status_code == 200
        api = await scrape(http)
    produced = api.names | worker_scrape.names | SYNTHETIC
    produced |= {gauge.name for gauge in BUSINESS_GAUGES}  # what the collector may yield
    used: dict[str, set[str]] = {}
    for rule in _rules():
        used[f"alerts.yml {rule['alert']}"] = metric_names(rule["expr"])
    for expr in _dashboard_exprs():
        used.setdefault("dashboard", set()).update(metric_names(expr))
    missing = {where: names - produced for where, names in used.items() if names - produced}
    assert not missing, missing
    every = set().union(*used.values())
    assert {"oms_http_requests_total", "oms_holds_waiting", "temporal_num_pollers"} <= every
    # docs/metrics.md names every metric the system produces and every alert.
    docs = (ROOT / "docs" / "metrics.md").read_text()
    for gauge in BUSINESS_GAUGES:
        assert f"`{gauge.name}`" in docs, gauge.name
    for rule in _rules():
        anchor = rule["annotations"]["runbook"].split("#", 1)[1]
        assert f"### {rule['alert']}" in docs and anchor == rule["alert"].lower(), rule["alert"]
    for name in every:
        base = re.sub(r"_(bucket|count|sum|total)$", "", name)
        assert base in docs or name in docs or name in SYNTHETIC, name
