"""What the risk score costs the hold check: a generated data set written to a database of
its own (embedded PostgreSQL), a model trained on it and stored, then the live score
(``RiskScorer.score``: the order's row, the bounded lookups, the features, the model) timed
for a sample of its orders.

    python -m devtools.bench.risk [--orders 20000] [--sample 500] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

INSERT = text(
    "INSERT INTO orders (id, channel, external_id, request_hash, customer_id, status, "
    "last_seq, view, address_key, created_at, updated_at) VALUES (:id, :channel, :id, 'h', "
    ":customer, 'delivered', 1, CAST(:view AS jsonb), :address, :at, :at)"
)


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


async def run_risk_bench(orders: int, sample: int, say: Any = print) -> dict[str, Any]:
    import pgserver

    from oms.db.engine import make_engine
    from oms.db.migrate import migrate
    from oms.risk.evaluate import featurize, is_fake
    from oms.risk.facts import from_view
    from oms.risk.generate import generate
    from oms.risk.model import dumps, train
    from oms.risk.scorer import RiskScorer
    from oms.settings import Settings
    from oms.store import risk as store

    data = tempfile.mkdtemp(prefix="oms-bench-risk-", dir="/tmp")
    server = pgserver.get_server(data, cleanup_mode="delete")
    engine = make_engine(Settings(database_url=server.get_uri()), pool_size=2)
    report: dict[str, Any] = {"orders": orders, "sample": sample}
    try:
        await migrate(engine)
        views = generate(orders, 7, start=datetime.now(UTC) - timedelta(days=15), days=14)
        say(f"writing {len(views):,} orders")
        async with engine.begin() as conn:
            await conn.execute(text("SELECT set_config('oms.importing', 'on', true)"))
            params = []
            for v in views:
                stored = {k: x for k, x in v.items() if k != "label"}
                params.append(
                    {
                        "id": v["id"],
                        "channel": v["channel"],
                        "customer": v["customer"]["id"],
                        "view": json.dumps(stored),
                        "address": from_view(stored).address,
                        "at": datetime.fromisoformat(v["created_at"]),
                    }
                )
            await conn.execute(INSERT, params)
            await conn.execute(text("ANALYZE orders"))
        say("training")
        rows = await featurize(views)
        model = train([r.features for r in rows if not is_fake(r.label)])
        version = await store.save_model(
            engine, datetime.now(UTC), list(model.features), model.params, {}, dumps(model)
        )
        scorer = RiskScorer(engine, recheck_s=3600)
        started = time.perf_counter()
        await scorer.model()
        report["model_load_s"] = round(time.perf_counter() - started, 2)
        step = max(1, len(views) // sample)
        chosen = [v["id"] for v in views[::step]][:sample]
        say(f"scoring {len(chosen)} orders")
        took = []
        for order_id in chosen:
            started = time.perf_counter()
            risk = await scorer.score(order_id)
            took.append(time.perf_counter() - started)
            assert risk is not None and risk.model_version == version
        report |= {
            "p50_ms": _ms(took, 0.50),
            "p95_ms": _ms(took, 0.95),
            "p99_ms": _ms(took, 0.99),
            "max_ms": round(1000 * max(took), 2),
            "mean_ms": round(1000 * statistics.mean(took), 2),
        }
    finally:
        await engine.dispose()
        server.cleanup()
    return report


def render(r: dict[str, Any]) -> str:
    return (
        f"live risk score on {r['orders']:,} orders ({r['sample']} scored): p50 {r['p50_ms']} ms, "
        f"p95 {r['p95_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms, mean "
        f"{r['mean_ms']} ms; first model load {r['model_load_s']} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--sample", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = asyncio.run(run_risk_bench(args.orders, args.sample))
    print(json.dumps(report, indent=2) if args.json else render(report))


if __name__ == "__main__":
    main()
