"""Demand insights on the stack: an order history in PostgreSQL (written by the import
writer, as ``oms import orders`` writes it) -> the nightly workflow stores forecasts ->
the endpoints answer with hints that follow from them -> the stock-out alert is raised
once, however often the run is repeated; bad query parameters are problems; the nightly
Schedule is made and removed by the settings; lead times are set from the shell."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from temporalio.service import RPCError, RPCStatusCode

from oms.insights.messages import ForecastRun
from tests.integration.helpers import set_stock, stocked, unique
from tests.integration.insights_helpers import history as _history
from tests.integration.insights_helpers import sold as _sold
from worker.schedules import FORECAST_SCHEDULE, ensure_forecast_schedule
from workflows.forecast import ForecastWorkflow

OMS = str(Path(sys.executable).parent / "oms")


async def _rows(system: Any, sql: str, **params: Any) -> list[Any]:
    async with system.engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def _oms(system: Any, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DATABASE_URL": system.settings.database_url}
    return await asyncio.to_thread(
        subprocess.run,
        [OMS, "insights", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_orders_make_forecasts_hints_hot_products_and_one_stockout_alert(system, admin):
    today = datetime.now(UTC).date()
    wh, steady = await stocked(admin, 20)  # 20 units against ~10 a day: 2 days of cover
    rising = unique("SKU")
    await set_stock(admin, wh, rising, 2000)
    orders = []
    noise = [8, 12, 9, 11, 10]  # about 10 a day, not quite: the forecast has an error
    for back in range(1, 71):  # 70 days before today
        day = today - timedelta(days=back)
        orders.append(_sold(steady, wh, day, noise[back % 5]))
        orders.append(_sold(rising, wh, day, 12 if back <= 14 else 2))
    await _history(system, orders)

    run = await system.client.execute_workflow(
        ForecastWorkflow.run,
        ForecastRun(run_date=today.isoformat()),
        id=unique("forecast"),
        task_queue=system.settings.task_queue,
    )
    assert run.run_date == today.isoformat()
    assert run.skus >= 2 and run.pairs >= 2 and run.stockout_risks >= 1
    stored = await _rows(
        system,
        "SELECT warehouse_id, sku, demand_class, method, daily, last_28 FROM demand_forecasts "
        "WHERE run_date = :day AND sku IN (:a, :b) ORDER BY sku, warehouse_id",
        day=today,
        a=steady,
        b=rising,
    )
    assert len(stored) == 4  # each SKU over all warehouses ('') and in wh
    by_key = {(r.warehouse_id, r.sku): r for r in stored}
    flat = by_key[(wh, steady)]
    last_28 = sum(noise[back % 5] for back in range(1, 29))
    assert (flat.demand_class, flat.method, flat.last_28) == ("smooth", "holt_winters", last_28)
    assert len(flat.daily) == system.settings.forecast_horizon_days
    assert all(8 <= v <= 12 for v in flat.daily[:7]), flat.daily[:7]
    assert sum(by_key[("", rising)].daily[:7]) > 60  # the new rate, not the 70-day mean

    answer = await admin.get("/v1/insights/replenishment", params={"warehouse_id": wh})
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert page["run_date"] == today.isoformat() and page["next_cursor"] is None
    first, second = page["items"]
    assert (first["sku"], first["status"]) == (steady, "stockout_risk")
    assert (first["on_hand"], first["available"], first["lead_time_days"]) == (20, 20, 7)
    assert 1.5 <= first["days_of_cover"] <= 2.5
    # Up to 7 + 7 days of ~10 a day with safety stock, less the 20 there: ~120 and more.
    assert 110 <= first["order_quantity"] <= 200
    assert first["safety_stock"] > 0
    assert first["reorder_point"] == pytest.approx(
        7 * first["daily_rate"] + first["safety_stock"], rel=0.1
    )
    assert (second["sku"], second["status"], second["order_quantity"]) == (rising, "ok", 0)

    paged = await admin.get("/v1/insights/replenishment", params={"warehouse_id": wh, "limit": 1})
    assert [i["sku"] for i in paged.json()["items"]] == [steady]
    rest = await admin.get(
        "/v1/insights/replenishment",
        params={"warehouse_id": wh, "limit": 1, "cursor": paged.json()["next_cursor"]},
    )
    assert [i["sku"] for i in rest.json()["items"]] == [rising]
    risky = await admin.get(
        "/v1/insights/replenishment", params={"sku": steady, "status": "stockout_risk"}
    )
    assert [(i["warehouse_id"], i["sku"]) for i in risky.json()["items"]] == [(wh, steady)]

    for extra in (
        {"params": {"warehouse_id": wh, "format": "csv"}},
        {"params": {"warehouse_id": wh}, "headers": {"Accept": "text/csv"}},
    ):
        exported = await admin.get("/v1/insights/replenishment", **extra)
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert [(r["sku"], r["status"]) for r in rows] == [
            (steady, "stockout_risk"),
            (rising, "ok"),
        ]
        assert rows[0]["order_quantity"] == str(first["order_quantity"])

    hot = await admin.get("/v1/insights/hot-products", params={"limit": 200})
    assert hot.status_code == 200, hot.text
    listed = {h["sku"]: h for h in hot.json()["items"]}
    assert listed[rising]["last_7"] == 84 and listed[rising]["last_28"] == 14 * 12 + 14 * 2
    assert listed[rising]["growth"] > 0.4
    assert listed[rising]["trend"] == pytest.approx(12 - (7 * 12 + 14 * 2) / 21, abs=0.01)
    assert listed.get(steady, {"growth": 0})["growth"] < listed[rising]["growth"]

    subject = f"{wh}/{steady}"
    alerts_sql = "SELECT id, detail FROM alerts WHERE kind = 'stockout_risk' AND subject = :subject"
    (alert,) = await _rows(system, alerts_sql, subject=subject)
    assert alert.detail["available"] == 20 and alert.detail["lead_time_days"] == 7
    assert not await _rows(system, alerts_sql, subject=f"{wh}/{rising}")  # enough stock: no alert

    # The same day again, from the shell: the same rows, and still one alert.
    again = await _oms(system, "forecast", "--date", today.isoformat(), "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["run_date"] == today.isoformat()
    assert len(await _rows(system, alerts_sql, subject=subject)) == 1
    count = await _rows(
        system,
        "SELECT count(*) AS n FROM demand_forecasts WHERE run_date = :day AND sku = :sku",
        day=today,
        sku=steady,
    )
    assert count[0].n == 2


async def test_lead_times_are_set_from_the_shell_and_change_the_hint(system, admin):
    today = datetime.now(UTC).date()
    wh, sku = await stocked(admin, 100)  # 100 units against ~5 a day: 20 days of cover
    await _history(
        system, [_sold(sku, wh, today - timedelta(days=back), 5) for back in range(1, 43)]
    )
    await system.client.execute_workflow(
        ForecastWorkflow.run,
        ForecastRun(run_date=today.isoformat()),
        id=unique("forecast"),
        task_queue=system.settings.task_queue,
    )

    async def hint() -> dict[str, Any]:
        answer = await admin.get("/v1/insights/replenishment", params={"warehouse_id": wh})
        (item,) = answer.json()["items"]
        return item

    before = await hint()
    assert (before["lead_time_days"], before["status"]) == (7, "ok")
    warehouse_wide = await _oms(system, "lead-time", wh, "--days", "30", "--service-level", "0.9")
    assert warehouse_wide.returncode == 0, warehouse_wide.stderr
    one_sku = await _oms(system, "lead-time", wh, "--sku", sku, "--review-days", "14")
    assert one_sku.returncode == 0, one_sku.stderr
    after = await hint()
    # 30 days of lead time from the warehouse, 14 of review from the SKU's own row.
    assert (after["lead_time_days"], after["review_days"], after["service_level"]) == (
        30,
        14,
        0.9,
    )
    assert after["status"] == "stockout_risk" and after["order_quantity"] > 100
    listed = await _oms(system, "lead-times", "--warehouse", wh)
    assert f"{wh} (every SKU): lead time 30 d" in listed.stdout
    assert f"{wh} {sku}: lead time default, review 14 d" in listed.stdout
    wrong = await _oms(system, "lead-time", wh, "--service-level", "1.5")
    assert wrong.returncode == 1 and "service-level" in wrong.stderr
    # The backtest on the stored history (whatever else the session wrote there too).
    stored = await _oms(system, "backtest", "--from-db", "--days", "56", "--holdout", "14")
    assert stored.returncode in (0, 1), stored.stderr
    assert "the last 14 held out" in stored.stdout and "\noverall " in stored.stdout


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/insights/replenishment", {"limit": "0"}),
        ("/v1/insights/replenishment", {"limit": "1001"}),
        ("/v1/insights/replenishment", {"status": "urgent"}),
        ("/v1/insights/replenishment", {"warehouse_id": "wh 1"}),
        ("/v1/insights/replenishment", {"sku": ""}),
        ("/v1/insights/replenishment", {"cursor": "abc"}),
        ("/v1/insights/replenishment", {"format": "xml"}),
        ("/v1/insights/hot-products", {"limit": "500"}),
        ("/v1/insights/hot-products", {"min_units": "-1"}),
    ],
)
async def test_bad_query_parameters_are_problems(system, admin, path, params):
    answer = await admin.get(path, params=params)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["status"] == 422


async def test_channel_keys_may_not_read_insights(system, admin):
    made = await admin.post(
        "/v1/keys", json={"role": "channel", "name": unique("k"), "channel": "webshop"}
    )
    assert made.status_code == 201, made.text
    key = made.json()["key"]
    answer = await admin.get(
        "/v1/insights/hot-products", headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 403


async def test_the_nightly_schedule_follows_the_settings(system):
    at_three = system.settings.model_copy(update={"forecast_hour_utc": 3})
    await ensure_forecast_schedule(system.client, system.settings)
    await ensure_forecast_schedule(system.client, at_three)  # a second start updates it
    schedule = system.client.get_schedule_handle(FORECAST_SCHEDULE)
    try:
        described = await schedule.describe()
    finally:
        off = system.settings.model_copy(update={"forecast_hour_utc": -1})
        await ensure_forecast_schedule(system.client, off)
    (calendar,) = described.schedule.spec.calendars
    assert [r.start for r in calendar.hour] == [3] and [r.start for r in calendar.minute] == [0]
    assert described.schedule.action.workflow == "insights.forecast"
    with pytest.raises(RPCError) as gone:
        await schedule.describe()
    assert gone.value.status == RPCStatusCode.NOT_FOUND
