"""The fake-order risk score on the real stack: a ring's order (many buyers, one address,
the same tiny total) is held with ``risk_score`` and its reasons in words; an operator's
decision is its label; an ordinary order goes on; ``oms risk train`` stores a version that
the worker then scores with."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from oms.risk.evaluate import featurize, write_jsonl
from oms.risk.facts import from_view
from oms.risk.features import features
from oms.risk.gather import gather
from oms.risk.generate import generate
from oms.risk_cli import run as risk_command
from oms.store import risk as risk_store
from tests.conftest import System, custom_stack
from tests.integration.helpers import order_body, stocked, submit, unique, wait_for_status

SETTLED = {"on_hold", "reserved", "dispatched", "shipped", "delivered", "cancelled", "failed"}
RULES = {
    "hold_high_value": "EUR:1000000",
    "hold_new_customer_value": "EUR:1000000",
    "hold_velocity_count": 1_000_000,
    "risk_hold_score": 70,
    "risk_model_recheck_s": 0.2,
}


def _ring_order(sku: str, street: str, n: int) -> dict[str, Any]:
    body = order_body([(sku, 1, "0.50")], customer_id=unique(f"ring{n}-"))
    body["shipping_address"]["line1"] = street
    return body


async def _ring(http: httpx.AsyncClient, sku: str, buyers: int) -> list[dict[str, Any]]:
    street = f"{unique('Ringweg ')} 1"
    settled = []
    for n in range(buyers):
        order = await submit(http, _ring_order(sku, street, n))
        settled.append(await wait_for_status(http, order["id"], SETTLED))
    return settled


async def _held_event(http: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    events = (await http.get(f"/v1/orders/{order_id}/events")).json()["items"]
    return next(e for e in events if e["type"] == "order_held")


async def test_a_ring_order_is_held_in_words_and_the_decision_is_its_label(system: System):
    async with custom_stack(system, "risk-ring", {}, **RULES) as http:
        _, sku = await stocked(http, 100)
        orders = await _ring(http, sku, 8)
        last = orders[-1]
        assert last["status"] == "on_hold", last
        assert "risk_score" in last["hold"]["reasons"]
        risk = last["risk"]
        assert risk["score"] >= 70 and risk["model_version"] is None
        words = [r["words"] for r in risk["reasons"]]
        assert "8 buyers ordered to this address in 7 days" in words
        assert any("same total" in w for w in words)
        assert risk["reasons"][-1]["code"] == "no_model"
        held = await _held_event(http, last["id"])
        assert "8 buyers ordered to this address in 7 days" in held["data"]["risk"]["reasons"]
        # Nothing is cancelled by the score: the operator decides, and that is the label.
        first = orders[0]
        assert first["status"] != "on_hold" and first["risk"]["score"] < 70
        rejected = next(o for o in orders[:-1] if o["status"] == "on_hold")
        answer = await http.post(f"/v1/orders/{last['id']}/approve", json={"note": "known"})
        assert answer.status_code == 202, answer.text
        answer = await http.post(f"/v1/orders/{rejected['id']}/reject", json={"reason": "ring"})
        assert answer.status_code == 202, answer.text
        await wait_for_status(http, rejected["id"], {"cancelled"})
        await wait_for_status(http, last["id"], SETTLED - {"on_hold"})
        assert await risk_store.label(system.engine, last["id"]) == "genuine"
        assert await risk_store.label(system.engine, rejected["id"]) == "rejected"
        assert await risk_store.label(system.engine, first["id"]) is None

        # An ordinary order: its own buyer and address, an ordinary total: not held.
        body = order_body([(sku, 2, "24.90")], customer_id=unique("plain-"))
        body["shipping_address"]["line1"] = f"{unique('Lindenallee ')} 4"
        plain = await wait_for_status(http, (await submit(http, body))["id"], SETTLED)
        assert plain["status"] != "on_hold" and plain["risk"]["score"] < 70


async def test_oms_risk_train_stores_a_version_the_worker_then_scores_with(
    system: System, tmp_path: Path
):
    data = tmp_path / "train.jsonl"
    write_jsonl(data, generate(800, 31))
    args = argparse.Namespace(action="train", source=str(data), days=30.0, limit=1000, seed=0)
    try:
        assert await asyncio.to_thread(risk_command, args, system.settings) == 0
        version = await risk_store.active_version(system.engine)
        assert version is not None and version.startswith("v")
        async with custom_stack(system, "risk-model", {}, **RULES) as http:
            _, sku = await stocked(http, 10)
            body = order_body([(sku, 1, "19.90")], customer_id=unique("scored-"))
            body["shipping_address"]["line1"] = f"{unique('Bergstr. ')} 9"
            order = await wait_for_status(http, (await submit(http, body))["id"], SETTLED)
        assert order["risk"]["model_version"] == version
        assert all(r["code"] != "no_model" for r in order["risk"]["reasons"])
    finally:
        async with system.engine.begin() as conn:
            await conn.execute(text("DELETE FROM risk_models"))


_INSERT = text(
    "INSERT INTO orders (id, channel, external_id, request_hash, customer_id, status, "
    "last_seq, view, address_key, created_at, updated_at) VALUES (:id, :channel, :id, 'h', "
    ":customer, :status, 1, CAST(:view AS jsonb), :address, :at, :at)"
)


async def _insert(system: System, channel: str, views: list[dict[str, Any]]) -> None:
    """Generated orders as the read model holds them (the label taken off), with the
    normalised address their hold check would have recorded."""
    async with system.engine.begin() as conn:
        # As the import writer does: no KPI facts, SKU rows or events out for these rows.
        await conn.execute(text("SELECT set_config('oms.importing', 'on', true)"))
        for n, view in enumerate(views):
            view["id"] = f"{channel}-{n:04d}"
            view["channel"] = channel
            stored = {k: v for k, v in view.items() if k != "label"}
            params = {
                "id": view["id"],
                "channel": channel,
                "customer": view["customer"]["id"],
                "status": view.get("status", "delivered"),
                "view": json.dumps(stored),
                "address": from_view(stored).address,
                "at": datetime.fromisoformat(view["created_at"]),
            }
            await conn.execute(_INSERT, params)


async def _remove(system: System, views: list[dict[str, Any]]) -> None:
    ids = [v["id"] for v in views]
    async with system.engine.begin() as conn:
        for table in ("order_kpi_facts", "order_skus", "outbox_events", "orders"):
            column = "id" if table == "orders" else "order_id"
            await conn.execute(
                text(f"DELETE FROM {table} WHERE {column} = ANY(:ids)"), {"ids": ids}
            )


async def test_training_on_the_stored_orders_drops_the_rejected_from_the_genuine_pool(
    system: System,
):
    """Orders as the read model holds them (a generated set, placed in the last days), some
    approved and some rejected by an operator: the rejected ones are labelled fake and kept
    out of the pool the model is fitted on."""
    channel = unique("risk-train-")
    views = generate(400, 41, start=datetime.now(UTC) - timedelta(days=9), days=7)
    rejected = approved = 0
    for n, view in enumerate(views):
        label = view["label"]
        if label != "genuine" and n % 2 == 0:
            view["hold"] = {"reasons": ["risk_score"], "since": view["created_at"]}
            view["hold"]["decision"] = {"action": "reject", "by": "ops", "at": ""}
            view["status"], rejected = "cancelled", rejected + 1
        elif label == "genuine" and n % 40 == 0:
            view["hold"] = {"reasons": ["risk_score"], "since": view["created_at"]}
            view["hold"]["decision"] = {"action": "approve", "by": "ops", "at": ""}
            approved += 1
    await _insert(system, channel, views)
    assert rejected > 5 and approved > 3
    args = argparse.Namespace(action="train", source=None, days=10.0, limit=1_000_000, seed=0)
    try:
        assert await asyncio.to_thread(risk_command, args, system.settings) == 0
        async with system.engine.connect() as conn:
            metrics = (
                await conn.execute(text("SELECT metrics FROM risk_models ORDER BY trained_at"))
            ).scalar_one()
        assert metrics["source"] == "orders"
        assert metrics["labelled_fake"] >= rejected
        assert metrics["labelled_genuine"] >= approved
        assert metrics["genuine_pool"] == metrics["orders"] - metrics["labelled_fake"]
        assert metrics["orders"] >= len(views)
        assert 0 < metrics["training"]["recall"] <= 1
    finally:
        async with system.engine.begin() as conn:
            await conn.execute(text("DELETE FROM risk_models"))
            await _remove(system, views)


async def test_live_features_from_postgresql_equal_the_in_memory_ones(system: System):
    """The same gather and features over the orders table (live) and over an in-memory
    index of the same orders (evaluation) give the same features for every order."""
    channel = unique("risk-same-")
    views = generate(300, 43, start=datetime.now(UTC) - timedelta(days=9), days=3)
    await _insert(system, channel, views)
    try:
        offline = {r.id: r.features for r in await featurize(views)}
        source = risk_store.SqlSource(system.engine)
        for view in views:
            row = await risk_store.order_row(system.engine, view["id"])
            order = from_view(dict(row.view), at=row.created_at)
            assert features(order, await gather(order, source)) == offline[view["id"]], view["id"]
    finally:
        await _remove(system, views)
