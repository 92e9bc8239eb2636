"""Features of a whole data set, the scores a model gives them, and the figures: precision
and recall of the holds at a threshold, the area under the precision-recall curve (average
precision), the share of genuine orders held, and the recall per ring kind.

The features come from the same ``gather`` and ``features`` as live scoring, over an
in-memory index of the data set (each order sees only the orders before it).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oms.domain.messages import RiskView
from oms.risk.facts import from_view
from oms.risk.features import features
from oms.risk.gather import gather
from oms.risk.generate import GENUINE
from oms.risk.memory import MemorySource
from oms.risk.model import TrainedModel
from oms.risk.score import risk_view


@dataclass
class Labelled:
    """One order's features and its label (``genuine``, ``ring:<kind>``, or ``None``)."""

    id: str
    features: dict[str, float]
    label: str | None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    out = []
    with path.open(encoding="utf-8") as lines:
        for n, line in enumerate(lines, 1):
            if line.strip():
                try:
                    found = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{n}: not JSON ({exc.msg})") from exc
                if not isinstance(found, dict):
                    raise ValueError(f"{path}:{n}: not an order (a JSON object)")
                out.append(found)
    return out


def write_jsonl(path: Path, orders: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for o in orders:
            out.write(json.dumps(o, ensure_ascii=False) + "\n")


async def featurize(views: list[dict[str, Any]]) -> list[Labelled]:
    facts = [from_view(v) for v in views]
    source = MemorySource(facts)
    out = []
    for view, order in zip(views, facts, strict=True):
        near = await gather(order, source)
        label = view.get("label")
        out.append(Labelled(order.id, features(order, near), label if label else None))
    return out


def is_fake(label: str | None) -> bool:
    return label is not None and label != GENUINE


def scores(rows: list[Labelled], model: TrainedModel | None, version: str | None) -> list[RiskView]:
    anomalies = model.anomalies([r.features for r in rows]) if model else [None] * len(rows)
    return [risk_view(r.features, model, version, a) for r, a in zip(rows, anomalies, strict=True)]


@dataclass
class Figures:
    threshold: int
    orders: int
    fake: int
    held: int
    precision: float
    recall: float
    genuine_held: float
    average_precision: float
    per_kind: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind: (held, of)

    def as_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "orders": self.orders,
            "fake": self.fake,
            "held": self.held,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "genuine_held": round(self.genuine_held, 4),
            "average_precision": round(self.average_precision, 4),
            "recall_per_kind": {k: round(h / n, 4) for k, (h, n) in self.per_kind.items()},
        }


def average_precision(labels: list[bool], values: list[float]) -> float:
    """Area under the precision-recall curve, as scikit-learn's ``average_precision_score``
    (ties broken by taking them together)."""
    positives = sum(labels)
    if positives == 0:
        return 0.0
    pairs = sorted(zip(values, labels, strict=True), key=lambda p: -p[0])
    area, hits, seen, last_recall, n = 0.0, 0, 0, 0.0, 0
    while n < len(pairs):
        value = pairs[n][0]
        while n < len(pairs) and pairs[n][0] == value:
            hits += pairs[n][1]
            seen += 1
            n += 1
        recall = hits / positives
        area += (recall - last_recall) * hits / seen
        last_recall = recall
    return area


def figures(rows: list[Labelled], views: list[RiskView], threshold: int) -> Figures:
    fakes = [is_fake(r.label) for r in rows]
    held = [v.score >= threshold for v in views]
    true_pos = sum(1 for f, h in zip(fakes, held, strict=True) if f and h)
    genuine = len(rows) - sum(fakes)
    per_kind: dict[str, list[int]] = {}
    for r, h in zip(rows, held, strict=True):
        if is_fake(r.label):
            kind = (r.label or "").removeprefix("ring:")
            per_kind.setdefault(kind, [0, 0])
            per_kind[kind][0] += int(h)
            per_kind[kind][1] += 1
    # Ties among equal scores: the model's anomaly orders within a score.
    return Figures(
        threshold=threshold,
        orders=len(rows),
        fake=sum(fakes),
        held=sum(held),
        precision=true_pos / sum(held) if sum(held) else 0.0,
        recall=true_pos / sum(fakes) if sum(fakes) else 0.0,
        genuine_held=(sum(held) - true_pos) / genuine if genuine else 0.0,
        average_precision=average_precision(fakes, [float(v.score) for v in views]),
        per_kind={k: (v[0], v[1]) for k, v in sorted(per_kind.items())},
    )


def lowest_threshold(rows: list[Labelled], views: list[RiskView], genuine_held: float) -> int:
    """The lowest score threshold that holds at most ``genuine_held`` of the genuine orders."""
    genuine = sorted((v.score for r, v in zip(rows, views, strict=True) if not is_fake(r.label)))
    if not genuine:
        return 0
    allowed = int(genuine_held * len(genuine))
    for threshold in range(0, 102):
        if sum(1 for s in genuine if s >= threshold) <= allowed:
            return threshold
    return 101


def render(f: Figures) -> str:
    lines = [
        f"orders {f.orders}, fake {f.fake}, held at score >= {f.threshold}: {f.held}",
        f"  precision {f.precision:.3f}  recall {f.recall:.3f}  genuine held "
        f"{100 * f.genuine_held:.2f} %  average precision (PR AUC) {f.average_precision:.3f}",
    ]
    for kind, (held, of) in f.per_kind.items():
        lines.append(f"  recall ring:{kind:<11} {held / of:.3f}  ({held} of {of})")
    return "\n".join(lines)


def label_counts(rows: list[Labelled]) -> dict[str, int]:
    return dict(Counter(r.label or "unlabelled" for r in rows))
