"""``oms risk``: the fake-order risk score's data, model and figures
(docs/intelligence-risk.md).

    oms risk generate --orders N --seed S --out F.jsonl [--rings K,...] [--ring-share X]
    oms risk train [--from F.jsonl] [--days D] [--limit N] [--seed S]
    oms risk evaluate --data F.jsonl [--threshold N] [--train-on F.jsonl | --rules-only]
    oms risk models

``generate`` writes a labelled data set (no database). ``train`` fits a model on the stored
orders of the last D days (labels from the operators' hold decisions) or on a file, and
stores it as a new version, which every worker then uses. ``evaluate`` scores a labelled
file with the newest stored model, with a model trained in memory on another file
(``--train-on``, no database), or with the rule points alone, and prints precision, recall,
the genuine orders held, the average precision and the recall per ring kind. Exit 0 done;
2 a bad option or file, or the database cannot be used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from oms.operator_cli import CommandError
from oms.settings import Settings

DEFAULT_THRESHOLD = 65


def add_parser(sub: Any) -> None:
    risk = sub.add_parser(
        "risk", help="fake-order risk: generate data, train the model, evaluate it"
    ).add_subparsers(dest="action", required=True)
    gen = risk.add_parser("generate", help="a labelled data set of orders (JSON lines)")
    gen.add_argument("--orders", type=int, required=True, metavar="N")
    gen.add_argument("--seed", type=int, required=True, metavar="S")
    gen.add_argument("--out", required=True, metavar="F.jsonl")
    gen.add_argument("--rings", help="ring kinds, comma separated (default: all)")
    gen.add_argument("--ring-share", type=float, default=0.05, metavar="X")
    gen.add_argument("--days", type=int, default=14, metavar="D")
    train = risk.add_parser("train", help="train a model and store it as a new version")
    train.add_argument("--from", dest="source", metavar="F.jsonl", help="a file, not the orders")
    train.add_argument("--days", type=float, default=30.0, metavar="D")
    train.add_argument("--limit", type=int, default=50_000, metavar="N")
    train.add_argument("--seed", type=int, default=0, metavar="S")
    ev = risk.add_parser("evaluate", help="precision, recall and PR AUC on a labelled file")
    ev.add_argument("--data", required=True, metavar="F.jsonl")
    ev.add_argument("--threshold", type=int, metavar="N", help="hold at or over (default 65)")
    which = ev.add_mutually_exclusive_group()
    which.add_argument("--train-on", metavar="F.jsonl", help="train in memory on this file")
    which.add_argument("--rules-only", action="store_true", help="the rule points alone")
    ev.add_argument("--json", action="store_true", help="the figures as JSON")
    risk.add_parser("models", help="the stored model versions")


def _read(path: str) -> list[dict[str, Any]]:
    from oms.risk.evaluate import read_jsonl

    try:
        return read_jsonl(Path(path))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CommandError(f"{path}: {exc}", status=2) from exc


def _generate(args: argparse.Namespace) -> str:
    from oms.risk.evaluate import write_jsonl
    from oms.risk.generate import RING_KINDS, generate

    rings = tuple(k.strip() for k in args.rings.split(",") if k.strip()) if args.rings else None
    try:
        orders = generate(args.orders, args.seed, rings or RING_KINDS, args.ring_share, args.days)
        write_jsonl(Path(args.out), orders)
    except ValueError as exc:
        raise CommandError(str(exc), status=2) from exc
    except OSError as exc:
        raise CommandError(f"{args.out}: {exc}", status=2) from exc
    fake = sum(1 for o in orders if o["label"] != "genuine")
    return f"{args.out}: {len(orders)} orders, {fake} from rings ({', '.join(rings or RING_KINDS)})"


async def _fit(views: list[dict[str, Any]], seed: int) -> tuple[Any, dict[str, Any]]:
    """A model on the genuine pool of ``views`` (every order not labelled fake), and the
    training figures its labels allow."""
    from oms.risk.evaluate import featurize, figures, is_fake, lowest_threshold, scores
    from oms.risk.model import train

    rows = await featurize(views)
    genuine = [r.features for r in rows if not is_fake(r.label)]
    try:
        model = train(genuine, seed=seed)
    except ValueError as exc:
        raise CommandError(str(exc), status=2) from exc
    metrics: dict[str, Any] = {
        "orders": len(rows),
        "genuine_pool": len(genuine),
        "labelled_fake": sum(1 for r in rows if is_fake(r.label)),
        "labelled_genuine": sum(1 for r in rows if r.label == "genuine"),
    }
    if metrics["labelled_fake"]:
        views_ = scores(rows, model, "training")
        metrics["training"] = figures(rows, views_, DEFAULT_THRESHOLD).as_dict()
        metrics["threshold_for_1pct_genuine_held"] = lowest_threshold(rows, views_, 0.01)
    return model, metrics


async def _train(settings: Settings, args: argparse.Namespace) -> str:
    from oms.channels_cli import _with_engine
    from oms.risk.model import dumps
    from oms.store import risk as store

    started = time.monotonic()
    if args.source:
        views = _read(args.source)
        origin = args.source
    else:
        since = datetime.now(UTC) - timedelta(days=args.days)

        async def load(engine: Any) -> list[Any]:
            return await store.training_orders(engine, since, args.limit)

        rows = await _with_engine(settings, load)
        views = [
            {**dict(r.view), "id": r.id, "created_at": r.created_at.isoformat(), "label": r.label}
            for r in rows
        ]
        origin = f"the orders of the last {args.days:g} days"
    model, metrics = await _fit(views, args.seed)
    metrics["source"] = "file" if args.source else "orders"

    async def save(engine: Any) -> str:
        return await store.save_model(
            engine, datetime.now(UTC), list(model.features), model.params, metrics, dumps(model)
        )

    version = await _with_engine(settings, save)
    lines = [
        f"model {version} stored: trained on {metrics['genuine_pool']} genuine orders of "
        f"{metrics['orders']} from {origin} in {time.monotonic() - started:.1f} s"
    ]
    if "training" in metrics:
        t = metrics["training"]
        lines.append(
            f"  on its own data at {DEFAULT_THRESHOLD}: recall {t['recall']:.3f}, genuine held "
            f"{100 * t['genuine_held']:.2f} %, average precision {t['average_precision']:.3f}; "
            f"lowest threshold holding <= 1 % of genuine orders: "
            f"{metrics['threshold_for_1pct_genuine_held']}"
        )
    return "\n".join(lines)


async def _evaluate(settings: Settings, args: argparse.Namespace) -> str:
    from oms.risk.evaluate import featurize, figures, render, scores

    threshold = args.threshold
    if threshold is None:
        threshold = settings.risk_hold_score or DEFAULT_THRESHOLD
    if not 0 < threshold <= 100:
        raise CommandError("--threshold: 1 to 100", status=2)
    views = _read(args.data)
    if not any(v.get("label") for v in views):
        raise CommandError(f"{args.data}: no order has a label", status=2)
    model: Any = None
    version: str | None = None
    if args.train_on:
        model, _ = await _fit(_read(args.train_on), 0)
        version = f"trained on {Path(args.train_on).name}"
    elif not args.rules_only:
        version, model = await _stored_model(settings)
    started = time.monotonic()
    rows = await featurize(views)
    found = figures(rows, scores(rows, model, version), threshold)
    took = time.monotonic() - started
    if args.json:
        return json.dumps({**found.as_dict(), "model": version}, indent=2)
    head = f"model: {version or 'none (rule points alone)'}; scored in {took:.1f} s"
    return head + "\n" + render(found)


async def _stored_model(settings: Settings) -> tuple[str | None, Any]:
    from oms.channels_cli import _with_engine
    from oms.risk.scorer import RiskScorer

    async def load(engine: Any) -> tuple[str | None, Any]:
        return await RiskScorer(engine).model()

    version, model = await _with_engine(settings, load)
    if model is None:
        raise CommandError(
            "no model stored yet: oms risk train, or evaluate with --train-on F.jsonl "
            "or --rules-only",
            status=2,
        )
    return version, model


async def _models(settings: Settings) -> str:
    from oms.channels_cli import _with_engine
    from oms.store import risk as store

    rows = await _with_engine(settings, store.models)
    if not rows:
        return "no model stored yet (oms risk train)"
    lines = []
    for r in rows:
        m = r.metrics or {}
        lines.append(
            f"{r.version}  trained {r.trained_at.isoformat(timespec='seconds')}  "
            f"{'active' if r.active else 'inactive'}  {m.get('genuine_pool', '?')} genuine "
            f"orders from {m.get('source', '?')}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace, settings: Settings | None) -> int:
    from sqlalchemy.exc import DBAPIError

    try:
        if args.action == "generate":
            out = _generate(args)
        else:
            assert settings is not None
            if args.action == "train":
                out = asyncio.run(_train(settings, args))
            elif args.action == "evaluate":
                out = asyncio.run(_evaluate(settings, args))
            else:
                out = asyncio.run(_models(settings))
    except CommandError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exc.status
    except (OSError, DBAPIError) as exc:
        sys.stderr.write(f"error: could not reach the database: {exc}\n")
        return 2
    print(out)
    return 0
