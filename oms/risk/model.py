"""The unsupervised part of the score: an isolation forest (scikit-learn) over the feature
vectors of genuine orders, its anomaly score mapped to points.

Why an isolation forest: brushing is rare, labels are few and late (an operator's
decision), and rings change shape; a forest of random splits isolates orders whose
combination of counts is unlike the bulk in few splits, needs no labels, scores one order in
milliseconds, and its training is cheap enough to redo every day. It is fitted on the
*genuine pool*: the training orders minus those known to be fake (a generated ring, or an
order an operator rejected).

Calibration: the anomaly scores of the genuine pool give the mapping to points. Nothing
below the pool's ``LOW_Q`` quantile earns points; from there up to its ``HIGH_Q`` quantile
the points grow linearly to ``MODEL_POINTS``. The pool's percentiles are kept too, to say
in words how unusual an order is.

scikit-learn is imported inside the functions that need it (training, loading a model), so
importing this module costs nothing.
"""

from __future__ import annotations

import math
import pickle
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

from oms.domain.messages import RiskReason

MODEL_POINTS = 40
LOW_Q = 0.97
HIGH_Q = 0.999
# Account age when unknown: as an established account (an unknown is not a risk).
UNKNOWN_AGE_DAYS = 365.0

MODEL_FEATURES: tuple[str, ...] = (
    "buyer_orders_1h",
    "buyer_orders_24h",
    "buyer_orders_7d",
    "address_orders_24h",
    "address_orders_7d",
    "phone_orders_7d",
    "device_orders_7d",
    "ip_orders_24h",
    "buyers_at_address_7d",
    "addresses_of_buyer_7d",
    "buyers_of_phone_7d",
    "addresses_of_phone_7d",
    "buyers_of_device_7d",
    "buyers_of_ip_24h",
    "account_age_days",
    "total",
    "amount_vs_median",
    "same_amount_others_7d",
    "cheap_quantity",
    "shop_concentration",
    "buyer_shop_orders_1h",
    "locker",
    "incomplete",
    "component_buyers",
    "young_linked_buyers",
)


def vector(f: dict[str, float]) -> list[float]:
    """The model's input: counts and amounts on a log scale, the account's age capped at
    a year."""
    out = []
    for name in MODEL_FEATURES:
        value = f[name]
        if name == "account_age_days":
            value = UNKNOWN_AGE_DAYS if value < 0 else min(value, UNKNOWN_AGE_DAYS)
        out.append(math.log1p(max(value, 0.0)))
    return out


@dataclass
class TrainedModel:
    forest: Any
    features: tuple[str, ...]
    low: float  # anomaly at the genuine pool's LOW_Q quantile
    high: float  # ... and at HIGH_Q
    percentiles: list[float] = field(default_factory=list)  # the pool's 0..100th percentiles
    params: dict[str, Any] = field(default_factory=dict)

    def anomalies(self, rows: list[dict[str, float]]) -> list[float]:
        """Higher is more unusual (the forest's ``score_samples``, negated)."""
        import numpy as np

        if not rows:
            return []
        matrix = np.asarray([vector(f) for f in rows], dtype=float)
        return [float(-s) for s in self.forest.score_samples(matrix)]

    def points(self, anomaly: float) -> int:
        if self.high <= self.low:
            return MODEL_POINTS if anomaly > self.high else 0
        share = (anomaly - self.low) / (self.high - self.low)
        return round(MODEL_POINTS * min(1.0, max(0.0, share)))

    def percentile(self, anomaly: float) -> float:
        """The share (0-100) of the genuine pool less unusual than ``anomaly``."""
        if not self.percentiles:
            return 0.0
        return 100.0 * bisect_left(self.percentiles, anomaly) / len(self.percentiles)

    def reason(self, anomaly: float) -> RiskReason | None:
        points = self.points(anomaly)
        if points <= 0:
            return None
        words = (
            f"the model finds it more unusual than {self.percentile(anomaly):.1f} % of "
            "genuine orders"
        )
        return RiskReason("model_anomaly", words, points)


def train(
    genuine: list[dict[str, float]], seed: int = 0, trees: int = 100, sample: int = 512
) -> TrainedModel:
    """Fit the forest on the genuine pool's features and calibrate its points."""
    import numpy as np
    from sklearn.ensemble import IsolationForest

    if len(genuine) < 50:
        raise ValueError(f"{len(genuine)} genuine orders to train on: at least 50 are needed")
    matrix = np.asarray([vector(f) for f in genuine], dtype=float)
    params: dict[str, Any] = {
        "n_estimators": trees,
        "max_samples": min(sample, len(genuine)),
        "random_state": seed,
    }
    forest = IsolationForest(**params).fit(matrix)
    anomalies = np.sort(-forest.score_samples(matrix))
    percentiles = [float(x) for x in np.quantile(anomalies, np.linspace(0, 1, 1001))]
    low, high = (float(x) for x in np.quantile(anomalies, [LOW_Q, HIGH_Q]))
    import sklearn

    params |= {"sklearn": sklearn.__version__, "low_q": LOW_Q, "high_q": HIGH_Q}
    return TrainedModel(forest, MODEL_FEATURES, low, high, percentiles, params)


def dumps(model: TrainedModel) -> bytes:
    """The model as stored (``risk_models.model``): written and read by this code only."""
    return pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> TrainedModel:
    # Only bytes this code wrote to the risk_models table are ever loaded.
    model = pickle.loads(data)
    if not isinstance(model, TrainedModel):
        raise ValueError("not a risk model")
    return model
